"""The explorer's API for a translation model (a tiny random Marian saved in the test): its kinds of map, source
and target tokens, numbers equal to the library's, and every bad input a clear 4xx."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.tiny_models import save_tiny_model
from tests.tiny_translation import save_tiny_marian
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, BertForSequenceClassification

from addrop.explain_seq2seq import explain_translation
from backend.encoding import decode_array
from backend.main import create_app
from backend.settings import Settings

SOURCE = "the cat sees the red house"
REFERENCE = "le pisica vede le casa rosu"
MAX_TOKENS = 16
FIELDS = ("attention", "attribution", "candidate", "dropped")


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    return save_tiny_marian(tmp_path_factory.mktemp("marian"))


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("classifier"), BertForSequenceClassification, "minilm", layers=2)


@pytest.fixture(scope="module")
def client(tmp_path_factory, marian_dir, classifier_dir):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=[str(marian_dir), str(classifier_dir)],
                        explain_max_chars=200, explain_max_tokens=MAX_TOKENS)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def library(marian_dir):
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    return model, AutoTokenizer.from_pretrained(marian_dir)


def post(client, marian_dir, **body):
    return client.post("/api/explain", json={"model": marian_dir.name, "text": SOURCE, **body})


def maps(payload) -> dict[str, np.ndarray]:
    return {key: decode_array(payload[key]) for key in FIELDS if payload[key]}


def test_the_model_list_says_which_models_translate(client, marian_dir, classifier_dir):
    listed = {m["name"]: m["task"] for m in client.get("/api/models").json()}
    assert listed == {marian_dir.name: "translation", classifier_dir.name: "classification"}


@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
@pytest.mark.parametrize("reference", [None, REFERENCE])
def test_each_kind_equals_the_library(client, marian_dir, library, kind, reference):
    response = post(client, marian_dir, kind=kind, reference=reference, p=0.4, q=0.5, seed=3, heads=[1, 3])
    assert response.status_code == 200, response.text
    payload = response.json()
    expected = explain_translation(*library, SOURCE, reference, kind=kind, p=0.4, q=0.5, seed=3,
                                   max_length=MAX_TOKENS)
    assert payload["task"] == "translation" and payload["kind"] == kind
    # the page leaves a causal map's later keys blank: the answer says which maps are causal (the library's own)
    assert payload["causal"] is (kind == "decoder") is expected.causal
    assert payload["kinds"] == {"encoder": 2, "decoder": 2, "cross": 2} and payload["num_layers"] == 2
    assert payload["labels"] == [] and payload["prediction"] is None
    assert payload["target"] == ("loss" if reference else "pseudo_loss")
    translation = payload["translation"]
    assert translation["text"] == expected.translation and translation["reference"] == reference
    assert translation["source_tokens"] == expected.source_tokens
    assert translation["target_tokens"] == expected.target_tokens
    assert translation["target_labels"] == expected.target_labels
    assert payload["tokens"] == expected.key_tokens and payload["query_tokens"] == expected.query_tokens
    assert payload["query_special"][0] == (kind != "encoder")  # the decoder's start token leads the target
    rows, keys = len(expected.query_tokens), len(expected.key_tokens)
    got = maps(payload)
    for field in FIELDS:
        assert got[field].shape == (2, 2, rows, keys)
        np.testing.assert_allclose(got[field], getattr(expected, field)[:, [1, 3]].numpy(), rtol=1e-4, atol=1e-7)


def test_the_default_kind_is_the_encoders_and_moving_p_reuses_the_attribution(client, marian_dir):
    text = "a dog likes the old tree"
    first = post(client, marian_dir, text=text, layers=[1])
    assert first.status_code == 200 and first.json()["kind"] == "encoder"
    assert first.json()["query_tokens"] == first.json()["tokens"] and first.json()["cached"] is False
    again = post(client, marian_dir, text=text, layers=[1], p=0.7, fields=["candidate", "dropped"])
    assert again.json()["cached"] is True and again.json()["attention"] is None
    other = post(client, marian_dir, text=text, layers=[1], kind="cross")
    assert other.json()["cached"] is False  # each kind has its own attribution


def test_a_classifier_answers_as_before_with_its_one_kind(client, classifier_dir):
    payload = client.post("/api/explain", json={"model": classifier_dir.name, "text": "fine", "kind": "encoder"}).json()
    assert payload["task"] == "classification" and payload["kind"] == "encoder"
    assert payload["kinds"] == {"encoder": 2} and payload["translation"] is None and payload["query_tokens"] is None
    assert payload["causal"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "self"}, "kind: Input should be 'encoder', 'decoder' or 'cross'"),
        ({"kind": "cross", "layers": [2]}, "cross layer 2 does not exist: the model has cross layers 0 to 1"),
        ({"text_pair": "le pisica"}, "is a translation model, which translates one sentence"),
        ({"reference": "x" * 201}, "reference is 201 characters long; the limit is 200"),
        ({"reference": 7}, "reference: Input should be a valid string"),
        ({"heads": [4]}, "head 4 does not exist: the model has heads 0 to 3"),
    ],
)
def test_bad_translation_input_gets_a_clear_422(client, marian_dir, body, message):
    response = post(client, marian_dir, **body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert str(marian_dir) not in response.text  # named, not echoed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "cross"}, "kind: the model has no cross attention; its kinds: encoder"),
        ({"reference": "a reference"}, "is a classifier; only a translation model (an encoder-decoder) takes a reference"),
    ],
)
def test_a_classifier_refuses_what_only_translation_models_take(client, classifier_dir, body, message):
    response = client.post("/api/explain", json={"model": classifier_dir.name, "text": "fine", **body})
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_a_job_checkpoint_of_a_translation_model_joins_the_catalog(client, marian_dir):
    from backend.catalog import CatalogEntry

    explainer = client.app.state.explainer
    entry = CatalogEntry(name="job-7", source=str(marian_dir), kind="checkpoint", description="toy en-ro, GA")
    explainer.catalog.checkpoints = lambda: [entry]
    try:
        listed = client.get("/api/models").json()[-1]
        assert (listed["name"], listed["task"]) == ("job-7", "translation")
        response = client.post("/api/explain", json={"model": "job-7", "text": SOURCE, "kind": "cross", "layers": [0]})
        assert response.status_code == 200 and response.json()["task"] == "translation"
    finally:
        explainer.catalog.checkpoints = lambda: []
