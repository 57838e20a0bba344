"""Token classifiers (CoNLL-2003 checkpoints) in the explorer: the attributed target is the negative loss
against the pseudo labels, one per non-special token, and the per-token predictions come back with the
maps; checked against plain autograd on eager attention, through the API, and for a real finished job."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import BertForTokenClassification

from addrop.attribution import IGNORED, attribute
from addrop.explain import explain
from addrop.models import load_classifier, load_tokenizer
from addrop.tasks import CONLL2003_TAGS
from backend.encoding import decode_array
from backend.main import create_app
from backend.settings import Settings
from jobstore.orm import FINISHED
from tests.jobs_stack import running_stack, wait_for
from tests.tiny_models import save_tiny_model, tiny_batch, tiny_bert, tiny_config, tiny_tokenizer

SENTENCE = "EU rejects German call to boycott British lamb ."
ID2LABEL = dict(enumerate(CONLL2003_TAGS))


def save_token_model(path, seed: int = 0):
    """A tiny random BERT token classifier with the CoNLL-2003 tags and MiniLM's tokenizer, as a checkpoint."""
    tokenizer = tiny_tokenizer("minilm")
    model = tiny_bert(len(tokenizer), BertForTokenClassification, layers=2, seed=seed, num_labels=len(CONLL2003_TAGS),
                      id2label=ID2LABEL, label2id={tag: i for i, tag in ID2LABEL.items()})
    # a head that makes the random model predict O and several entity tags across SENTENCE
    torch.nn.init.normal_(model.classifier.weight, std=0.3)
    with torch.no_grad():
        model.classifier.bias[0] = 3.0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory):
    return save_token_model(tmp_path_factory.mktemp("tiny-ner"))


def reference_attribution(path, text: str, layers: tuple[int, ...]):
    """dF/dA by plain autograd on eager attention (float64): F = -sum over non-special tokens of the
    cross-entropy of the token's logits against their own argmax; also the logits."""
    tokenizer = load_tokenizer(str(path))
    model = BertForTokenClassification.from_pretrained(path, attn_implementation="eager").double().eval()
    encoded = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
    special = encoded.pop("special_tokens_mask")[0].bool()
    out = model(**encoded, output_attentions=True)
    for layer in layers:
        out.attentions[layer].retain_grad()
    logits = out.logits[0]
    labels = logits.argmax(-1)
    log_probs = torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    value = log_probs[~special].sum()  # the negative cross-entropy, summed over the counted tokens
    value.backward()
    grads = torch.stack([out.attentions[layer].grad[0] for layer in layers])
    return grads, logits.detach(), special


def test_explain_attributes_the_pseudo_label_loss_of_every_token(token_dir):
    model = load_classifier(str(token_dir)).double()
    tokenizer = load_tokenizer(str(token_dir))
    result = explain(model, tokenizer, SENTENCE, layers=(0, 1), p=0.3, q=0.5, seed=3)
    expected, logits, special = reference_attribution(token_dir, SENTENCE, (0, 1))

    assert result.target == "pseudo_loss"
    assert result.label_names == list(CONLL2003_TAGS) and result.head_trained
    assert result.prediction is None and result.pseudo_label is None and result.probabilities == []
    predicted = logits.argmax(-1).tolist()
    assert result.token_predictions == [None if s else c for s, c in zip(special.tolist(), predicted)]
    assert 0 in result.token_predictions and len(set(result.token_predictions)) > 3  # the check tells tags apart
    probabilities = torch.softmax(logits, -1).max(-1).values
    for got, want, is_special in zip(result.token_probabilities, probabilities.tolist(), special.tolist()):
        assert got is None if is_special else got == pytest.approx(want, rel=1e-6)
    scale = float(expected.abs().max())
    assert scale > 0
    torch.testing.assert_close(result.attribution.double(), expected, rtol=1e-5, atol=1e-6 * scale)


