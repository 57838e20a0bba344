"""What AD-DROP would do to one translation: an encoder-decoder's maps of one kind for a source sentence.

The model translates the source greedily in eval mode (deterministic). The decoder then reads its start token
and the translation, or the tokenised reference when one is given, without the last token (each position is
scored against the next one); the attributed ``F`` is the negative loss over the target positions: against the
reference (``loss``), or against the model's own argmax at each position (``pseudo_loss``), which for a greedy
translation is the translation itself. Maps are ``[len(layers), heads, rows, keys]``: source x source for the
encoder's self-attention, target x target for the decoder's (causal), target x source for cross-attention.

As for classifiers (:mod:`addrop.explain`), :func:`attribute_translation` runs the model, the expensive part,
and :func:`addrop.explain.draw_masks` with the view's ``kind`` draws the masks; :func:`explain_translation`
does both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from addrop.attribution import attribute, method_name
from addrop.explain import LayerMaps, draw_masks, encode
from addrop.hooks import attach
from addrop.streams import NOISE_STREAM, layer_stream, stream_generator


@dataclass
class TranslationAttribution(LayerMaps):
    """The model's view of one translation; maps are ``[len(layers), heads, rows, keys]`` of ``kind``."""

    source_tokens: list[str]
    source_special: list[bool]
    target_tokens: list[str]  # what the decoder reads: its start token, then the translation or the reference
    target_special: list[bool]
    target_labels: list[str]  # the token each target position is scored against (the next one read, or eos)
    translation: str  # the greedy translation, special tokens left out
    reference: str | None
    truncated: bool  # the source was cut to the length limit
    target_truncated: bool  # the reference was cut, or the translation stopped at the length limit
    target: str  # "loss" (against the reference) or "pseudo_loss" (against the model's own argmax)
    method: str
    steps: int
    kind: str
    layers: tuple[int, ...]
    attention: torch.Tensor
    attribution: torch.Tensor
    causal: bool  # a decoder's self-attention: row i attends only keys j <= i

    @property
    def query_tokens(self) -> list[str]:
        """The rows' tokens: the source for the encoder's self-attention, else the target."""
        return self.source_tokens if self.kind == "encoder" else self.target_tokens

    @property
    def query_special(self) -> list[bool]:
        """Which of :attr:`query_tokens` are special tokens."""
        return self.source_special if self.kind == "encoder" else self.target_special

    @property
    def key_tokens(self) -> list[str]:
        """The keys' tokens: the target for the decoder's self-attention, else the source."""
        return self.target_tokens if self.kind == "decoder" else self.source_tokens

    @property
    def key_special(self) -> list[bool]:
        """Which of :attr:`key_tokens` are special tokens."""
        return self.target_special if self.kind == "decoder" else self.source_special


@dataclass
class TranslationExplanation(TranslationAttribution):
    """A :class:`TranslationAttribution` with the AD-DROP masks drawn for p, q, mode and seed."""

    mode: str = "high"
    p: float = 0.3
    q: float = 0.2
    seed: int = 0
    candidate: torch.Tensor | None = None
    dropped: torch.Tensor | None = None


def length_limit(model: nn.Module, max_length: int) -> int:
    """``max_length``, lowered to the model's positions where it has fewer (its embeddings end there)."""
    positions = getattr(model.config, "max_position_embeddings", None)
    return min(max_length, positions) if positions else max_length


def translate(model: nn.Module, inputs: dict[str, torch.Tensor], max_new_tokens: int) -> torch.Tensor:
    """The greedy translation ``[1, 1 + k]`` (the decoder's start token, then k tokens) of one encoded source."""
    with torch.no_grad():
        return model.generate(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], num_beams=1, do_sample=False,
            max_new_tokens=max_new_tokens,
        )


