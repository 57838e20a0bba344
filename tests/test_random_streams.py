"""Every random choice comes from its own stream: statistics at the outermost interfaces.

Given the candidate region, each candidate is dropped independently with probability q (the lost-all rule
cannot fire here: no row has all of its keys dropped with these p and n).  So the number of dropped
candidates is binomial, and so is the number of positions where two independent draws agree (probability
q^2 + (1-q)^2).  Every check allows SIGMAS standard deviations of that binomial: a correct implementation
fails one by chance with probability under 1e-6, while a shared stream misses by tens of sigmas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import BertForSequenceClassification

from addrop.dropout import ADDrop, ADDropConfig
from addrop.explain import explain
from backend.encoding import decode_array
from backend.main import create_app
from backend.settings import Settings
from tests.tiny_models import save_tiny_model, tiny_batch, tiny_bert, tiny_config, tiny_tokenizer

SIGMAS = 5.0
METHODS = ("GA", "IGA", "AA", "RD")
TEXTS = [
    {
        "text": "The old lighthouse keeper climbed the winding stairs every evening to light the lamp.",
        "text_pair": "Each night the keeper walked up the tower and lit the great lamp for the ships.",
    },
    {"text": "A gorgeous, witty, seductive movie that never once loses its nerve or its sense of humour at all."},
]
SEEDS = (0, 1, 2)


def assert_binomial(hits: int, total: int, rate: float, what: str) -> None:
    """``hits`` out of ``total`` is within SIGMAS binomial standard deviations of ``rate``."""
    assert total > 0, f"{what}: nothing to count"
    sigma = math.sqrt(total * rate * (1 - rate))
    assert abs(hits - total * rate) <= SIGMAS * sigma, (
        f"{what}: {hits}/{total} = {hits / total:.4f}, expected {rate:.4f} +/- {SIGMAS * sigma / total:.4f}"
    )


def agreement_rate(q: float) -> float:
    """Probability that two independent Bernoulli(q) decisions agree."""
    return q * q + (1 - q) * (1 - q)


# --- the explorer, through POST /api/explain -------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The app with a tiny random 3-layer, 4-head BERT (MiniLM tokenizer) as its only model."""
    path = save_tiny_model(tmp_path_factory.mktemp("tiny3"), BertForSequenceClassification, "minilm", layers=3)
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=[str(path)], explain_max_tokens=64)
    with TestClient(create_app(settings)) as test_client:
        test_client.model_name = path.name  # the catalog lists a directory by its last component
        yield test_client


def explained(client, **body) -> list[dict[str, np.ndarray]]:
    """Attribution, candidate and dropped maps ``[layers, heads, n, n]`` for every text and seed."""
    out = []
    for text in TEXTS:
        for seed in SEEDS:
            response = client.post(
                "/api/explain",
                json={**text, **body, "model": client.model_name, "seed": seed, "steps": 3,
                      "fields": ["attribution", "candidate", "dropped"]},
            )
            assert response.status_code == 200, response.text
            payload = response.json()
            out.append({key: decode_array(payload[key]) for key in ("attribution", "candidate", "dropped")})
    return out


@pytest.mark.parametrize("q", [0.2, 0.5])
@pytest.mark.parametrize("mode", ["high", "low"])
@pytest.mark.parametrize("method", METHODS)
def test_explorer_drops_a_q_fraction_of_the_candidates(client, method, mode, q):
    results = explained(client, method=method, mode=mode, p=0.3, q=q)
    for layer in range(3):
        candidates = sum(int(r["candidate"][layer].sum()) for r in results)
        dropped = sum(int((r["dropped"][layer] & r["candidate"][layer]).sum()) for r in results)
        assert_binomial(dropped, candidates, q, f"{method} {mode} layer {layer} dropped fraction")
        assert not any((r["dropped"][layer] & ~r["candidate"][layer]).any() for r in results)


@pytest.mark.parametrize("method", METHODS)
def test_explorer_layers_draw_independently(client, method):
    q = 0.3
    results = explained(client, method=method, p=0.3, q=q)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        shared = agree = 0
        for r in results:
            both = r["candidate"][a] & r["candidate"][b]
            shared += int(both.sum())
            agree += int(((r["dropped"][a] == r["dropped"][b]) & both).sum())
        assert_binomial(agree, shared, agreement_rate(q), f"{method} layers {a} and {b} agreement")


