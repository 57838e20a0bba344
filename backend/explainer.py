"""The explorer's service: loads catalog models once, keeps them warm, and answers explain requests.

Pass 1 (the attribution) is the expensive part, so it is cached per input, model, method and layer;
moving p, q, the mode or the seed only redraws the masks (:func:`addrop.explain.draw_masks`).
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
from addrop.hooks import attach, num_heads
from addrop.models import ModelLoadError, load_classifier, load_tokenizer
from backend.catalog import CatalogEntry, ModelCatalog
from backend.encoding import encode_array
from backend.schemas.explain import ExplainRequest, ExplainResponse, ModelInfo
from backend.settings import Settings

T = TypeVar("T")


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
    num_layers: int
    num_heads: int


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
        self._cache: OrderedDict[tuple, InputAttribution] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.pool = ExplainPool(settings.explain_workers, settings.explain_queue, settings.explain_threads)

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

    def costly(self, request: ExplainRequest) -> bool:
        """Whether ``request`` needs integrated gradients computed (tens of seconds for 100 steps), not read
        from the cache; a model not loaded yet counts as costly (loading takes seconds)."""
        if request.method != "IGA":
            return False
        warm = self._models.get(request.model)
        if warm is None:
            return True
        with self._cache_lock:
            known = self._cache.get(self._key(warm, request))
        wanted = range(warm.num_layers) if request.layers is None else request.layers
        return known is None or any(layer not in known.layers for layer in wanted)

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
                view.attribution, view.layers, request.p, request.q, request.mode, request.seed, view.causal
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
            token_predictions=view.token_predictions,
            token_probabilities=view.token_probabilities,
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
        model.to(self.settings.explain_device).eval()
        hooks = attach(model)
        for module in hooks.modules:
            module.register_forward_pre_hook(_stop_if_abandoned)
        return WarmModel(entry, model, tokenizer, hooks.num_layers(), num_heads(model))

    def _key(self, warm: WarmModel, request: ExplainRequest) -> tuple:
        return (
            warm.entry,
            request.text,
            request.text_pair,
            request.method,
            request.steps if request.method == "IGA" else None,
            request.seed if request.method == "RD" else None,
            self.settings.explain_max_tokens,
        )

    def _attribution(
        self, warm: WarmModel, request: ExplainRequest, layers: tuple[int, ...]
    ) -> tuple[InputAttribution, bool]:
        """The attribution of ``layers``, computing only the layers not cached yet."""
        key = self._key(warm, request)
        with self._cache_lock:
            known = self._cache.get(key)
            if known is not None:
                self._cache.move_to_end(key)
        missing = tuple(layer for layer in layers if known is None or layer not in known.layers)
        if missing:
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
