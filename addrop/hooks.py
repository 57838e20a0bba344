"""Per-layer access to self-attention through transformers' ``AttentionInterface``.

AD-DROP needs three things from every masked layer: to read the attention map (or the tensors that
determine its gradient) in pass 1, to add ``-inf`` at dropped positions in pass 2, and, for integrated
gradients, to evaluate the model with a scaled map.  Instead of copying modelling code, the model's
attention implementation is switched to a registered wrapper (``addrop_sdpa`` / ``addrop_eager``) that
delegates to the original implementation unless an :class:`AttentionHooks` context asks for more.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Literal

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

PREFIX = "addrop_"
SUPPORTED = (
    "supported are encoders such as BERT, RoBERTa, ELECTRA, DistilBERT, plain causal decoders such as "
    "Llama and Qwen2, and encoder-decoders such as Marian (OPUS-MT), BART and mBART (see the README)"
)
# The kinds of attention map: an encoder's self-attention (bidirectional), a decoder's self-attention (causal),
# and an encoder-decoder's cross-attention (queries: target positions, keys: source positions).
Kind = Literal["encoder", "decoder", "cross"]
KINDS: tuple[str, ...] = ("encoder", "decoder", "cross")


class UnsupportedModelError(ValueError):
    """The model's attention is not one the AD-DROP hooks can reproduce exactly (see :data:`REFUSED`)."""


# Attention arguments that change the scores in ways the hooks' own eager attention and mask merging do
# not reproduce: a model passing any of them with a value is refused rather than trained on another model.
REFUSED = {
    "softcap": "logit soft-capping (softcap)",
    "sliding_window": "sliding-window attention (sliding_window)",
    "s_aux": "attention sinks (s_aux)",
    "position_bias": "a position bias added to the scores (position_bias)",
}
# Arguments the hooks apply themselves, and ones that do not enter the attention of one full sequence;
# any other argument with a value (a cache, encoder states of a cross-attention, ...) is refused too.
_HANDLED = frozenset({"dropout", "scaling", "is_causal"})
_INERT = frozenset({"position_ids", "use_cache", "cache_position", "output_attentions"})


def _refusal(kwargs: dict[str, object]) -> str | None:
    """Why an attention call with these keyword arguments cannot be hooked, or None when it can."""
    for name, value in kwargs.items():
        if name in _HANDLED or name in _INERT or value is None:
            continue
        return f"its attention uses {REFUSED.get(name, f'an argument AD-DROP does not handle ({name})')}"
    return None


def _sdpa_is_causal(module: nn.Module, kwargs: dict[str, object]) -> bool:
    """Whether SDPA attention makes this call causal when it gets no mask (transformers' own rule)."""
    flag = kwargs.get("is_causal")
    return bool(getattr(module, "is_causal", True) if flag is None else flag)


