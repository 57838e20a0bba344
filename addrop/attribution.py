"""Attribution of the model's output to its self-attention maps (step 2 of an AD-DROP step).

Each method is a small class with one entry point, ``attribute(inputs)``, in the manner of captum:

- :class:`GradientAttribution` (GA): ``B = dF/dA``.  Because ``O = A V``, ``dF/dA = dO V^T``, so the map
  is never materialised for autograd: the attention runs as usual (e.g. SDPA), its output is captured,
  and one ``autograd.grad`` call, with respect to the captured outputs of every masked layer and no
  parameter, serves all masked layers.
- :class:`IntegratedGradients` (IGA): ``B = A * mean_k dF/dA'|_{A'=(k/m) A}`` with a zero baseline, the
  pseudo label fixed by pass 1; the ``m`` interpolation points run as stacked replicas of the batch.
- :class:`AttentionWeights` (AA): ``B = A``.
- :class:`RandomAttribution` (RD): uniform noise, the vanilla-dropout control.

``F`` is the logit of the pseudo label (argmax of pass 1) summed over the batch for sequence
classification, and the negative loss on the gold labels for regression and token-level tasks.  Without
gold labels a token classifier's ``F`` is the negative loss against its pseudo labels, one per token: the
cross-entropy of each counted token's logits against their own argmax, summed (``pseudo_loss``).  A token
counts when it is not padding and not marked in the ``special_tokens_mask`` the inputs may carry (the
tokenizer's, with ``return_special_tokens_mask=True``; it is read here and never reaches the model).

An encoder-decoder (translation) is attributed at one kind of map per call (``kind``: its encoder's
self-attention by default, its decoder's self-attention, or its cross-attention), its layers numbered among
the layers of that kind; ``F`` is the negative loss over the target tokens, against the gold target (the
``labels``) or, without one, against the model's own argmax at each real target position.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence

import torch
from torch import nn

from addrop.hooks import AttentionHooks, LayerCapture, attach, num_heads
from addrop.kinds import IGNORED, map_masks, target_mask

Method = Literal["GA", "IGA", "AA", "RD"]
Buffer = Callable[[tuple[int, ...], torch.dtype, torch.device], torch.Tensor]  # (shape, dtype, device) -> tensor
Target = Literal["auto", "logit", "loss", "pseudo_loss"]
# one generator for all layers (drawn in turn), or one per masked layer (each layer its own stream)
Generators = torch.Generator | Sequence[torch.Generator] | None
METHODS: tuple[str, ...] = ("GA", "IGA", "AA", "RD")
SPECIAL_TOKENS_MASK = "special_tokens_mask"  # an input for the attribution, not for the model


@dataclass
class AttributionResult:
    """Maps for the masked layers, each ``[len(layers), batch, heads, n, n]``."""

    layers: tuple[int, ...]
    attribution: torch.Tensor
    attention: torch.Tensor | None  # None when not requested (training needs only the attribution)
    target: str  # "logit" (pseudo-label logit), "loss" (negative loss) or "pseudo_loss" (against pseudo labels)
    # [batch] (or [batch, n] for token tasks, IGNORED where a token does not count); None for the loss target
    pseudo_labels: torch.Tensor | None
    logits: torch.Tensor | None  # pass-1 logits, detached; None when no forward pass was needed
    kind: str = "encoder"  # the kind of map (addrop.hooks.KINDS); ``layers`` count among the layers of this kind


def resolve_target(logits: torch.Tensor, target: Target, has_labels: bool) -> str:
    """``auto``: the pseudo-label logit for sequence classification, else the negative loss when gold
    labels are given, else the negative loss against the pseudo labels for token classification and the
    predicted value's logit for regression."""
    if target == "auto":
        if logits.dim() == 2 and logits.shape[-1] > 1:
            return "logit"
        if has_labels:
            return "loss"
        return "pseudo_loss" if logits.dim() == 3 and logits.shape[-1] > 1 else "logit"
    if target not in ("logit", "loss", "pseudo_loss"):
        raise ValueError(f"target must be 'auto', 'logit', 'loss' or 'pseudo_loss', got {target!r}")
    if target == "loss" and not has_labels:
        raise ValueError("the negative-loss attribution target needs gold labels in the inputs")
    if target == "pseudo_loss" and logits.dim() != 3:
        raise ValueError("the pseudo-label loss target is for token classifiers (logits [batch, n, classes])")
    return target


