"""What a figure says it is: model, input (first words), layer, head, method, p, q, mode and seed, in its title and
in a file name made from the same facts, by the caption rules of the figures' definition (the explorer's
captions.js fills the same ones)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from addrop.explain import Explanation
from addrop.explain_seq2seq import TranslationExplanation
from addrop.figure_style import figure_style

View = Explanation | TranslationExplanation
WORD_START = ("Ġ", "▁")  # how byte-level BPE and SentencePiece mark a piece that begins a word
# Punctuation that reads as part of the word before it (or, for openers, the word after it; joiners, both: "cat's",
# "well-known"): the tokenisers split it off, so without these "years , appearing" would read as two gaps (the
# explorer's words.js CLOSES, OPENS and JOINS).
CLOSES = re.compile(r"[.,;:!?%)\]}]+")
OPENS = re.compile(r"[(\[{]+")
JOINS = re.compile(r"['’-]+")


def first_words(view: View, count: int = 6) -> str:
    """The input's first ``count`` words, from its tokens (wordpieces joined, special tokens left out; the
    tokenizer's lower-casing stays); a translation's input is its source sentence."""
    if isinstance(view, TranslationExplanation):
        return words_of(view.source_tokens, view.source_special, count)
    return words_of(view.tokens, view.special, count)


def words_of(tokens: list[str], special: list[bool], count: int) -> str:
    """The first ``count`` words of ``tokens`` as the text view runs them (:func:`join_words`, special tokens left
    out): a word without a space before it (punctuation) stays with its neighbour (the explorer's captions.js
    firstWords)."""
    words: list[str] = []
    for word in join_words(tokens, special):
        if word.special:
            continue
        if words and not word.gap:
            words[-1] += word.text
        else:
            words.append(word.text)
    shown = " ".join(words[:count])
    return shown + ("…" if len(words) > count else "")


@dataclass
class Word:
    """A word of the input as running text: its tokens' indices, each token's text with its marker dropped, and
    whether a space goes before it (``gap``)."""

    tokens: list[int]
    texts: list[str]
    special: bool
    gap: bool = True

    @property
    def text(self) -> str:
        return "".join(self.texts)


def piece_text(token: str, marked: bool) -> str:
    """The text a token shows: its word-start marker (``marked``) or its continuation marker ``##`` dropped."""
    if marked:
        return token[1:] if token.startswith(WORD_START) else token
    return token[2:] if token.startswith("##") and len(token) > 2 else token


def join_words(tokens: list[str], special: list[bool], segments: list[int] | None = None) -> list[Word]:
    """``tokens`` as words, each a run of token indices: the one way pieces become words, for the text view and the
    titles alike (the explorer's words.js joinWords).  A wordpiece ``##`` continues its word where the tokenizer
    marks continuations, any unmarked piece where it marks a word's start (SentencePiece, byte-level BPE); a special
    token is a word of its own, and no word runs across a change of ``segments`` (a sentence pair's second
    sentence).  No space goes before closing punctuation, after an opener, or either side of an apostrophe or a
    hyphen (``gap``)."""
    marked = any(token.startswith(WORD_START) for token, is_special in zip(tokens, special) if not is_special)
    words: list[Word] = []
    opened_before = False
    for i, (token, is_special) in enumerate(zip(tokens, special)):
        text = piece_text(token, marked)
        new_segment = segments is not None and i > 0 and segments[i] != segments[i - 1]
        continues = (not is_special and bool(words) and not new_segment and not words[-1].special
                     and (not token.startswith(WORD_START) if marked else token.startswith("##") and len(token) > 2))
        if continues:
            words[-1].tokens.append(i)
            words[-1].texts.append(text)
            opened_before = False  # the word no longer ends in an opener: "(the" then "red" are two words
            continue
        joins = bool(JOINS.fullmatch(text))
        closes = (bool(CLOSES.fullmatch(text)) or joins) and not is_special and bool(words) and not words[-1].special
        words.append(Word([i], [text], is_special, gap=i > 0 and not new_segment and not opened_before and not closes))
        opened_before = not is_special and (bool(OPENS.fullmatch(text)) or joins)
    return words


def _facts(view: View, model: str, where: str) -> dict[str, str]:
    return {"model": model, "where": where, "method": view.method, "p": format(view.p, "g"), "q": format(view.q, "g"),
            "mode": view.mode, "seed": str(view.seed)}


def plotly_text(text: str) -> str:
    """``text`` shown literally by Plotly, which reads a subset of HTML in titles, labels and hover text: markup
    characters become references, quotes numeric ones (Plotly decodes those, not ``&quot;``), as the pages'
    ``escapeHtml`` does (frontend/static/js/common/html.js)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def title(view: View, model: str, where: str) -> str:
    """The figure's title (Plotly text): model, input, where in the model (layer, head...), method, p, q, seed."""
    caption = figure_style()["caption"]
    return plotly_text(caption["title"].format(**_facts(view, model, where),
                                               words=first_words(view, caption["title_words"])))


def file_name(view: View, model: str, what: str, where: str) -> str:
    """A file name (no extension) that tells two figures of different models, inputs or settings apart; ``where``
    in short, e.g. ``L0-h3``."""
    caption = figure_style()["caption"]
    words = re.sub(r"[^A-Za-z0-9]+", "-", first_words(view, caption["file_name_words"])).strip("-").lower()
    facts = {**_facts(view, model, where), "what": what, "words": words}
    parts = [part.format(**facts) for part in caption["file_name"]]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", caption["file_name_joiner"].join(parts))