@pytest.mark.parametrize("mode", ["high", "low"])
def test_explorer_rd_drops_do_not_follow_its_noise(client, mode):
    """Split RD's candidates by their noise (below q or not): each part still loses a q fraction."""
    q = 0.3
    results = explained(client, method="RD", mode=mode, p=0.9, q=q)
    for layer in range(3):
        for name, part in (("noise < q", lambda x: x < q), ("noise >= q", lambda x: x >= q)):
            total = hits = 0
            for r in results:
                chosen = r["candidate"][layer] & part(r["attribution"][layer])
                total += int(chosen.sum())
                hits += int((r["dropped"][layer] & chosen).sum())
            assert_binomial(hits, total, q, f"RD {mode} layer {layer}, candidates with {name}")


def test_explorer_rd_layer_does_not_depend_on_the_other_layers_asked_for():
    """RD's noise and masks of a layer are the same whether it is asked for alone or with others."""
    tokenizer = tiny_tokenizer("minilm")
    model = tiny_bert(len(tokenizer), BertForSequenceClassification)
    text = TEXTS[0]["text"]
    full = explain(model, tokenizer, text, method="RD", seed=5, p=0.3, q=0.5)
    for layers in [(1,), (2, 0), (2,)]:
        part = explain(model, tokenizer, text, method="RD", layers=layers, seed=5, p=0.3, q=0.5)
        for index, layer in enumerate(part.layers):
            torch.testing.assert_close(part.attribution[index], full.attribution[layer])
            assert torch.equal(part.dropped[index], full.dropped[layer])


# --- training, through ADDrop.plan ---------------------------------------------------------------------------


def plans(method: str, mode: str, q: float, generator: torch.Generator | None, steps: int = 6, p: float = 0.3):
    """``steps`` consecutive plans of one batch on a tiny 3-layer BERT, masking every layer."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config("bert", num_labels=3)).train()
    addrop = ADDrop(model, ADDropConfig(method=method, p=p, q=q, layers=(0, 1, 2), mode=mode, steps=2), generator)
    inputs = tiny_batch(batch=8, n=24)
    out = []
    for _ in range(steps):
        plan = addrop.plan(inputs)
        # plans share ADDrop's buffers, so keep a copy of each step's masks
        out.append((plan.result.attribution.float().clone(), plan.candidate.clone(), plan.dropped.clone()))
    return out


GENERATORS = {"no generator": lambda: None, "generator": lambda: torch.Generator().manual_seed(123)}


@pytest.mark.parametrize("gen", list(GENERATORS))
@pytest.mark.parametrize("mode", ["high", "low"])
@pytest.mark.parametrize("method", ["GA", "AA", "RD"])
def test_training_drops_a_q_fraction_independently_per_layer_and_step(method, mode, gen):
    q = 0.3
    steps = plans(method, mode, q, GENERATORS[gen]())
    for layer in range(3):
        candidates = sum(int(c[layer].sum()) for _, c, _ in steps)
        dropped = sum(int((d[layer] & c[layer]).sum()) for _, c, d in steps)
        assert_binomial(dropped, candidates, q, f"{method} {mode} {gen} layer {layer} dropped fraction")
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        both = [c[a] & c[b] for _, c, _ in steps]
        agree = sum(int(((d[a] == d[b]) & m).sum()) for (_, _, d), m in zip(steps, both))
        assert_binomial(agree, sum(int(m.sum()) for m in both), agreement_rate(q),
                        f"{method} {mode} {gen} layers {a} and {b} agreement")
    shared = agree = 0
    for (_, c1, d1), (_, c2, d2) in zip(steps, steps[1:]):  # consecutive steps draw afresh
        both = c1 & c2
        shared += int(both.sum())
        agree += int(((d1 == d2) & both).sum())
    assert_binomial(agree, shared, agreement_rate(q), f"{method} {mode} {gen} consecutive steps agreement")


@pytest.mark.parametrize("gen", list(GENERATORS))
@pytest.mark.parametrize("mode", ["high", "low"])
def test_training_rd_drops_do_not_follow_its_noise(mode, gen):
    q = 0.3
    steps = plans("RD", mode, q, GENERATORS[gen](), p=0.9)
    for name, part in (("noise < q", lambda x: x < q), ("noise >= q", lambda x: x >= q)):
        total = hits = 0
        for noise, c, d in steps:
            chosen = c & part(noise)
            total += int(chosen.sum())
            hits += int((d & chosen).sum())
        assert_binomial(hits, total, q, f"RD {mode} {gen}, candidates with {name}")