def test_batched_token_attribution_leaves_out_padding_and_special_tokens():
    """The library on its own: a padded batch, GA and the materialised map, against the autograd reference."""
    torch.manual_seed(1)
    reference = BertForTokenClassification(tiny_config("bert", num_labels=5)).double().eval()
    reference.set_attn_implementation("eager")
    model = BertForTokenClassification(tiny_config("bert", num_labels=5)).double().eval()
    model.load_state_dict(reference.state_dict())
    inputs = tiny_batch()
    special = torch.zeros_like(inputs["attention_mask"])
    special[:, 0] = 1  # the first token of every row plays [CLS]
    counted = inputs["attention_mask"].bool() & ~special.bool()

    out = reference(**inputs, output_attentions=True)
    labels = out.logits.argmax(-1)
    log_probs = torch.log_softmax(out.logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    grads = torch.autograd.grad(log_probs[counted].sum(), [out.attentions[0], out.attentions[2]])
    expected = torch.stack(grads)

    for materialise in (False, True):
        result = attribute(model, dict(inputs, special_tokens_mask=special), "GA", (0, 2), return_attention=materialise)
        assert result.target == "pseudo_loss"
        torch.testing.assert_close(result.attribution, expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(result.pseudo_labels, labels.masked_fill(~counted, IGNORED))


@pytest.fixture(scope="module")
def client(tmp_path_factory, token_dir):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=[str(token_dir)], explain_max_tokens=32)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_api_explains_a_token_classifier_and_returns_its_tags(client, token_dir):
    model, tokenizer = load_classifier(str(token_dir)), load_tokenizer(str(token_dir))
    reference = explain(model, tokenizer, SENTENCE, p=0.3, q=0.5, seed=7, max_length=32)
    for method in ("GA", "IGA", "AA", "RD"):
        response = client.post("/api/explain", json={"text": SENTENCE, "model": token_dir.name, "method": method,
                                                      "steps": 3, "p": 0.3, "q": 0.5, "seed": 7})
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["target"] == "pseudo_loss" and payload["labels"] == list(CONLL2003_TAGS)
        assert payload["prediction"] is None and payload["pseudo_label"] is None
        assert payload["tokens"] == reference.tokens
        assert payload["token_predictions"] == reference.token_predictions
        assert payload["token_probabilities"] == pytest.approx(reference.token_probabilities, abs=1e-6)
        if method == "GA":
            np.testing.assert_allclose(decode_array(payload["attribution"]), reference.attribution.numpy(),
                                       rtol=1e-4, atol=1e-7)
            np.testing.assert_array_equal(decode_array(payload["dropped"]), reference.dropped.numpy())
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ExplainResponse"]["properties"]
    assert "predicted tag of each token" in schema["token_predictions"]["description"]
    assert "pseudo_loss" in str(schema["target"])


def test_a_sequence_classifier_has_no_token_predictions(tmp_path):
    settings = Settings(data_dir=tmp_path, models=["minilm"], explain_max_tokens=16)
    with TestClient(create_app(settings)) as client:
        payload = client.post("/api/explain", json={"text": "fine", "layers": [0], "fields": ["candidate"]}).json()
    assert payload["target"] == "logit" and payload["token_predictions"] is None
    assert payload["token_probabilities"] is None and payload["prediction"] in (0, 1)


def conll_slice(shared_data, folder, train: int, validation: int):
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("validation", validation)):
        lines = (shared_data / "conll2003" / f"{split}.jsonl").read_text().splitlines()[:rows]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture()
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("stack"))


def test_a_finished_conll_job_is_listed_and_explained(shared_data, stack, tmp_path):
    if not (shared_data / "conll2003" / "train.jsonl").is_file():
        pytest.skip("the shared CoNLL-2003 data is missing")
    data = conll_slice(shared_data, tmp_path / "conll", train=48, validation=16)
    encoder = save_tiny_model(tmp_path / "encoder", vocab="minilm")
    with stack.client() as client:
        created = client.post("/api/jobs", json={
            "model": str(encoder),
            "data": {"source": "directory", "task": "conll2003", "data_dir": str(data)},
            "training": {"epochs": 2, "batch_size": 8, "logging_steps": 2, "learning_rate": 1e-3, "max_length": 64,
                         "device": "cpu"},
            "addrop": {"method": "GA", "p": 0.3, "q": 0.3, "layers": [0]},
        })
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        done = wait_for(lambda: (j := client.get(f"/api/jobs/{job_id}").json())["state"] in FINISHED and j,
                        300, "the CoNLL-2003 job to finish", interval=0.5)
        assert done["state"] == "succeeded", done["error"]
        name = done["explorer_model"]
        assert name == f"job-{job_id}"

        models = {entry["name"]: entry for entry in client.get("/api/models").json()}
        assert models[name]["kind"] == "checkpoint" and "conll2003" in models[name]["description"]

        response = client.post("/api/explain", json={"text": SENTENCE, "model": name, "layers": [0, 1], "seed": 5})
        assert response.status_code == 200, response.text
        payload = response.json()

        # the same checkpoint, downloaded and explained by the library
        archive = client.get(f"/api/jobs/{job_id}/checkpoint")
        assert archive.status_code == 200
        (tmp_path / "checkpoint.zip").write_bytes(archive.content)
        with zipfile.ZipFile(tmp_path / "checkpoint.zip") as zipped:
            zipped.extractall(tmp_path / "checkpoint")
        folder = next(p.parent for p in (tmp_path / "checkpoint").rglob("config.json"))
        model, tokenizer = load_classifier(str(folder)), load_tokenizer(str(folder))
        expected = explain(model, tokenizer, SENTENCE, layers=(0, 1), seed=5)
        assert type(model).__name__ == "BertForTokenClassification"

        assert payload["target"] == "pseudo_loss" and payload["labels"] == list(CONLL2003_TAGS)
        assert payload["head_trained"] is True and payload["tokens"] == expected.tokens
        assert payload["token_predictions"] == expected.token_predictions
        assert all((t is None) == s for t, s in zip(payload["token_predictions"], payload["special"]))
        np.testing.assert_allclose(decode_array(payload["attribution"]), expected.attribution.numpy(),
                                   rtol=1e-4, atol=1e-7)


def test_cli_explain_prints_the_tags_of_a_token_classifier(token_dir, tmp_path, capsys):
    from addrop.cli import main

    out = tmp_path / "maps.json"
    assert main(["explain", SENTENCE, "--model", str(token_dir), "--layers", "1", "--save", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = explain(load_classifier(str(token_dir)), load_tokenizer(str(token_dir)), SENTENCE, layers=(1,))
    tags = " ".join(f"{token}/{expected.label_names[tag]}"
                    for token, tag in zip(expected.tokens, expected.token_predictions) if tag is not None)
    assert f"predicted tags: {tags}" in printed
    assert "negative loss against these tags" in printed
    saved = json.loads(out.read_text())
    assert saved["token_predictions"] == expected.token_predictions and saved["target"] == "pseudo_loss"
