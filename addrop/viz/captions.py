"""What a figure says it is: model, input (first words), layer, head, method, p, q, mode and seed, in its title and
in a file name made from the same facts."""

from __future__ import annotations

import re

from addrop.explain import Explanation


def first_words(view: Explanation, count: int = 6) -> str:
    """The input's first ``count`` words, from its tokens (wordpieces joined, special tokens left out; the
    tokenizer's lower-casing stays)."""
    words: list[str] = []
    for token, special in zip(view.tokens, view.special):
        if special:
            continue
        piece = token.removeprefix("##")
        # a wordpiece continues its word, and punctuation sticks to the word before it
        if words and (token.startswith("##") or all(not c.isalnum() for c in piece)):
            words[-1] += piece
        else:
            words.append(piece.lstrip("Ġ▁"))
    shown = " ".join(words[:count])
    return shown + ("…" if len(words) > count else "")


def setting(view: Explanation) -> str:
    """The AD-DROP setting the masks were drawn with."""
    return f"{view.method} · p={view.p:g}, q={view.q:g}, {view.mode} · seed {view.seed}"


def title(view: Explanation, model: str, where: str) -> str:
    """The figure's title: model, input, where in the model (layer, head...), method, p, q, seed."""
    return f"{model} · “{first_words(view)}” · {where} · {setting(view)}"


def file_name(view: Explanation, model: str, what: str, where: str) -> str:
    """A file name (no extension) that tells two figures of different models, inputs or settings apart."""
    words = re.sub(r"[^A-Za-z0-9]+", "-", first_words(view, 4)).strip("-").lower()
    parts = ["addrop", what, model, words, where, view.method, f"p{view.p:g}", f"q{view.q:g}", view.mode, f"seed{view.seed}"]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts))
