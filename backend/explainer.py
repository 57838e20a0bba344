"""The explorer's service: loads catalog models once, keeps them warm, and answers explain requests.

Pass 1 (the attribution) is the expensive part, so it is cached per input, model, method and layer, within a
budget of memory (:class:`backend.explain_cache.AttributionCache`); moving p, q, the mode or the seed only redraws
the masks (:func:`addrop.explain.draw_masks`).
Requests are computed on the explorer's own bounded pool of threads (:class:`ExplainPool`), never on the
threads that serve the rest of the app.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from typing import TypeVar

import torch
from starlette.requests import Request
from torch import nn
from transformers import PreTrainedTokenizerBase

from addrop.explain import InputAttribution, attribute_text, draw_masks
from addrop.explain_seq2seq import TranslationAttribution, attribute_translation
from addrop.hooks import AttentionHooks, attach, num_heads
from addrop.models import ModelLoadError, load_saved, load_tokenizer, saved_task
from backend.catalog import CatalogEntry, ModelCatalog
from backend.encoding import encode_array
from backend.errors import clipped
from backend.explain_cache import AttributionCache
from backend.schemas.explain import ExplainRequest, ExplainResponse, ModelInfo, Task, TranslationView
from backend.settings import Settings

T = TypeVar("T")
NAMED_INDICES = 5
"""The most wrong layer or head indices a refusal names; the rest are counted."""


class InvalidExplainRequest(ValueError):
    """A request that is well-formed but cannot be answered (text too long, no such layer)."""


class ExplainBusy(Exception):
    """Every thread of the pool is busy and its queue is full; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the explorer is busy with other requests; try again in {retry_after} s")
        self.retry_after = retry_after


class ExplainAbandoned(Exception):
    """The client left before its answer was ready: the request was never started, or stopped mid-pass."""


# Set while a pool thread computes a request: the event that says its client has left.
_ABANDONED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("explain_abandoned", default=None)


def _stop_if_abandoned(module: nn.Module, args: tuple) -> None:
    # A forward pre-hook on every attention layer: a left request stops within one layer's pass.
    left = _ABANDONED.get()
    if left is not None and left.is_set():
        raise ExplainAbandoned("the client left")


@dataclass
class WarmModel:
    """A loaded model with its tokenizer. Passes through it may run concurrently: the hooks keep each
    pass's state in its own thread, and the pool bounds how many run at once."""

    entry: CatalogEntry
    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    hooks: AttentionHooks
    num_heads: int

    @property
    def translation(self) -> bool:
        """An encoder-decoder: it translates its input, and its maps come in three kinds."""
        return self.hooks.encoder_decoder

    @property
    def task(self) -> Task:
        """What the model explains, as answers name it."""
        return "translation" if self.translation else "classification"

    @property
    def kinds(self) -> dict[str, int]:
        """The model's kinds of attention map, each with its number of layers, in call order."""
        return {kind: self.hooks.num_layers(kind) for kind in dict.fromkeys(self.hooks.kinds)}

    def kind(self, requested: str | None) -> str:
        """The kind of map a request asks for (None: the model's default); :class:`InvalidExplainRequest` for a
        kind the model lacks."""
        try:
            return self.hooks.kind(requested)
        except ValueError as error:
            raise InvalidExplainRequest(f"kind: {error}") from None