def attribute_translation(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    source: str,
    reference: str | None = None,
    *,
    kind: str | None = None,
    method: str = "GA",
    layers: tuple[int, ...] | None = None,
    steps: int = 20,
    max_length: int = 128,
    seed: int = 0,
) -> TranslationAttribution:
    """Translate ``source`` greedily and attribute the maps of ``kind`` (default: the encoder's) at ``layers``
    (None: every layer of that kind) in eval mode.

    ``max_length`` caps the source, the reference and the translation (each at most that many tokens, and no
    more than the model has positions). ``seed`` matters only for ``RD``: layer ``l``'s noise comes from
    ``stream_generator(seed, NOISE_STREAM, layer_stream(l, kind))``, apart from every layer's drops.
    """
    if not source or not source.strip():
        raise ValueError("the source sentence is empty")
    if reference is not None and not reference.strip():
        reference = None
    method = method_name(method)
    hooks = attach(model)
    if not hooks.encoder_decoder:
        raise ValueError(f"{type(model).__name__} is not an encoder-decoder; a translation needs one")
    kind = hooks.kind(kind)
    layers = tuple(range(hooks.num_layers(kind))) if layers is None else hooks.check_layers(tuple(layers), kind)
    limit = length_limit(model, max_length)
    device = next(model.parameters()).device
    encoded, truncated = encode(tokenizer, source, None, limit)
    encoded = {k: v.to(device) for k, v in encoded.items()}
    model.eval()
    generated = translate(model, encoded, limit)
    start = generated[:, :1]
    if reference is None:
        # the translation's tokens; generation stops at eos or, forced to end there, at the limit
        labels = generated[:, 1:]
        target_truncated = labels.shape[1] >= limit
    else:
        full_reference = tokenizer(text_target=reference, truncation=False)["input_ids"]
        labels = tokenizer(text_target=reference, truncation=True, max_length=limit, return_tensors="pt")["input_ids"]
        labels = labels.to(device)
        target_truncated = len(full_reference) > labels.shape[1]
    decoder_input_ids = torch.cat([start, labels[:, :-1]], dim=1)
    inputs = {
        **encoded,
        "decoder_input_ids": decoder_input_ids,
        # every target position is real, a pad token the translation may hold as well (Marian starts with one)
        "decoder_attention_mask": torch.ones_like(decoder_input_ids),
    }
    if reference is not None:
        inputs["labels"] = labels
    generators = None
    if method == "RD":
        generators = [stream_generator(seed, NOISE_STREAM, layer_stream(layer, kind)) for layer in layers]
    result = attribute(model, inputs, method, layers, steps=steps, generator=generators, kind=kind)
    scored = labels[0] if result.pseudo_labels is None else result.pseudo_labels[0]
    special_ids = set(tokenizer.all_special_ids)
    source_ids = encoded["input_ids"][0].tolist()
    target_ids = decoder_input_ids[0].tolist()
    return TranslationAttribution(
        source_tokens=tokenizer.convert_ids_to_tokens(source_ids),
        source_special=[i in special_ids for i in source_ids],
        target_tokens=tokenizer.convert_ids_to_tokens(target_ids),
        # the start token is the decoder's own, whatever its id
        target_special=[index == 0 or i in special_ids for index, i in enumerate(target_ids)],
        target_labels=tokenizer.convert_ids_to_tokens(scored.tolist()),
        translation=tokenizer.decode(generated[0], skip_special_tokens=True),
        reference=reference,
        truncated=truncated,
        target_truncated=target_truncated,
        target=result.target,
        method=method,
        steps=steps,
        kind=kind,
        layers=layers,
        attention=result.attention[:, 0].float().cpu(),
        attribution=result.attribution[:, 0].float().cpu(),
        causal=hooks.is_causal(kind),
    )


def explain_translation(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    source: str,
    reference: str | None = None,
    *,
    kind: str | None = None,
    method: str = "GA",
    layers: tuple[int, ...] | None = None,
    p: float = 0.3,
    q: float = 0.2,
    mode: str = "high",
    seed: int = 0,
    steps: int = 20,
    max_length: int = 128,
) -> TranslationExplanation:
    """Translate and attribute in eval mode (:func:`attribute_translation`), then draw the AD-DROP masks."""
    view = attribute_translation(
        model, tokenizer, source, reference, kind=kind, method=method, layers=layers, steps=steps,
        max_length=max_length, seed=seed,
    )
    candidate, dropped = draw_masks(view.attribution, view.layers, p, q, mode, seed, view.causal, view.kind)
    return TranslationExplanation(**vars(view), mode=mode, p=p, q=q, seed=seed, candidate=candidate, dropped=dropped)
