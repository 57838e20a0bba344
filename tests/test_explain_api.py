"""The explorer's API: happy paths, every bad input, and numbers equal to what the library computes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import BertForSequenceClassification

from addrop.explain import draw_masks, explain
from addrop.models import load_classifier, load_tokenizer
from backend.catalog import CatalogEntry
from backend.encoding import decode_array
from backend.main import create_app
from backend.settings import Settings
from tests.tiny_models import save_tiny_model

PAIR = {"text": "The cat sat on the mat.", "text_pair": "A cat was sitting on a mat."}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny random BERT with named labels and the MiniLM tokenizer, saved like a fine-tuned checkpoint."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny"), BertForSequenceClassification, "minilm", layers=2,
                           num_labels=3, id2label={0: "neg", 1: "neutral", 2: "pos"},
                           label2id={"neg": 0, "neutral": 1, "pos": 2})


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_dir):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("studio"),
        models=["minilm", str(tiny_dir), "/nonexistent/model-dir"],
        explain_max_chars=400,
        explain_max_tokens=32,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def minilm():
    return load_classifier("minilm"), load_tokenizer("minilm")


def post(client, **body):
    return client.post("/api/explain", json=body)


def maps(payload) -> dict[str, np.ndarray]:
    return {key: decode_array(payload[key]) for key in ("attention", "attribution", "candidate", "dropped") if payload[key]}


def test_health_models_and_page(client, tiny_dir):
    assert client.get("/api/health").json()["status"] == "ok"
    models = client.get("/api/models").json()
    # a configured directory is listed by its last component: no path of the server reaches a client
    assert [m["name"] for m in models] == ["minilm", tiny_dir.name, "model-dir"]
    assert all(m["kind"] == "configured" for m in models)
    listed = client.get("/api/models").text
    assert str(tiny_dir.parent) not in listed and "/nonexistent" not in listed
    page = client.get("/")
    plotly = "/static/vendor/plotly.js-cartesian-dist-min/plotly-cartesian.min.js"
    assert page.status_code == 200 and plotly in page.text and "js/explorer/main.js" in page.text
    script = client.get(plotly)
    assert script.status_code == 200 and len(script.content) > 1_000_000
    assert client.get("/static/js/explorer/main.js").status_code == 200
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ExplainRequest"]["examples"][0]["text"]


def test_api_numbers_equal_the_library(client, minilm):
    model, tokenizer = minilm
    response = post(client, **PAIR, p=0.3, q=0.5, seed=7)
    assert response.status_code == 200, response.text
    payload = response.json()
    got = maps(payload)
    reference = explain(model, tokenizer, PAIR["text"], PAIR["text_pair"], p=0.3, q=0.5, seed=7, max_length=32)
    assert payload["tokens"] == reference.tokens
    assert payload["segments"] == reference.segments and 1 in payload["segments"]
    assert payload["special"][0] and payload["special"][-1]
    assert (payload["num_layers"], payload["num_heads"]) == (6, 12)
    assert payload["layers"] == list(range(6)) and payload["heads"] == list(range(12))
    n = len(reference.tokens)
    for key in ("attention", "attribution", "candidate", "dropped"):
        assert got[key].shape == (6, 12, n, n)
    np.testing.assert_allclose(got["attention"], reference.attention.numpy(), rtol=1e-5, atol=1e-7)
    # float32 gradients summed in another order (the API's explain threads, not this process's) differ by about
    # 1e-5 of the map's largest value; a fixed atol of 1e-9 failed on cells a thousand times smaller than that
    expected = reference.attribution.numpy()
    np.testing.assert_allclose(got["attribution"], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_array_equal(got["candidate"], reference.candidate.numpy())
    np.testing.assert_array_equal(got["dropped"], reference.dropped.numpy())
    assert payload["probabilities"] == pytest.approx(reference.probabilities, abs=1e-6)
    assert payload["prediction"] == reference.prediction and payload["pseudo_label"] == reference.pseudo_label
    assert payload["target"] == "logit" and payload["head_trained"] is False


def test_subsets_of_layers_and_heads_slice_the_same_maps(client):
    full = maps(post(client, **PAIR, seed=3).json())
    part = post(client, **PAIR, seed=3, layers=[5, 2], heads=[7, 1])
    assert part.status_code == 200
    payload = part.json()
    assert payload["layers"] == [2, 5] and payload["heads"] == [1, 7]
    got = maps(payload)
    index = np.ix_([2, 5], [1, 7])
    for key in got:
        np.testing.assert_array_equal(got[key], full[key][index])


def test_moving_p_q_or_seed_reuses_the_attribution(client, minilm):
    first = post(client, text="a gorgeous, witty, seductive movie.", layers=[1], p=0.3, q=0.2)
    assert first.status_code == 200 and first.json()["cached"] is False
    moved = post(client, text="a gorgeous, witty, seductive movie.", layers=[1], p=0.6, q=0.7, seed=11,
                 mode="low", fields=["candidate", "dropped"])
    payload = moved.json()
    assert payload["cached"] is True and payload["attention"] is None and payload["attribution"] is None
    attribution = torch.from_numpy(maps(first.json())["attribution"].copy())
    candidate, dropped = draw_masks(attribution, (1,), 0.6, 0.7, "low", 11)
    np.testing.assert_array_equal(decode_array(payload["candidate"]), candidate.numpy())
    np.testing.assert_array_equal(decode_array(payload["dropped"]), dropped.numpy())
    assert not np.array_equal(decode_array(payload["candidate"]), maps(first.json())["candidate"])


def test_every_method_and_a_checkpoint_with_named_labels(client, tiny_dir):
    for method in ("GA", "IGA", "AA", "RD"):
        response = post(client, text="fine", model=tiny_dir.name, method=method.lower(), steps=4)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["method"] == method and payload["labels"] == ["neg", "neutral", "pos"]
        assert payload["head_trained"] is True and sum(payload["probabilities"]) == pytest.approx(1, abs=1e-5)
        got = maps(payload)
        assert got["attention"].shape == (2, 4, 3, 3)
        assert (got["candidate"].sum(-1) >= 1).all()
    aa = maps(post(client, text="fine", model=tiny_dir.name, method="AA").json())
    np.testing.assert_array_equal(aa["attention"], aa["attribution"])


def test_long_input_is_truncated_and_says_so(client):
    payload = post(client, text="word " * 70, layers=[0], heads=[0]).json()
    assert payload["truncated"] is True and len(payload["tokens"]) == 32 and payload["max_tokens"] == 32
    assert payload["tokens"][-1] == "[SEP]"


def test_tokens_are_returned_as_text_not_markup(client):
    payload = post(client, text='<img src=x onerror="alert(1)"> & <b>', layers=[0], heads=[0]).json()
    assert "<" in payload["tokens"] and ">" in payload["tokens"]


def test_job_checkpoints_join_the_catalog(client, tiny_dir):
    explainer = client.app.state.explainer
    entry = CatalogEntry(name="job-42", source=str(tiny_dir), kind="checkpoint", description="sst2, GA")
    explainer.catalog.checkpoints = lambda: [entry]
    try:
        listed = client.get("/api/models").json()
        assert listed[-1] == {"name": "job-42", "kind": "checkpoint", "description": "sst2, GA", "loaded": False,
                              "task": "classification"}
        response = post(client, text="fine", model="job-42", layers=[0])
        assert response.status_code == 200 and response.json()["model"] == "job-42"
    finally:
        explainer.catalog.checkpoints = lambda: []
    assert post(client, text="fine", model="job-42").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"text": ""}, 422, "the text is empty"),
        ({"text": "   \n"}, 422, "the text is empty"),
        ({"text_pair": "only a pair"}, 422, "text: Field required"),
        ({"text": "x" * 401}, 422, "the limit is 400"),
        ({"text": "ok", "text_pair": "y" * 401}, 422, "text_pair is 401 characters"),
        ({"text": "ok", "p": 0}, 422, "p: Input should be greater than 0"),
        ({"text": "ok", "p": 1}, 422, "p: Input should be less than 1"),
        ({"text": "ok", "q": 1.5}, 422, "q: Input should be less than 1"),
        ({"text": "ok", "q": "lots"}, 422, "q: Input should be a valid number"),
        ({"text": "ok", "method": "SHAP"}, 422, "method: Input should be 'GA', 'IGA', 'AA' or 'RD'"),
        ({"text": "ok", "mode": "random"}, 422, "mode: Input should be 'high' or 'low'"),
        ({"text": "ok", "seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
        ({"text": "ok", "layers": [6]}, 422, "layer 6 does not exist: the model has layers 0 to 5"),
        ({"text": "ok", "layers": []}, 422, "layers: give at least one index"),
        ({"text": "ok", "heads": [12, -1]}, 422, "head -1, 12 does not exist: the model has heads 0 to 11"),
        ({"text": "ok", "fields": ["gradients"]}, 422, "fields.0: Input should be"),
        ({"text": "ok", "model": "bert-large-uncased"}, 404, "unknown model 'bert-large-uncased'"),
        ({"text": "ok", "model": "../../etc/passwd"}, 404, "the explorer can load: minilm"),
        ({"text": "ok", "model": "model-dir"}, 503, "could not be loaded"),
        ({"text": "ok", "model": "/nonexistent/model-dir"}, 404, "unknown model '/nonexistent/model-dir'"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, body, status, message):
    response = post(client, **body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_malformed_body_gets_a_clear_422(client):
    response = client.post("/api/explain", content=b'{"text": "unterminated', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_concurrent_requests_agree(client):
    bodies = [dict(PAIR, layers=[layer % 6], seed=layer % 3) for layer in range(16)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda body: post(client, **body), bodies))
    assert all(r.status_code == 200 for r in responses)
    for body, response in zip(bodies, responses):
        again = post(client, **body).json()
        assert json.dumps(maps(again)["dropped"].tolist()) == json.dumps(maps(response.json())["dropped"].tolist())
        np.testing.assert_array_equal(maps(again)["attribution"], maps(response.json())["attribution"])


def test_least_recently_used_models_leave_when_the_limit_is_reached(tmp_path, tiny_dir):
    from backend.explainer import Explainer
    from backend.schemas.explain import ExplainRequest

    explainer = Explainer(Settings(data_dir=tmp_path, models=["minilm", str(tiny_dir)], explain_max_models=1))
    loaded = lambda: {m.name: m.loaded for m in explainer.models()}  # noqa: E731
    explainer.explain(ExplainRequest(text="first", model="minilm", layers=[0]))
    assert loaded() == {"minilm": True, tiny_dir.name: False}
    explainer.explain(ExplainRequest(text="second", model=tiny_dir.name, layers=[0]))
    assert loaded() == {"minilm": False, tiny_dir.name: True}
    again = explainer.explain(ExplainRequest(text="first", model="minilm", layers=[0]))
    assert again.cached and loaded() == {"minilm": True, tiny_dir.name: False}
