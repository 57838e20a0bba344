"""One AD-DROP step around any training loop: attribution (pass 1), masks, and the masked pass 2."""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import torch
from torch import nn

from addrop.attribution import AttributionResult, GradientAttribution, Target, attribution_method, method_name
from addrop.hooks import KINDS, attach
from addrop.kinds import map_masks
from addrop.masking import check_probability, discard_masks


@dataclass
class ADDropConfig:
    """AD-DROP hyper-parameters (defaults follow the authors' scripts: GA, layer 0, p=0.3, q=0.2).

    ``kind`` picks an encoder-decoder's maps (``addrop.hooks.KINDS``; None: its encoder's self-attention, where
    the authors' translation code drops), ``layers`` counting among the layers of that kind."""

    method: str = "GA"
    p: float = 0.3
    q: float = 0.2
    layers: tuple[int, ...] = (0,)
    mode: str = "high"
    steps: int = 20
    target: Target = "auto"
    kind: str | None = None

    def __post_init__(self) -> None:
        self.method = method_name(self.method)
        self.p, self.q = check_probability("p", self.p), check_probability("q", self.q)
        if self.mode not in ("high", "low"):
            raise ValueError(f"mode must be 'high' or 'low', got {self.mode!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        self.layers = tuple(int(layer) for layer in self.layers)
        if not self.layers:
            raise ValueError("at least one masked layer is needed")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


@dataclass
class DropPlan:
    """The attribution of one batch with its candidate region and dropped positions per masked layer."""

    result: AttributionResult
    candidate: torch.Tensor  # [len(layers), b, h, n, n] bool
    dropped: torch.Tensor  # same shape
    masks: dict[int, torch.Tensor] = field(init=False)  # by layer among the layers of ``result.kind``

    def __post_init__(self) -> None:
        self.masks = {layer: self.dropped[i] for i, layer in enumerate(self.result.layers)}


class ADDrop:
    """AD-DROP for one model.

    ``plan(inputs)`` runs pass 1 and draws the masks; ``with addrop.applied(plan.masks): model(**inputs)``
    runs pass 2 with ``-inf`` at the dropped positions.  Masks are drawn fresh on every call.  Plans made
    without the attention maps share this object's buffers, so such a plan is valid until the next
    ``plan()``: on CPU, fresh allocations of these sizes cost page faults at every step.
    """

    def __init__(self, model: nn.Module, config: ADDropConfig, generator: torch.Generator | None = None):
        self.model = model
        self.config = config
        self.generator = generator
        self.attribution = attribution_method(
            model, config.method, config.layers, config.target, config.steps, generator, config.kind
        )
        self.hooks = self.attribution.hooks
        self._buffers: dict[str, torch.Tensor] = {}

    @property
    def layers(self) -> tuple[int, ...]:
        return self.attribution.layers

    def plan(self, inputs: Mapping[str, torch.Tensor], return_attention: bool = False) -> DropPlan:
        """Pass 1 (attribution in the model's current mode) and the masks for this batch."""
        if isinstance(self.attribution, GradientAttribution) and not return_attention:
            buffer = functools.partial(self._buffer, "attribution")
            result = self.attribution.attribute(inputs, return_attention=False, out=buffer)
        else:
            result = self.attribution.attribute(inputs, return_attention=return_attention)
        masks = None
        if not return_attention:
            shape, device = tuple(result.attribution.shape), result.attribution.device
            masks = (self._buffer("candidate", shape, torch.bool, device), self._buffer("dropped", shape, torch.bool, device))
        kind = self.attribution.kind
        query_mask, key_mask = map_masks(inputs, kind, self.hooks.encoder_decoder, self.model.config.pad_token_id)
        candidate, dropped = discard_masks(
            result.attribution, key_mask, self.config.p, self.config.q, self.config.mode,
            self.generator, out=masks, causal=self.hooks.is_causal(kind), query_mask=query_mask,
        )
        return DropPlan(result, candidate, dropped)

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A view of a buffer kept across steps (regrown when a batch needs more)."""
        numel = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < numel or buffer.dtype != dtype or buffer.device != device:
            buffer = self._buffers[name] = torch.empty(numel, dtype=dtype, device=device)
        return buffer[:numel].view(shape)

    @contextlib.contextmanager
    def applied(self, masks: Mapping[int, torch.Tensor]) -> Iterator[None]:
        """Forward passes inside the block add ``-inf`` to the attention scores at the dropped positions.

        With gradient checkpointing the backward recomputes the forward, so run it inside the block too.
        ``masks`` are keyed by layer among the layers of the configured kind, as :attr:`DropPlan.masks`."""
        with self.hooks.drop(_by_site(self.hooks, masks, self.attribution.kind)):
            yield


def _by_site(hooks, masks: Mapping[int, torch.Tensor], kind: str | None) -> dict[int, torch.Tensor]:
    """``masks`` keyed by the hooks' call index instead of the layer among the layers of ``kind``."""
    layers = tuple(masks)
    return dict(zip(hooks.sites(layers, kind), masks.values())) if layers else {}


def masked_forward(
    model: nn.Module, inputs: Mapping[str, torch.Tensor], masks: Mapping[int, torch.Tensor], kind: str | None = None
):
    """Run ``model(**inputs)`` with ``masks[layer]`` (``[b, h, n, n]`` bool; ``[b, h, t, n]`` for cross-attention)
    dropped from that layer's attention; an encoder-decoder's layers count among those of ``kind`` (default: its
    encoder's)."""
    hooks = attach(model)
    with hooks.drop(_by_site(hooks, masks, kind)):
        return model(**inputs)