def pseudo_labels(logits: torch.Tensor, counted: torch.Tensor | None = None) -> torch.Tensor:
    """The argmax class (``[batch]`` or ``[batch, n]``); all zeros for a single-output regression head.
    Tokens where ``counted`` (``[batch, n]``) is false get :data:`IGNORED`."""
    labels = logits.detach().argmax(-1)
    return labels if counted is None else labels.masked_fill(~counted, IGNORED)


def counted_tokens(inputs: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """``[batch, n]``: the tokens that are neither padding nor special; None when the inputs say neither."""
    counted = None
    if inputs.get("attention_mask") is not None:
        counted = inputs["attention_mask"].bool()
    special = inputs.get(SPECIAL_TOKENS_MASK)
    if special is not None:
        counted = ~special.bool() if counted is None else counted & ~special.bool()
    return counted


def model_inputs(inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``inputs`` without what only the attribution reads (the special tokens mask)."""
    return {key: value for key, value in inputs.items() if key != SPECIAL_TOKENS_MASK}


def target_value(
    logits: torch.Tensor,
    loss: torch.Tensor | None,
    target: str,
    labels: torch.Tensor | None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The scalar ``F`` whose gradient is attributed (summed over examples and, for token tasks, tokens)."""
    if target == "pseudo_loss":
        # summed, not the mean transformers' loss takes: F adds up over tokens as over examples
        return -nn.functional.cross_entropy(
            logits.flatten(0, -2), labels.flatten(), ignore_index=IGNORED, reduction="sum"
        )
    if target == "loss":
        if loss is None:
            raise ValueError("the model returned no loss; pass gold labels to use the negative-loss target")
        return -loss
    chosen = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    if chosen.dim() == 2 and attention_mask is not None:
        chosen = chosen * attention_mask.to(chosen.dtype)
    return chosen.sum()


class LayerAttribution:
    """Base class: attribution of ``F`` to the attention maps of ``layers`` of ``model``."""

    needs_map = False

    def __init__(
        self, model: nn.Module, layers: tuple[int, ...] | list[int] = (0,), target: Target = "auto",
        kind: str | None = None,
    ):
        self.model = model
        self.hooks: AttentionHooks = attach(model)
        self.kind = self.hooks.kind(kind)
        self.layers = self.hooks.check_layers(tuple(layers), self.kind)
        self.sites = self.hooks.sites(self.layers, self.kind)  # the hooks' call indices of ``layers``
        self.target: Target = target

    def _result(self, attribution, attention, target, labels, logits) -> AttributionResult:
        return AttributionResult(self.layers, attribution, attention, target, labels, logits, self.kind)

    def _counted(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """The positions whose outputs count in a pseudo-label loss: an encoder-decoder's real target positions."""
        if self.hooks.encoder_decoder:
            return target_mask(inputs, self.model.config.pad_token_id)
        return counted_tokens(inputs)

    def attribute(self, inputs: Mapping[str, torch.Tensor], return_attention: bool = True) -> AttributionResult:
        """Attribute one batch (the model's usual keyword inputs, with ``attention_mask``)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _passing_one(self, inputs: Mapping[str, torch.Tensor], materialise: bool, with_grad: bool):
        """Forward in the model's current mode with only the padding mask, capturing the masked layers.

        The capture stays in force for the body of the block, so that a backward inside it which
        recomputes the forward (gradient checkpointing) recomputes this same pass."""
        with (
            torch.set_grad_enabled(with_grad),
            self.hooks.capture(self.sites, materialise) as captures,
            self.hooks.first_token_only(),
        ):
            outputs = self.model(**model_inputs(inputs))
            target = resolve_target(outputs.logits, self.target, inputs.get("labels") is not None)
            if target == "pseudo_loss":
                labels = pseudo_labels(outputs.logits, self._counted(inputs))
            else:
                labels = pseudo_labels(outputs.logits) if target == "logit" else None
            yield outputs, dict(captures), target, labels

    def _pass_one(self, inputs: Mapping[str, torch.Tensor], materialise: bool, with_grad: bool):
        """:meth:`_passing_one` for methods that need no backward through it."""
        with self._passing_one(inputs, materialise, with_grad) as result:
            return result

    def _stack(self, captures: dict[int, LayerCapture], field: str) -> torch.Tensor:
        return torch.stack([getattr(captures[site], field).detach() for site in self.sites])


class GradientAttribution(LayerAttribution):
    """GA: the gradient of ``F`` with respect to each masked layer's attention map.

    ``attribute(..., out=buffer)`` writes the maps into ``buffer(shape, dtype, device)`` (shape
    ``[len(layers), b, h, n, n]``, dtype that of the gradients, e.g. bf16 under autocast) when the attention
    itself is not requested, so a training loop can reuse one buffer across steps."""

    def attribute(
        self, inputs: Mapping[str, torch.Tensor], return_attention: bool = True, out: Buffer | None = None
    ) -> AttributionResult:
        if self.model.training and _reentrant_checkpointing(self.model):
            raise ValueError(
                "GA cannot run under reentrant gradient checkpointing (use_reentrant=True): it runs the "
                "forward without an autograd graph, so pass 1 has no gradient with respect to the attention; "
                "use non-reentrant checkpointing (transformers' default) or none"
            )
        with self._passing_one(inputs, materialise=return_attention, with_grad=True) as pass_one:
            outputs, captures, target, labels = pass_one
            value = target_value(outputs.logits, outputs.loss, target, labels, inputs.get("attention_mask"))
            wrt = [getattr(captures[site], "attention" if return_attention else "output") for site in self.sites]
            grads = torch.autograd.grad(value, wrt)
        if return_attention:
            attribution = torch.stack(grads)
        else:
            batch, _, heads, _ = grads[0].shape
            n = captures[self.sites[0]].value.shape[2]
            # only cross-attention maps are not square (target rows, source keys); a self-attention map has n
            # rows even where the first-token cut computed one
            rows = grads[0].shape[1] if self.kind == "cross" else n
            shape = (len(self.layers), batch, heads, rows, n)
            attribution = grads[0].new_empty(shape) if out is None else out(shape, grads[0].dtype, grads[0].device)
            for index, (grad, site) in enumerate(zip(grads, self.sites)):
                _grad_through_values(grad, captures[site].value.detach(), out=attribution[index])
        attention = self._stack(captures, "attention") if return_attention else None
        return self._result(attribution, attention, target, labels, outputs.logits.detach())


def _reentrant_checkpointing(model: nn.Module) -> bool:
    """Whether a layer of ``model`` checkpoints with ``torch.utils.checkpoint``'s reentrant variant."""
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False):
            function = getattr(module, "_gradient_checkpointing_func", None)
            if getattr(function, "keywords", {}).get("use_reentrant", False):
                return True
    return False


def _grad_through_values(grad_output: torch.Tensor, value: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``dF/dA = dO V^T`` from the gradient of the attention output ``[b, rows, h, d]`` and values
    ``[b, h_kv, n, d]``; with fewer rows than keys (the first query only), the other rows are zero."""
    grad_output = grad_output.transpose(1, 2)
    if value.shape[1] != grad_output.shape[1]:
        value = value.repeat_interleave(grad_output.shape[1] // value.shape[1], dim=1)
    rows = grad_output.shape[2]
    if rows == out.shape[-2]:
        return torch.matmul(grad_output, value.transpose(-1, -2), out=out)
    out[..., rows:, :].zero_()
    out[..., :rows, :].copy_(torch.matmul(grad_output, value.transpose(-1, -2)))
    return out


class IntegratedGradients(LayerAttribution):
    """IGA: integrated gradients over each masked layer's map, zero baseline, ``steps`` Riemann points.

    The interpolation passes run with dropout off (the integrand must be one fixed function of the map)
    and the pseudo label of pass 1; the map itself is pass 1's.  ``internal_batch_size`` caps how many
    examples (replicas x batch) one interpolation pass holds; the default, 32, was fastest on CPU
    (MiniLM, batch 32 x 128: 18.6 s per IGA attribution against 21.6 s at 64 and 26.3 s at 160), while
    a GPU profits from more.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: tuple[int, ...] | list[int] = (0,),
        target: Target = "auto",
        steps: int = 20,
        internal_batch_size: int = 32,
        kind: str | None = None,
    ):
        super().__init__(model, layers, target, kind)
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if internal_batch_size < 1:
            raise ValueError(f"internal_batch_size must be at least 1, got {internal_batch_size}")
        self.steps = steps
        self.internal_batch_size = internal_batch_size

    def attribute(self, inputs: Mapping[str, torch.Tensor], return_attention: bool = True) -> AttributionResult:
        outputs, captures, target, labels = self._pass_one(inputs, materialise=True, with_grad=False)
        attention = self._stack(captures, "attention")
        batch = attention.shape[1]
        replicas = max(1, self.internal_batch_size // batch)
        alphas = torch.arange(1, self.steps + 1, dtype=torch.float64) / self.steps
        was_training = self.model.training
        self.model.eval()
        try:
            attribution = torch.stack(
                [
                    attention[i] * self._mean_gradient(inputs, site, attention[i], alphas, replicas, target, labels)
                    for i, site in enumerate(self.sites)
                ]
            )
        finally:
            self.model.train(was_training)
        return self._result(attribution, attention if return_attention else None, target, labels, outputs.logits.detach())

    def _mean_gradient(self, inputs, site, attention, alphas, replicas, target, labels) -> torch.Tensor:
        total = torch.zeros_like(attention)
        batch = attention.shape[0]
        for start in range(0, len(alphas), replicas):
            chunk = alphas[start : start + replicas]
            r = len(chunk)
            stacked = {k: _repeat(v, r) for k, v in model_inputs(inputs).items()}
            with (
                torch.enable_grad(),
                self.hooks.interpolate(site, attention, chunk) as spec,
                self.hooks.first_token_only(),
            ):
                out = self.model(**stacked)
                # the model's loss is a mean over the r stacked copies; times r it is the sum of per-copy means
                loss = out.loss * r if out.loss is not None else None
                value = target_value(
                    out.logits, loss, target, _repeat(labels, r), stacked.get("attention_mask")
                )
                (grad,) = torch.autograd.grad(value, spec.scaled)
            total += grad.view(r, batch, *attention.shape[1:]).sum(0)
        return total / len(alphas)


def _repeat(tensor: torch.Tensor | None, times: int) -> torch.Tensor | None:
    if tensor is None or not isinstance(tensor, torch.Tensor):
        return tensor
    return tensor.repeat(times, *([1] * (tensor.dim() - 1)))


class AttentionWeights(LayerAttribution):
    """AA: the attention weights themselves."""

    def attribute(self, inputs: Mapping[str, torch.Tensor], return_attention: bool = True) -> AttributionResult:
        outputs, captures, target, labels = self._pass_one(inputs, materialise=True, with_grad=False)
        attention = self._stack(captures, "attention")
        return self._result(attention.clone(), attention if return_attention else None, target, labels,
                            outputs.logits.detach())


class RandomAttribution(LayerAttribution):
    """RD: uniform random scores, so the candidate region is a random ``p`` fraction of each row.

    ``generator`` is one generator for every layer (its stream read on, step after step) or a sequence of
    one per masked layer, so that a layer's noise does not depend on which other layers are attributed
    (the explorer's case).  Needs no forward pass unless the maps are requested."""

    def __init__(
        self,
        model: nn.Module,
        layers: tuple[int, ...] | list[int] = (0,),
        target: Target = "auto",
        generator: Generators = None,
        kind: str | None = None,
    ):
        super().__init__(model, layers, target, kind)
        if generator is not None and not isinstance(generator, torch.Generator):
            generator = tuple(generator)
            if len(generator) != len(self.layers):
                raise ValueError(f"{len(generator)} generators for {len(self.layers)} layers; give one per layer")
        self.generator = generator

    def attribute(self, inputs: Mapping[str, torch.Tensor], return_attention: bool = True) -> AttributionResult:
        attention = logits = labels = None
        target = self.target
        if return_attention:
            outputs, captures, target, labels = self._pass_one(inputs, materialise=True, with_grad=False)
            attention, logits = self._stack(captures, "attention"), outputs.logits.detach()
        query_mask, key_mask = map_masks(inputs, self.kind, self.hooks.encoder_decoder, self.model.config.pad_token_id)
        batch, n = key_mask.shape
        rows = n if query_mask is None else query_mask.shape[1]
        shape = (len(self.layers), batch, num_heads(self.model), rows, n)
        device = key_mask.device
        if isinstance(self.generator, tuple):
            noise = torch.stack([torch.rand(shape[1:], generator=g, device=g.device).to(device) for g in self.generator])
        else:
            draw_device = self.generator.device if self.generator is not None else device
            noise = torch.rand(shape, generator=self.generator, device=draw_device).to(device)
        return self._result(noise, attention, target, labels, logits)


_CLASSES: dict[str, type[LayerAttribution]] = {
    "GA": GradientAttribution,
    "IGA": IntegratedGradients,
    "AA": AttentionWeights,
    "RD": RandomAttribution,
}


def method_name(method: str) -> str:
    """``method`` in upper case; :class:`ValueError` naming the choices when it is not one of them."""
    key = method.upper() if isinstance(method, str) else method
    if key not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return key


def attribution_method(
    model: nn.Module,
    method: Method = "GA",
    layers: tuple[int, ...] | list[int] = (0,),
    target: Target = "auto",
    steps: int = 20,
    generator: Generators = None,
    kind: str | None = None,
) -> LayerAttribution:
    """Build the attribution object for ``method`` (one of GA, IGA, AA, RD) at ``layers`` of ``kind``."""
    key = method_name(method)
    if key == "IGA":
        return IntegratedGradients(model, layers, target, steps=steps, kind=kind)
    if key == "RD":
        return RandomAttribution(model, layers, target, generator=generator, kind=kind)
    return _CLASSES[key](model, layers, target, kind)


def attribute(
    model: nn.Module,
    inputs: Mapping[str, torch.Tensor],
    method: Method = "GA",
    layers: tuple[int, ...] | list[int] = (0,),
    *,
    steps: int = 20,
    target: Target = "auto",
    return_attention: bool = True,
    generator: Generators = None,
    kind: str | None = None,
) -> AttributionResult:
    """Attention and attribution maps ``[len(layers), batch, heads, n, n]`` for one batch.

    ``method`` is GA (gradient), IGA (integrated gradients, ``steps`` points), AA (attention weights) or
    RD (random; ``generator`` as for :class:`RandomAttribution`).  The model runs in its current mode
    (``model.eval()`` for a deterministic look, ``model.train()`` for what a training step sees).  For an
    encoder-decoder, ``kind`` picks the maps: "encoder" (the default), "decoder" or "cross" (``[..., t, n]``:
    target rows, source keys), ``layers`` counting among the layers of that kind.
    """
    return attribution_method(model, method, layers, target, steps, generator, kind).attribute(
        inputs, return_attention=return_attention
    )
