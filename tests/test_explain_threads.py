"""The explain pool's threads compute with their own torch thread count, leaving everyone else's alone."""

from __future__ import annotations

import asyncio

import torch
from starlette.requests import Request

from backend.explainer import ExplainPool
from backend.settings import Settings


def staying_client() -> Request:
    async def receive():  # the client never leaves
        await asyncio.Event().wait()

    return Request({"type": "http", "method": "POST", "headers": []}, receive)


def test_pool_threads_use_the_configured_torch_threads():
    before = torch.get_num_threads()
    pool = ExplainPool(workers=2, queue=0, threads=before + 1)  # a count nobody else has

    async def both():
        return await asyncio.gather(*(pool.run(staying_client(), torch.get_num_threads) for _ in range(2)))

    assert asyncio.run(both()) == [before + 1, before + 1]
    assert torch.get_num_threads() == before  # the caller's (and the training code's) count is untouched


def test_explain_threads_default_to_one_and_come_from_the_environment(monkeypatch):
    assert Settings().explain_threads == 1
    monkeypatch.setenv("ADDROP_EXPLAIN_THREADS", "3")
    assert Settings().explain_threads == 3
