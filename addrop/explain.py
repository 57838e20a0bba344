"""What AD-DROP would do to one input: maps, candidate region and dropped positions, per layer and head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from addrop.attribution import attribute
from addrop.hooks import attach
from addrop.masking import discard_masks


@dataclass
class Explanation:
    """Maps are ``[len(layers), heads, n, n]`` for the single input (rows: queries, columns: keys)."""

    tokens: list[str]
    special: list[bool]  # special tokens ([CLS], [SEP], <s>, ...)
    segments: list[int]  # 0 for the first sentence, 1 for the second
    truncated: bool
    label_names: list[str]
    probabilities: list[float]
    prediction: int
    pseudo_label: int | None
    target: str
    method: str
    mode: str
    p: float
    q: float
    seed: int
    layers: tuple[int, ...]
    attention: torch.Tensor
    attribution: torch.Tensor
    candidate: torch.Tensor
    dropped: torch.Tensor


def encode(
    tokenizer: PreTrainedTokenizerBase, text: str, text_pair: str | None, max_length: int
) -> tuple[dict[str, torch.Tensor], bool]:
    """Tokenise one input (pair) to at most ``max_length`` tokens; also says whether it was truncated."""
    full = tokenizer(text, text_pair, truncation=False)
    encoded = tokenizer(text, text_pair, truncation=True, max_length=max_length, return_tensors="pt")
    return dict(encoded), len(full["input_ids"]) > encoded["input_ids"].shape[1]


def explain(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    text_pair: str | None = None,
    *,
    method: str = "GA",
    layers: tuple[int, ...] | None = None,
    p: float = 0.3,
    q: float = 0.2,
    mode: str = "high",
    seed: int = 0,
    steps: int = 20,
    max_length: int = 128,
) -> Explanation:
    """Attribute one input in eval mode and draw the AD-DROP masks with a seeded generator.

    ``layers=None`` means every layer.  The masks depend only on the attribution, p, q, mode and seed,
    so callers can redraw them cheaply with :func:`addrop.masking.discard_masks`.
    """
    if not text or not text.strip():
        raise ValueError("the text is empty")
    if text_pair is not None and not text_pair.strip():
        text_pair = None
    hooks = attach(model)
    layers = tuple(range(hooks.num_layers)) if layers is None else hooks.check_layers(tuple(layers))
    inputs, truncated = encode(tokenizer, text, text_pair, max_length)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    model.eval()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    result = attribute(model, inputs, method, layers, steps=steps, generator=generator)
    candidate, dropped = discard_masks(result.attribution, inputs["attention_mask"], p, q, mode, generator)
    logits = result.logits[0]
    probabilities = torch.softmax(logits.float(), -1) if logits.shape[-1] > 1 else logits.float()
    ids = inputs["input_ids"][0].tolist()
    special_ids = set(tokenizer.all_special_ids)
    segments = inputs.get("token_type_ids")
    if segments is None:
        segments = _segments_from_separators(ids, tokenizer)
    else:
        segments = segments[0].tolist()
    id2label = getattr(model.config, "id2label", None) or {}
    return Explanation(
        tokens=tokenizer.convert_ids_to_tokens(ids),
        special=[i in special_ids for i in ids],
        segments=segments,
        truncated=truncated,
        label_names=[str(id2label.get(i, i)) for i in range(logits.shape[-1])],
        probabilities=probabilities.tolist(),
        prediction=int(logits.argmax()),
        pseudo_label=int(result.pseudo_labels[0]) if result.pseudo_labels is not None else None,
        target=result.target,
        method=method.upper(),
        mode=mode,
        p=p,
        q=q,
        seed=seed,
        layers=layers,
        attention=result.attention[:, 0].float().cpu(),
        attribution=result.attribution[:, 0].float().cpu(),
        candidate=candidate[:, 0].cpu(),
        dropped=dropped[:, 0].cpu(),
    )


def _segments_from_separators(ids: list[int], tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Segment ids for tokenizers without token types (RoBERTa): 1 after the first separator run."""
    sep = tokenizer.sep_token_id
    segments, segment, seen_sep = [], 0, False
    for token in ids:
        if token == sep:
            seen_sep = True
        elif seen_sep:
            segment, seen_sep = 1, False
        segments.append(segment)
    return segments