class ExplainPool:
    """The explorer's own threads: at most ``workers`` requests computed at once, of which at most
    ``workers - 1`` costly ones (integrated gradients, tens of seconds), so that one thread stays free for
    cheap requests; at most ``queue`` more wait (FIFO), and beyond that :class:`ExplainBusy`. A request
    whose client leaves is dropped from the queue, or stopped within one layer's pass if it runs."""

    def __init__(self, workers: int, queue: int, threads: int = 1) -> None:
        self.workers = workers
        self.queue = queue
        # torch's thread count is per OS thread (OpenMP's), so this sets it for the pool's threads only
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="explain", initializer=torch.set_num_threads,
                                            initargs=(threads,))
        # a semaphore serves one event loop: made by the first request of each (a test client starts its own)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._costly: asyncio.Semaphore | None = None
        self._admitted = 0  # waiting or running; only the event loop's thread changes it
        self._seconds = 1.0  # running mean of a request's compute time, for Retry-After

    async def run(self, request: Request, work: Callable[[], T], costly: bool = False) -> T:
        """``work()`` on a pool thread; :class:`ExplainAbandoned` when ``request``'s client leaves first."""
        if self._admitted >= self.workers + self.queue:
            waves = (self._admitted - self.workers + 1) / self.workers
            raise ExplainBusy(max(1, math.ceil(self._seconds * waves)))
        self._admitted += 1
        left = threading.Event()
        computed = asyncio.ensure_future(self._compute(work, left, costly))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({computed, gone}, return_when=asyncio.FIRST_COMPLETED)
            if computed.done():
                return computed.result()
            left.set()
            computed.cancel()
            with suppress(asyncio.CancelledError, ExplainAbandoned):
                await computed
            raise ExplainAbandoned("the client left")
        finally:
            gone.cancel()
            computed.cancel()
            self._admitted -= 1

    async def _compute(self, work: Callable[[], T], left: threading.Event, costly: bool) -> T:
        loop = asyncio.get_running_loop()
        if self._costly is None or self._loop is not loop:
            self._loop, self._costly = loop, asyncio.Semaphore(max(1, self.workers - 1))
        async with self._costly if costly else nullcontext():
            future = self._executor.submit(self._watched, work, left)
            outcome = asyncio.wrap_future(future)
            try:
                return await asyncio.shield(outcome)
            except asyncio.CancelledError:
                # not started: it never will be; running: it stops at its next layer. Either way the thread
                # (and the costly slot) is free only once it has.
                future.cancel()
                with suppress(BaseException):
                    await outcome
                raise

    def _watched(self, work: Callable[[], T], left: threading.Event) -> T:
        token = _ABANDONED.set(left)
        started = time.perf_counter()
        try:
            return work()
        finally:
            _ABANDONED.reset(token)
            self._seconds = 0.8 * self._seconds + 0.2 * (time.perf_counter() - started)


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next message is the client leaving (or never comes).
    while (await request.receive())["type"] != "http.disconnect":
        pass


