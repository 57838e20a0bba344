"""The explorer's attribution cache, through the API: bounded by the bytes its entries take, least recently used
leaving first, and an input larger than the whole budget answered but not kept.

A tiny BERT (3 layers x 4 heads) at 64 tokens holds 2 x 3 x 4 x 64 x 64 float32 = 384 KiB of maps per input,
so a budget of 1 MiB keeps two long inputs and not three."""

from __future__ import annotations

import random
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from transformers import BertForSequenceClassification

from backend.encoding import decode_array
from backend.main import create_app
from backend.settings import Settings
from tests.tiny_models import save_tiny_model

TOKENS = 64
MAPS_BYTES = 2 * 3 * 4 * TOKENS * TOKENS * 4  # attention and attribution, float32
WORDS = "the film is a gorgeous witty and seductive movie with story that never quite finds its feet but cast".split()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"), BertForSequenceClassification, layers=3)


@pytest.fixture
def explorer(tmp_path, tiny_dir):
    """``explorer(max_bytes)``: a client of an app with the tiny model and a cache of that budget."""
    with ExitStack() as stack:

        def start(max_bytes: int) -> TestClient:
            settings = Settings(data_dir=tmp_path, models=[f"tiny={tiny_dir}"], explain_max_tokens=TOKENS,
                                explain_cache_max_bytes=max_bytes)
            return stack.enter_context(TestClient(create_app(settings)))

        yield start


def long_text(seed: int) -> str:
    """A distinct input of more than TOKENS tokens (cut to TOKENS)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(2 * TOKENS))


def cached(client: TestClient, text: str, **body) -> bool:
    """Whether the answer to ``text`` (over every layer) reused a kept attribution; the answer must be whole."""
    response = client.post("/api/explain", json={"text": text, "model": "tiny", "fields": ["attention"], **body})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert decode_array(payload["attention"]).shape[0] == len(payload["layers"])
    return payload["cached"]


def usage(client: TestClient) -> tuple[int, int]:
    health = client.get("/api/health").json()
    return health["explain_cache_bytes"], health["explain_cache_entries"]


def test_many_long_inputs_stay_within_the_budget(explorer):
    budget = 1024 * 1024
    client = explorer(budget)
    for seed in range(12):
        assert cached(client, long_text(seed)) is False
        held, entries = usage(client)
        assert entries == min(seed + 1, 2) and entries * MAPS_BYTES < held <= budget
    # the two most recent inputs are kept, and only those: asked again from the newest back, the first miss is
    # the third newest
    assert [cached(client, long_text(seed)) for seed in (11, 10, 9)] == [True, True, False]
    assert usage(client)[0] <= budget


def test_an_input_larger_than_the_budget_is_answered_but_not_kept(explorer):
    client = explorer(MAPS_BYTES // 2)  # room for a short input, not for a long one
    assert cached(client, "fine") is False
    assert cached(client, long_text(0)) is False
    assert cached(client, long_text(0)) is False  # not kept: computed again
    assert cached(client, "fine") is True  # and nothing left for it
    held, entries = usage(client)
    assert entries == 1 and held < MAPS_BYTES // 2


def test_the_least_recently_used_input_leaves_first(explorer):
    client = explorer(1024 * 1024)  # two long inputs
    first, second, third = (long_text(seed) for seed in range(3))
    assert [cached(client, text) for text in (first, second, first, third)] == [False, False, True, False]
    # first was used after second, so second left for third
    assert [cached(client, text) for text in (first, third, second)] == [True, True, False]


def test_an_input_asked_for_more_layers_is_counted_once(explorer):
    client = explorer(1024 * 1024)
    text = long_text(0)
    assert cached(client, text, layers=[0]) is False
    one_layer, _ = usage(client)
    assert cached(client, text) is False  # the other two layers are computed and merged in
    held, entries = usage(client)
    assert entries == 1 and held == one_layer + 2 * MAPS_BYTES // 3
    assert cached(client, text) is True