def eager_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    uniform_dropout: bool = False,
    **_: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention that materialises the map; returns ``(output [b,n,h,d], map)``.

    The returned map is the one multiplied with the values (after attention dropout in train mode),
    which is also what the paper's code attributes.  Attention dropout draws from the random stream as
    transformers' eager attention does, or, with ``uniform_dropout``, as ``uniform < p``: the same
    distribution, and on CPU a MiniLM layer's attention at batch 32 x 128 takes 27 against 46 ms
    (``benchmarks/step_parts.py``).
    """
    if key.shape[1] != query.shape[1]:  # grouped-query attention: repeat key/value heads
        repeat = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(repeat, dim=1)
        value = value.repeat_interleave(repeat, dim=1)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale
    if attention_mask is not None:
        scores = scores + _additive(attention_mask, scores.dtype)
    weights = torch.softmax(scores, dim=-1)
    if module.training and dropout > 0 and uniform_dropout:
        weights = (weights * (1.0 / (1.0 - dropout))).masked_fill(torch.rand_like(weights) < dropout, 0.0)
    else:
        weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value)
    return output.transpose(1, 2).contiguous(), weights


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean keep-mask or an additive float mask, as an additive float mask."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    return mask.to(dtype)


_BASES: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor | None]]] = {
    "sdpa": ALL_ATTENTION_FUNCTIONS["sdpa"],
    "eager": eager_attention,
}

# attention module -> (hooks, layer index); weak so that models can be garbage collected
_REGISTRY: "weakref.WeakKeyDictionary[nn.Module, tuple[AttentionHooks, int]]" = weakref.WeakKeyDictionary()


@dataclass
class LayerCapture:
    """What pass 1 kept of one masked layer (all tensors still attached to the autograd graph)."""

    value: torch.Tensor  # [b, h, n, d]
    output: torch.Tensor | None = None  # [b, n, h, d]; its gradient gives dF/dA = dO V^T
    attention: torch.Tensor | None = None  # [b, h, n, n]; set when the map was materialised


@dataclass(frozen=True)
class _State:
    """What the current context asks of the hooked layers (kept per thread / task, so concurrent
    forward passes on one model do not see each other's requests)."""

    capture_layers: frozenset[int] = frozenset()
    materialise: bool = False
    captures: dict[int, LayerCapture] = field(default_factory=dict)
    drop: dict[int, torch.Tensor] = field(default_factory=dict)
    interpolation: "_Interpolation | None" = None
    first_token: bool = False  # the last layer computes only what its first token's output needs


@dataclass
class _Interpolation:
    layer: int
    attention: torch.Tensor  # [b, h, n, n], detached
    alphas: torch.Tensor  # [r] scaling factors, one per replica of the batch
    scaled: torch.Tensor | None = None  # [r*b, h, n, n] leaf whose gradient is the IG integrand


class AttentionHooks:
    """Hooks one model's attention layers; obtain it with :func:`attach`.

    The hooks number the model's attention calls of a forward pass in call order (for an encoder-decoder:
    the encoder's layers, then each decoder layer's self- and cross-attention), found once by a forward pass
    on the model's dummy inputs; requests (capture, drop, interpolate) name these call indices.  Users name a
    layer by its kind and its index among the layers of that kind (:meth:`sites` translates).  Requests are
    context managers whose state is local to the calling thread or task.
    """

    def __init__(self, model: nn.Module) -> None:
        if not getattr(model, "_can_set_attn_implementation", lambda: False)():
            raise UnsupportedModelError(
                f"{type(model).__name__} does not route attention through transformers' AttentionInterface, "
                f"so AD-DROP cannot hook it; {SUPPORTED}"
            )
        current = model.config._attn_implementation or "eager"
        base = current[len(PREFIX):] if current.startswith(PREFIX) else current
        if base not in _BASES:
            raise UnsupportedModelError(
                f"attention implementation {base!r} is not supported by AD-DROP; load the model with "
                "attn_implementation='sdpa' or 'eager'"
            )
        self.base_name = base
        self._base = _BASES[base]
        self._state: contextvars.ContextVar[_State] = contextvars.ContextVar(f"addrop_state_{id(self)}")
        model.set_attn_implementation(PREFIX + base)
        try:
            self.modules, causal = _discover(model)
            self.kinds: tuple[str, ...] = _kinds(model, self.modules, causal)
        except UnsupportedModelError:
            model.set_attn_implementation(base)
            raise
        # a causal layer's rows see only earlier keys; with SDPA and no padding it gets no mask at all
        self._causal = tuple(causal)
        # each kind's call indices in call order (layer l of a kind is call _calls[kind][l]), found once: the
        # training step maps its masked layers to calls at every step
        self._calls: dict[str, tuple[int, ...]] = {
            kind: tuple(index for index, k in enumerate(self.kinds) if k == kind) for kind in dict.fromkeys(self.kinds)
        }
        # an encoder-decoder is attributed at its encoder unless asked otherwise, as the authors' translation code
        self.default_kind = "encoder" if "encoder" in self.kinds else self.kinds[0]
        self._model = weakref.ref(model)
        self._last_block = _parent(model, self.modules[-1])  # where first_token_only() cuts the sequence
        self._first_token_exact: bool | None = None  # decided on first use of first_token_only()
        for index, module in enumerate(self.modules):
            _REGISTRY[module] = (self, index)

    @property
    def encoder_decoder(self) -> bool:
        return len(self._calls) > 1

    def kind(self, kind: str | None = None) -> str:
        """``kind``, or the model's default kind for None; :class:`ValueError` for a kind the model lacks."""
        if kind is None:
            return self.default_kind
        if kind not in KINDS:
            raise ValueError(f"unknown attention kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind not in self._calls:
            raise ValueError(f"the model has no {kind} attention; its kinds: {', '.join(self._calls)}")
        return kind

    def num_layers(self, kind: str | None = None) -> int:
        """How many attention layers of ``kind`` (default: the model's default kind) the model has."""
        return len(self._calls[self.kind(kind)])

    def is_causal(self, kind: str | None = None) -> bool:
        """Whether the layers of ``kind`` attend only to earlier keys (a decoder's self-attention)."""
        return self._causal[self._calls[self.kind(kind)][0]]

    def check_layers(self, layers: tuple[int, ...] | list[int], kind: str | None = None) -> tuple[int, ...]:
        """Normalise layer indices among the layers of ``kind`` (negative ones count from the top) and reject
        out-of-range ones."""
        if not layers:
            raise ValueError("at least one masked layer is needed")
        count = self.num_layers(kind)
        normalised = []
        for layer in layers:
            index = layer + count if layer < 0 else layer
            if not 0 <= index < count:
                named = f"{self.kind(kind)} " if self.encoder_decoder else ""
                raise ValueError(f"layer {layer} is out of range: the model has {count} {named}attention layers")
            normalised.append(index)
        if len(set(normalised)) != len(normalised):
            raise ValueError(f"layers must not repeat: {tuple(layers)}")
        return tuple(normalised)

    def sites(self, layers: tuple[int, ...], kind: str | None = None) -> tuple[int, ...]:
        """The call indices (what capture, drop and interpolate name) of ``layers`` of ``kind``."""
        calls = self._calls[self.kind(kind)]
        return tuple(calls[layer] for layer in self.check_layers(layers, kind))

    @contextlib.contextmanager
    def first_token_only(self) -> Iterator[bool]:
        """Within the block, the last layer computes only the first token's output, where that provably
        leaves the model's output unchanged (a sequence classifier reading [CLS]).

        Pass 1 of a sequence classifier then skips the last layer's attention for every other query and
        its feed-forward work on every other token, forward and backward, unless the whole map of that
        layer is wanted (materialised or interpolated); a capture without the map records the first
        query's output, the other rows of its gradient being zero.  Whether the model's output is
        unchanged is checked once, on the model's dummy inputs in eval mode; the block yields whether the
        shortcut is in force.
        """
        model = self._model()
        # a decoder's classifier reads the last token, whose row a first-token cut would remove; a translation
        # model reads every target token
        if model is None or any(self._causal) or self.encoder_decoder or not self._first_token_is_exact(model):
            yield False
            return
        with self._first_token_cut():
            yield True

    @contextlib.contextmanager
    def _first_token_cut(self) -> Iterator[None]:
        with self._using(first_token=True):
            handle = self._last_block.register_forward_hook(self._keep_first_token)
            try:
                yield
            finally:
                handle.remove()

    def _keep_first_token(self, module: nn.Module, args, output):
        if not self._state.get(_State()).first_token:  # registered by a block in another thread
            return output
        if isinstance(output, tuple):
            return (output[0][:, :1], *output[1:])
        return output[:, :1]

    def _first_token_is_exact(self, model: nn.Module) -> bool:
        if self._first_token_exact is None:
            inputs = {k: v.to(model.device) for k, v in model.dummy_inputs.items()}
            was_training = model.training
            model.eval()
            try:
                with torch.no_grad():
                    full = model(**inputs).logits
                    with self._first_token_cut():
                        short = model(**inputs).logits
                self._first_token_exact = full.shape == short.shape and torch.allclose(full, short, atol=1e-5)
            except (RuntimeError, ValueError, IndexError):  # the model cannot run on a shortened sequence
                self._first_token_exact = False
            finally:
                model.train(was_training)
        return self._first_token_exact

    @contextlib.contextmanager
    def _using(self, **changes: object) -> Iterator[_State]:
        state = replace(self._state.get(_State()), **changes)
        token = self._state.set(state)
        try:
            yield state
        finally:
            self._state.reset(token)

    @contextlib.contextmanager
    def capture(self, layers: tuple[int, ...], materialise: bool) -> Iterator[dict[int, LayerCapture]]:
        """Within the block, forward passes record a :class:`LayerCapture` for each of ``layers``.

        With ``materialise`` the map is computed eagerly at those layers (needed to read A itself);
        otherwise the original implementation runs and only its output and values are kept.
        """
        with self._using(capture_layers=frozenset(layers), materialise=materialise, captures={}) as state:
            yield state.captures

    @contextlib.contextmanager
    def drop(self, masks: dict[int, torch.Tensor]) -> Iterator[None]:
        """Within the block, position ``[b, h, i, j]`` of layer ``l`` gets ``-inf`` where ``masks[l]`` is True."""
        with self._using(drop=dict(masks)):
            yield

    @contextlib.contextmanager
    def interpolate(self, layer: int, attention: torch.Tensor, alphas: torch.Tensor) -> Iterator[_Interpolation]:
        """Within the block the batch is ``len(alphas)`` stacked replicas; replica ``r`` of ``layer`` uses the
        map ``alphas[r] * attention`` in place of its own.  The yielded object's ``scaled`` is the leaf
        tensor (set by the forward pass) whose gradient is the integrand of integrated gradients."""
        spec = _Interpolation(layer, attention.detach(), alphas)
        with self._using(interpolation=spec):
            yield spec

    def __call__(self, module: nn.Module, layer: int, query, key, value, attention_mask, **kwargs):
        state = self._state.get(None)
        if state is None:
            return self._base(module, query, key, value, attention_mask, **kwargs)
        if state.interpolation is not None and layer == state.interpolation.layer:
            return _interpolated(state.interpolation, value)
        if attention_mask is None and self._causal[layer] and self.base_name == "sdpa" and query.shape[2] > 1:
            # SDPA would apply is_causal itself, but only without a mask: the drops and the hooks' eager
            # attention need causality as a mask
            attention_mask = _causal_mask(query.shape[2], key.shape[2], query.device)
        if layer in state.drop:
            attention_mask = _with_drops(attention_mask, state.drop[layer], query.dtype)
        n = query.shape[2]
        # a materialised capture wants the whole map; a gradient capture needs only the rows that matter
        first_only = state.first_token and layer == len(self.modules) - 1
        first_only = first_only and not (state.materialise and layer in state.capture_layers)
        if first_only:
            query = query[:, :, :1]
            if attention_mask is not None and attention_mask.shape[-2] == n:
                attention_mask = attention_mask[..., :1, :]
        output, weights = self._attend(state, module, layer, query, key, value, attention_mask, **kwargs)
        if first_only:  # the layer reshapes its output to n tokens; only the first is read after the block
            output = output.expand(-1, n, -1, -1)
        return output, weights

    def _attend(self, state: _State, module: nn.Module, layer: int, query, key, value, attention_mask, **kwargs):
        """One layer's attention under ``state``, recording it if the layer is captured.

        Pass 1 (a capture) on CPU with attention dropout on runs eager attention with its uniform dropout
        draw on every layer: PyTorch's CPU SDPA then falls back to its math path, which materialises the
        map anyway and draws the dropout with ``bernoulli_`` (64 against 27 ms per MiniLM layer at batch
        32 x 128, ``benchmarks/step_parts.py``).  Pass 2 and plain passes keep the model's own implementation and random stream.
        """
        captured = layer in state.capture_layers
        cpu_pass_one = bool(state.capture_layers) and query.device.type == "cpu"
        cpu_pass_one = cpu_pass_one and module.training and kwargs.get("dropout", 0.0) > 0
        if cpu_pass_one or (state.materialise and captured):
            output, weights = eager_attention(
                module, query, key, value, attention_mask, uniform_dropout=cpu_pass_one, **kwargs
            )
        else:
            output, weights = self._base(module, query, key, value, attention_mask, **kwargs)
        if captured:
            attention = weights if state.materialise else None
            state.captures[layer] = LayerCapture(value=value, output=output, attention=attention)
        return output, weights


def _parent(model: nn.Module, child: nn.Module) -> nn.Module:
    """The module that holds ``child`` (for BERT-like layers: the attention block with its residual)."""
    for module in model.modules():
        if any(sub is child for sub in module.children()):
            return module
    raise UnsupportedModelError("the attention module is not part of the model")


def _interpolated(spec: _Interpolation, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    base = spec.attention.to(value.dtype)
    if value.shape[1] != base.shape[1]:  # grouped-query attention: repeat key/value heads
        value = value.repeat_interleave(base.shape[1] // value.shape[1], dim=1)
    alphas = spec.alphas.to(dtype=value.dtype, device=value.device).view(-1, 1, 1, 1, 1)
    scaled = (alphas * base.unsqueeze(0)).reshape(-1, *base.shape[1:]).requires_grad_(True)
    spec.scaled = scaled
    output = torch.matmul(scaled, value)
    return output.transpose(1, 2).contiguous(), scaled


def _causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    """The ``[1, 1, queries, keys]`` keep-mask of SDPA's ``is_causal`` (query ``i`` sees keys ``j <= i``)."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril()[None, None]


def _with_drops(attention_mask: torch.Tensor | None, dropped: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Combine the model's own mask with dropped positions, keeping the mask's format."""
    if attention_mask is None:  # no padding: a boolean keep-mask is the smallest form both bases accept
        return ~dropped
    if attention_mask.dtype == torch.bool:
        return attention_mask & ~dropped
    return attention_mask.to(dtype).masked_fill(dropped, float("-inf"))


_discovery_lock = threading.Lock()
_discovered: list[tuple[nn.Module, bool]] | None = None


def _discover(model: nn.Module) -> tuple[list[nn.Module], list[bool]]:
    """The model's attention modules in call order and whether each is causal, from one forward pass on
    the first of its dummy inputs (one row: a decoder's classifier refuses a batch without a pad token).

    :class:`UnsupportedModelError` names the model when one of its attention calls passes an argument
    that the hooks do not reproduce."""
    global _discovered
    was_training = model.training
    with _discovery_lock:
        _discovered = []
        model.eval()
        try:
            with torch.no_grad():
                model(**{k: v[:1].to(model.device) for k, v in model.dummy_inputs.items()})
            found = _discovered
        except UnsupportedModelError as error:
            name = type(model).__name__
            raise UnsupportedModelError(f"{name} cannot be trained with AD-DROP: {error}; {SUPPORTED}") from None
        finally:
            _discovered = None
            model.train(was_training)
    if not found:
        raise UnsupportedModelError(f"{type(model).__name__} made no attention call that AD-DROP can hook")
    return [module for module, _ in found], [causal for _, causal in found]


def _kinds(model: nn.Module, modules: list[nn.Module], causal: list[bool]) -> tuple[str, ...]:
    """Each attention module's kind: inside an encoder-decoder's encoder "encoder", else "decoder" when causal and
    "cross" when not; in a model of one stack, "decoder" when causal, else "encoder"."""
    if not getattr(model.config, "is_encoder_decoder", False):
        if len(set(causal)) > 1:
            raise UnsupportedModelError(
                f"{type(model).__name__} mixes causal and bidirectional attention layers in one stack; {SUPPORTED}"
            )
        return tuple("decoder" if c else "encoder" for c in causal)
    encoder = set(map(id, model.get_encoder().modules()))
    return tuple("encoder" if id(m) in encoder else "decoder" if c else "cross" for m, c in zip(modules, causal))


def _wrapper(base: str) -> Callable:
    def addrop_attention(module, query, key, value, attention_mask, **kwargs):
        entry = _REGISTRY.get(module)
        if entry is not None:
            hooks, layer = entry
            return hooks(module, layer, query, key, value, attention_mask, **kwargs)
        if _discovered is not None:
            reason = _refusal(kwargs)
            if reason is not None:  # raised before the base, which may reject the argument less clearly
                raise UnsupportedModelError(reason)
            _discovered.append((module, _sdpa_is_causal(module, kwargs)))
        return _BASES[base](module, query, key, value, attention_mask, **kwargs)

    addrop_attention.__name__ = f"addrop_{base}_attention"
    return addrop_attention


for _name in _BASES:
    AttentionInterface.register(PREFIX + _name, _wrapper(_name))
    AttentionMaskInterface.register(PREFIX + _name, ALL_MASK_ATTENTION_FUNCTIONS[_name])

_attach_lock = threading.Lock()
# model -> its hooks; kept outside the model so that copies and pickles of a model carry none
_HOOKS: "weakref.WeakKeyDictionary[nn.Module, AttentionHooks]" = weakref.WeakKeyDictionary()


def attach(model: nn.Module) -> AttentionHooks:
    """Return the model's :class:`AttentionHooks`, installing them on first use (idempotent)."""
    with _attach_lock:
        hooks = _HOOKS.get(model)
        if hooks is None:
            hooks = _HOOKS[model] = AttentionHooks(model)
        return hooks


def num_heads(model: nn.Module) -> int:
    """Attention heads per layer, from the model's config."""
    config = model.config
    for name in ("num_attention_heads", "n_heads", "encoder_attention_heads"):
        if hasattr(config, name):
            return int(getattr(config, name))
    raise UnsupportedModelError(f"cannot tell the number of attention heads of {type(model).__name__}")


__all__ = [
    "KINDS", "REFUSED", "AttentionHooks", "Kind", "LayerCapture", "UnsupportedModelError", "attach", "eager_attention", "num_heads",
]