class Explainer:
    """Answers :class:`ExplainRequest`s for the models of its catalog; safe to call from many threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = ModelCatalog(settings.models)
        self._models: OrderedDict[str, WarmModel] = OrderedDict()  # least recently used first
        self._loading: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self.cache: AttributionCache[InputAttribution | TranslationAttribution] = AttributionCache(
            settings.explain_cache_max_bytes)
        self.pool = ExplainPool(settings.explain_workers, settings.explain_queue, settings.explain_threads)

    def models(self) -> list[ModelInfo]:
        """Everything that can be explained, and whether it is loaded."""
        infos = []
        for entry in self.catalog.entries():
            warm = self._models.get(entry.name)
            task = saved_task(entry.source) if warm is None else warm.task
            infos.append(ModelInfo(name=entry.name, kind=entry.kind, description=entry.description,
                                   loaded=warm is not None, task=task))
        return infos

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

    def costly(self, request: ExplainRequest) -> bool:
        """Whether ``request`` needs integrated gradients computed (tens of seconds for 100 steps), not read
        from the cache; a model not loaded yet counts as costly (loading takes seconds)."""
        if request.method != "IGA":
            return False
        warm = self._models.get(request.model)
        if warm is None:
            return True
        try:
            kind = warm.kind(request.kind)
        except InvalidExplainRequest:
            return False  # refused before any computing
        known = self.cache.get(self._key(warm, request, kind))
        wanted = range(warm.kinds[kind]) if request.layers is None else request.layers
        return known is None or any(layer not in known.layers for layer in wanted)

    def explain(self, request: ExplainRequest) -> ExplainResponse:
        """Attribution (cached) and masks for ``request``, encoded for the wire."""
        for field in ("text", "text_pair", "reference"):
            if getattr(request, field) is not None:
                self._check_text(getattr(request, field), field)
        warm = self.warm(request.model)
        self._check_task(warm, request)
        kind = warm.kind(request.kind)
        layers = self._indices(request.layers, warm.kinds[kind], f"{kind} layer" if warm.translation else "layer")
        heads = self._indices(request.heads, warm.num_heads, "head")
        view, cached = self._attribution(warm, request, kind, layers)
        maps: dict[str, torch.Tensor] = {"attention": view.attention, "attribution": view.attribution}
        if {"candidate", "dropped"} & set(request.fields):
            # a translation model's kinds each draw from streams of their own; a classifier's layers as ever
            maps["candidate"], maps["dropped"] = draw_masks(
                view.attribution, view.layers, request.p, request.q, request.mode, request.seed, view.causal,
                kind if warm.translation else None,
            )
        encoded = {field: encode_array(maps[field][:, heads]) for field in request.fields}
        common = dict(
            model=request.model,
            method=view.method,
            mode=request.mode,
            p=request.p,
            q=request.q,
            seed=request.seed,
            steps=request.steps,
            task=warm.task,
            kind=kind,
            kinds=warm.kinds,
            causal=view.causal,
            max_tokens=self.settings.explain_max_tokens,
            num_layers=warm.kinds[kind],
            num_heads=warm.num_heads,
            target=view.target,
            layers=list(layers),
            heads=list(heads),
            cached=cached,
            **encoded,
        )
        if isinstance(view, TranslationAttribution):
            return self._translation_response(view, common)
        return ExplainResponse(
            tokens=view.tokens,
            special=view.special,
            segments=view.segments,
            truncated=view.truncated,
            labels=view.label_names,
            probabilities=view.probabilities,
            prediction=view.prediction,
            pseudo_label=view.pseudo_label,
            token_predictions=view.token_predictions,
            token_probabilities=view.token_probabilities,
            head_trained=view.head_trained,
            **common,
        )

    @staticmethod
    def _translation_response(view: TranslationAttribution, common: dict) -> ExplainResponse:
        """A translation model's answer: the maps' keys in ``tokens``, their rows in ``query_tokens``."""
        return ExplainResponse(
            tokens=view.key_tokens,
            special=view.key_special,
            query_tokens=view.query_tokens,
            query_special=view.query_special,
            segments=[0] * len(view.key_tokens),
            truncated=view.truncated,
            labels=[],
            probabilities=[],
            prediction=None,
            pseudo_label=None,
            head_trained=True,
            translation=TranslationView(
                source_tokens=view.source_tokens, source_special=view.source_special,
                target_tokens=view.target_tokens, target_special=view.target_special,
                target_labels=view.target_labels, text=view.translation, reference=view.reference,
                target_truncated=view.target_truncated,
            ),
            **common,
        )

    @staticmethod
    def _check_task(warm: WarmModel, request: ExplainRequest) -> None:
        """A translation model reads one sentence and may take a reference; a classifier takes no reference."""
        if warm.translation and request.text_pair is not None:
            raise InvalidExplainRequest(
                f"text_pair: {request.model!r} is a translation model, which translates one sentence; give a "
                "reference translation as reference, or leave the second sentence empty"
            )
        if not warm.translation and request.reference is not None:
            raise InvalidExplainRequest(
                f"reference: {request.model!r} is a classifier; only a translation model (an encoder-decoder) "
                "takes a reference translation"
            )

    def close(self) -> None:
        """Drop the loaded models and cached attributions."""
        with self._registry_lock:
            self._models.clear()
        self.cache.clear()

    def _load(self, entry: CatalogEntry) -> WarmModel:
        try:
            model = load_saved(entry.source)
            tokenizer = load_tokenizer(entry.source)
        except ModelLoadError as error:
            raise ModelLoadError(f"model {entry.name!r} could not be loaded: {error}") from error
        model.to(self.settings.explain_device).eval()
        hooks = attach(model)
        for module in hooks.modules:
            module.register_forward_pre_hook(_stop_if_abandoned)
        return WarmModel(entry, model, tokenizer, hooks, num_heads(model))

    def _key(self, warm: WarmModel, request: ExplainRequest, kind: str) -> tuple:
        return (
            warm.entry,
            kind,
            request.text,
            request.text_pair,
            request.reference,
            request.method,
            request.steps if request.method == "IGA" else None,
            request.seed if request.method == "RD" else None,
            self.settings.explain_max_tokens,
        )

    def _attribution(
        self, warm: WarmModel, request: ExplainRequest, kind: str, layers: tuple[int, ...]
    ) -> tuple[InputAttribution | TranslationAttribution, bool]:
        """The attribution of ``layers`` of ``kind``, computing only the layers not cached yet."""
        key = self._key(warm, request, kind)
        known = self.cache.get(key)
        missing = tuple(layer for layer in layers if known is None or layer not in known.layers)
        if missing:
            fresh = self._compute(warm, request, kind, missing)
            known = fresh if known is None else known.merge(fresh)
            self.cache.put(key, known)
        return known.select(layers), not missing

    def _compute(
        self, warm: WarmModel, request: ExplainRequest, kind: str, layers: tuple[int, ...]
    ) -> InputAttribution | TranslationAttribution:
        """Pass 1 for ``layers``: a translation model translates and attributes ``kind``; a classifier has one kind."""
        common = dict(method=request.method, layers=layers, steps=request.steps,
                      max_length=self.settings.explain_max_tokens, seed=request.seed)
        if warm.translation:
            return attribute_translation(warm.model, warm.tokenizer, request.text, request.reference, kind=kind, **common)
        return attribute_text(warm.model, warm.tokenizer, request.text, request.text_pair, **common)

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
            # Named up to a few, each cut: the request may list 100,000 of them, or one of 4,000 digits.
            named = ", ".join(clipped(str(i)) for i in wrong[:NAMED_INDICES])
            more = f" (and {len(wrong) - NAMED_INDICES} more)" if len(wrong) > NAMED_INDICES else ""
            raise InvalidExplainRequest(
                f"{what} {named}{more} does not exist: the model has {what}s 0 to {count - 1}"
            )
        return tuple(requested)
