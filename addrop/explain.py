"""What AD-DROP would do to one input: maps, candidate region and dropped positions, per layer and head.

Two steps, so that an interactive view can move p, q, the mode or the seed without a new forward pass:
:func:`attribute_text` runs the model (the expensive part) and :func:`draw_masks` draws the masks from
its attribution.  :func:`explain` does both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from addrop.attribution import SPECIAL_TOKENS_MASK, attribute, method_name
from addrop.hooks import attach
from addrop.masking import discard_masks
from addrop.streams import DROP_STREAM, MAX_SEED, NOISE_STREAM, layer_stream, stream_generator


class LayerMaps:
    """Selecting and merging layers of a view whose ``attention`` and ``attribution`` are stacked by ``layers``."""

    layers: tuple[int, ...]
    attention: torch.Tensor
    attribution: torch.Tensor

    @property
    def nbytes(self) -> int:
        """Memory the maps hold: each storage behind ``attention`` and ``attribution`` once, whole (a view keeps
        its whole storage alive; AA's two maps may be one tensor)."""
        storages = (tensor.untyped_storage() for tensor in (self.attention, self.attribution))
        return sum({storage.data_ptr(): storage.nbytes() for storage in storages}.values())

    def select(self, layers: tuple[int, ...]) -> Self:
        """The same view restricted to ``layers`` (each must be present)."""
        index = [self.layers.index(layer) for layer in layers]
        return replace(self, layers=tuple(layers), attention=self.attention[index], attribution=self.attribution[index])

    def merge(self, other: Self) -> Self:
        """This view with ``other``'s layers added (both of the same input, model, method and kind)."""
        extra = [i for i, layer in enumerate(other.layers) if layer not in self.layers]
        if not extra:
            return self
        layers = self.layers + tuple(other.layers[i] for i in extra)
        order = sorted(range(len(layers)), key=layers.__getitem__)
        attention = torch.cat([self.attention, other.attention[extra]])[order]
        attribution = torch.cat([self.attribution, other.attribution[extra]])[order]
        return replace(self, layers=tuple(layers[i] for i in order), attention=attention, attribution=attribution)


@dataclass
class InputAttribution(LayerMaps):
    """The model's view of one input; maps are ``[len(layers), heads, n, n]`` (rows: queries, columns: keys)."""

    tokens: list[str]
    special: list[bool]  # special tokens ([CLS], [SEP], <s>, ...)
    segments: list[int]  # 0 for the first sentence, 1 for the second
    truncated: bool
    label_names: list[str]
    # softmax of the logits (the raw value for a one-output regression head); empty for a token classifier
    probabilities: list[float]
    prediction: int | None  # None for a token classifier, which predicts per token (token_predictions)
    pseudo_label: int | None
    target: str  # "logit" (pseudo-label logit), "loss" (negative loss) or "pseudo_loss" (per-token pseudo labels)
    method: str
    steps: int
    layers: tuple[int, ...]
    attention: torch.Tensor
    attribution: torch.Tensor
    causal: bool = False  # a decoder's: query i attends only keys j <= i, so draw_masks needs to know
    # A token classifier's predicted label of each token, which is its pseudo label, and that label's
    # probability; None for special tokens (they are not attributed) and for sequence-level models.
    token_predictions: list[int | None] | None = None
    token_probabilities: list[float | None] | None = None

    @property
    def head_trained(self) -> bool:
        """False when the model has no named labels: a base encoder whose classification head is new."""
        return not all(name.startswith("LABEL_") for name in self.label_names)


@dataclass
class Explanation(InputAttribution):
    """An :class:`InputAttribution` with the AD-DROP masks drawn for p, q, mode and seed."""

    mode: str = "high"
    p: float = 0.3
    q: float = 0.2
    seed: int = 0
    candidate: torch.Tensor | None = None
    dropped: torch.Tensor | None = None


def encode(
    tokenizer: PreTrainedTokenizerBase, text: str, text_pair: str | None, max_length: int
) -> tuple[dict[str, torch.Tensor], bool]:
    """Tokenise one input (pair) to at most ``max_length`` tokens; also says whether it was truncated."""
    full = tokenizer(text, text_pair, truncation=False)
    encoded = tokenizer(text, text_pair, truncation=True, max_length=max_length, return_tensors="pt")
    return dict(encoded), len(full["input_ids"]) > encoded["input_ids"].shape[1]


def attribute_text(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    text_pair: str | None = None,
    *,
    method: str = "GA",
    layers: tuple[int, ...] | None = None,
    steps: int = 20,
    max_length: int = 128,
    seed: int = 0,
) -> InputAttribution:
    """Attribute one input (pair) in eval mode; ``layers=None`` means every layer.

    ``seed`` matters only for ``RD``, whose attribution is random noise: layer ``l``'s comes from
    ``stream_generator(seed, NOISE_STREAM, l)``, a stream apart from every layer's drops.
    """
    if not text or not text.strip():
        raise ValueError("the text is empty")
    method = method_name(method)
    if text_pair is not None and not text_pair.strip():
        text_pair = None
    hooks = attach(model)
    layers = tuple(range(hooks.num_layers())) if layers is None else hooks.check_layers(tuple(layers))
    inputs, truncated = encode(tokenizer, text, text_pair, max_length)
    ids = inputs["input_ids"][0].tolist()
    special_ids = set(tokenizer.all_special_ids)
    special = [i in special_ids for i in ids]
    # a token classifier's pseudo labels leave the special tokens out
    inputs[SPECIAL_TOKENS_MASK] = torch.tensor([special])
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    model.eval()
    generators = [stream_generator(seed, NOISE_STREAM, layer) for layer in layers] if method == "RD" else None
    result = attribute(model, inputs, method, layers, steps=steps, generator=generators)
    logits = result.logits[0].float()
    per_token = logits.dim() == 2  # [n, classes]: a token classifier
    probabilities = torch.softmax(logits, -1) if logits.shape[-1] > 1 else logits
    token_predictions = token_probabilities = None
    if per_token:
        predicted = logits.argmax(-1)
        top = probabilities.gather(-1, predicted.unsqueeze(-1)).squeeze(-1)
        token_predictions = [None if s else c for s, c in zip(special, predicted.tolist())]
        token_probabilities = [None if s else t for s, t in zip(special, top.tolist())]
    segments = inputs.get("token_type_ids")
    segments = _segments_from_separators(ids, tokenizer) if segments is None else segments[0].tolist()
    id2label = getattr(model.config, "id2label", None) or {}
    return InputAttribution(
        tokens=tokenizer.convert_ids_to_tokens(ids),
        special=special,
        segments=segments,
        truncated=truncated,
        label_names=[str(id2label.get(i, i)) for i in range(logits.shape[-1])],
        probabilities=[] if per_token else probabilities.tolist(),
        prediction=None if per_token else int(logits.argmax()),
        pseudo_label=int(result.pseudo_labels[0]) if result.pseudo_labels is not None and not per_token else None,
        target=result.target,
        method=method,
        steps=steps,
        layers=layers,
        attention=result.attention[:, 0].float().cpu(),
        attribution=result.attribution[:, 0].float().cpu(),
        causal=hooks.is_causal(),
        token_predictions=token_predictions,
        token_probabilities=token_probabilities,
    )


def draw_masks(
    attribution: torch.Tensor,
    layers: tuple[int, ...],
    p: float,
    q: float,
    mode: str = "high",
    seed: int = 0,
    causal: bool = False,
    kind: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(candidate, dropped)`` for one input's ``[len(layers), heads, t, n]`` attribution (``t == n`` but for
    cross-attention; ``causal``: the view's, for a decoder's self-attention).

    Layer ``l`` draws from its own stream, ``stream_generator(seed, DROP_STREAM, layer_stream(l, kind))``:
    independent of the other layers' (of every kind) and of RD's noise, and the same whichever other layers are
    drawn with it; ``kind`` names an encoder-decoder's kind of map, None a one-stack model's.
    """
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {seed}")
    # one unpadded input: every row and every key is real (rows named apart, for a map that is not square)
    keys = torch.ones(1, attribution.shape[-1], dtype=torch.long)
    rows = torch.ones(1, attribution.shape[-2], dtype=torch.long)
    candidates, drops = [], []
    for index, layer in enumerate(layers):
        generator = stream_generator(seed, DROP_STREAM, layer_stream(layer, kind))
        candidate, dropped = discard_masks(
            attribution[index : index + 1].unsqueeze(1), keys, p, q, mode, generator, causal=causal, query_mask=rows
        )
        candidates.append(candidate[0, 0])
        drops.append(dropped[0, 0])
    return torch.stack(candidates), torch.stack(drops)


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
    """Attribute one input in eval mode and draw the AD-DROP masks (see :func:`draw_masks`)."""
    view = attribute_text(
        model, tokenizer, text, text_pair, method=method, layers=layers, steps=steps, max_length=max_length, seed=seed
    )
    candidate, dropped = draw_masks(view.attribution, view.layers, p, q, mode, seed, view.causal)
    return Explanation(**vars(view), mode=mode, p=p, q=q, seed=seed, candidate=candidate, dropped=dropped)


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
