"""The explorer's service: loads catalog models once, keeps them warm, and answers explain requests.

Pass 1 (the attribution) is the expensive part, so it is cached per input, model, method and layer;
moving p, q, the mode or the seed only redraws the masks (:func:`addrop.explain.draw_masks`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from addrop.explain import InputAttribution, attribute_text, draw_masks
from addrop.hooks import UnsupportedModelError, attach, num_heads
from addrop.models import ModelLoadError, load_classifier, load_tokenizer
from backend.catalog import CatalogEntry, ModelCatalog
from backend.encoding import encode_array
from backend.schemas.explain import ExplainRequest, ExplainResponse, ModelInfo
from backend.settings import Settings


class InvalidExplainRequest(ValueError):
    """A request that is well-formed but cannot be answered (text too long, no such layer)."""


@dataclass
class WarmModel:
    """A loaded model with its tokenizer; ``lock`` serialises passes through it."""

    entry: CatalogEntry
    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    num_layers: int
    num_heads: int
    lock: threading.Lock


class Explainer:
    """Answers :class:`ExplainRequest`s for the models of its catalog; safe to call from many threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = ModelCatalog(settings.models)
        self._models: OrderedDict[str, WarmModel] = OrderedDict()  # least recently used first
        self._loading: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._cache: OrderedDict[tuple, InputAttribution] = OrderedDict()
        self._cache_lock = threading.Lock()

    def models(self) -> list[ModelInfo]:
        """Everything that can be explained, and whether it is loaded."""
        return [
            ModelInfo(name=e.name, kind=e.kind, description=e.description, loaded=e.name in self._models)
            for e in self.catalog.entries()
        ]

    def warm(self, name: str) -> WarmModel:
        """The loaded model called ``name``, loading it on first use (once, even under concurrency)."""
        entry = self.catalog.resolve(name)
        with self._registry_lock:
            warm = self._models.get(name)
            if warm is not None and warm.entry == entry:
                self._models.move_to_end(name)
                return warm
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            warm = self._models.get(name)
            if warm is None or warm.entry != entry:
                warm = self._load(entry)
                with self._registry_lock:
                    self._models[name] = warm
                    # a request still using an evicted model keeps its own reference until it is done
                    while len(self._models) > self.settings.explain_max_models:
                        self._models.popitem(last=False)
        return warm

    def explain(self, request: ExplainRequest) -> ExplainResponse:
        """Attribution (cached) and masks for ``request``, encoded for the wire."""
        self._check_text(request.text, "text")
        if request.text_pair is not None:
            self._check_text(request.text_pair, "text_pair")
        warm = self.warm(request.model)
        layers = self._indices(request.layers, warm.num_layers, "layer")
        heads = self._indices(request.heads, warm.num_heads, "head")
        view, cached = self._attribution(warm, request, layers)
        maps: dict[str, torch.Tensor] = {"attention": view.attention, "attribution": view.attribution}
        if {"candidate", "dropped"} & set(request.fields):
            maps["candidate"], maps["dropped"] = draw_masks(
                view.attribution, view.layers, request.p, request.q, request.mode, request.seed
            )
        encoded = {field: encode_array(maps[field][:, heads]) for field in request.fields}
        return ExplainResponse(
            model=request.model,
            method=view.method,
            mode=request.mode,
            p=request.p,
            q=request.q,
            seed=request.seed,
            steps=request.steps,
            tokens=view.tokens,
            special=view.special,
            segments=view.segments,
            truncated=view.truncated,
            max_tokens=self.settings.explain_max_tokens,
            num_layers=warm.num_layers,
            num_heads=warm.num_heads,
            labels=view.label_names,
            probabilities=view.probabilities,
            prediction=view.prediction,
            pseudo_label=view.pseudo_label,
            target=view.target,
            head_trained=view.head_trained,
            layers=list(layers),
            heads=list(heads),
            cached=cached,
            **encoded,
        )

    def close(self) -> None:
        """Drop the loaded models and cached attributions."""
        with self._registry_lock:
            self._models.clear()
        with self._cache_lock:
            self._cache.clear()

    def _load(self, entry: CatalogEntry) -> WarmModel:
        try:
            model = load_classifier(entry.source)
            tokenizer = load_tokenizer(entry.source)
        except ModelLoadError as error:
            raise ModelLoadError(f"model {entry.name!r} could not be loaded: {error}") from error
        architectures = getattr(model.config, "architectures", None) or []
        if any(name.endswith("ForTokenClassification") for name in architectures):
            raise UnsupportedModelError(
                f"model {entry.name!r} is a token classifier; the explorer explains sequence classifiers"
            )
        model.to(self.settings.explain_device).eval()
        hooks = attach(model)
        return WarmModel(entry, model, tokenizer, hooks.num_layers, num_heads(model), threading.Lock())

    def _attribution(
        self, warm: WarmModel, request: ExplainRequest, layers: tuple[int, ...]
    ) -> tuple[InputAttribution, bool]:
        """The attribution of ``layers``, computing only the layers not cached yet."""
        key = (
            warm.entry,
            request.text,
            request.text_pair,
            request.method,
            request.steps if request.method == "IGA" else None,
            request.seed if request.method == "RD" else None,
            self.settings.explain_max_tokens,
        )
        with self._cache_lock:
            known = self._cache.get(key)
            if known is not None:
                self._cache.move_to_end(key)
        missing = tuple(layer for layer in layers if known is None or layer not in known.layers)
        if missing:
            with warm.lock:
                fresh = attribute_text(
                    warm.model,
                    warm.tokenizer,
                    request.text,
                    request.text_pair,
                    method=request.method,
                    layers=missing,
                    steps=request.steps,
                    max_length=self.settings.explain_max_tokens,
                    seed=request.seed,
                )
            known = fresh if known is None else known.merge(fresh)
            if self.settings.explain_cache_size:
                with self._cache_lock:
                    self._cache[key] = known
                    self._cache.move_to_end(key)
                    while len(self._cache) > self.settings.explain_cache_size:
                        self._cache.popitem(last=False)
        return known.select(layers), not missing

    def _check_text(self, text: str, field: str) -> None:
        limit = self.settings.explain_max_chars
        if len(text) > limit:
            raise InvalidExplainRequest(
                f"{field} is {len(text)} characters long; the limit is {limit} "
                f"(inputs are also cut to {self.settings.explain_max_tokens} tokens)"
            )

    @staticmethod
    def _indices(requested: list[int] | None, count: int, what: str) -> tuple[int, ...]:
        if requested is None:
            return tuple(range(count))
        wrong = [i for i in requested if not 0 <= i < count]
        if wrong:
            raise InvalidExplainRequest(
                f"{what} {', '.join(map(str, wrong))} does not exist: the model has {what}s 0 to {count - 1}"
            )
        return tuple(requested)
