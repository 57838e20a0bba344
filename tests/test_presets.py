"""The authors' protocol as a preset: its values and their sources, the REST API that serves it per task and
model, and a run under it (through the CLI) that trains at a constant learning rate and stops on patience."""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from transformers import BertForSequenceClassification

from addrop.cli import main as cli
from addrop.presets import PRESET_TASKS, authors_protocol
from backend.main import create_app
from backend.settings import Settings
from tests.tiny_models import save_tiny_model

# From TaoYang225/AD-DROP, <task>/run_addrop.sh (read with the fetch tool): EPOCH, PATIENT, SEQ_LENS, MASK_LAYERS
SCRIPTS = {"cola": (50, 5, 47, "all"), "mrpc": (50, 5, 100, "all"), "rte": (50, 5, 128, "all"),
           "stsb": (50, 5, 100, [0]), "sst2": (20, 5, 120, [0]), "qnli": (10, 3, 128, [0]),
           "qqp": (10, 3, 120, [0]), "mnli": (10, 3, 128, [0])}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny3"), BertForSequenceClassification, "minilm", layers=3)


@pytest.mark.parametrize("task", sorted(SCRIPTS))
def test_the_preset_holds_the_scripts_values_and_says_where_each_comes_from(task):
    preset = authors_protocol(task)
    epochs, patience, max_length, layers = SCRIPTS[task]
    assert preset.training == {"learning_rate": 1e-5, "lr_schedule": "constant", "warmup_ratio": 0.0,
                               "weight_decay": 0.01, "batch_size": 16, "epochs": epochs, "patience": patience,
                               "max_length": max_length, "seed": 42}
    assert preset.layers(12) == (list(range(12)) if layers == "all" else layers)
    assert preset.layers(6) == (list(range(6)) if layers == "all" else layers)
    assert preset.addrop["method"] == "GA" and preset.addrop["cross_tuning"] is True
    assert f"SEQ_LENS={max_length}" in preset.sources["max_length"]
    assert f"EPOCH={epochs}" in preset.sources["epochs"] and f"PATIENT={patience}" in preset.sources["patience"]
    assert f"{task}/" in preset.sources["lr_schedule"]
    assert set(preset.training) | {"layers", "method", "cross_tuning", "p, q"} <= set(preset.sources)
    assert set(PRESET_TASKS) == set(SCRIPTS) | {"wmt16-en-ro", "wmt16-tr-en"}


def test_other_tasks_are_refused():
    with pytest.raises(ValueError, match="covers"):
        authors_protocol("conll2003")


def test_the_api_serves_the_preset_for_a_task_and_model(tiny_model, tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, models=[str(tiny_model)]))) as client:
        listed = client.get("/api/presets").json()
        assert listed == [{"name": "authors", "title": "The authors' protocol", "tasks": list(PRESET_TASKS)}]
        cola = client.get("/api/presets/authors", params={"task": "cola", "model": str(tiny_model)})
        assert cola.status_code == 200, cola.text
        assert cola.json()["addrop"]["layers"] == [0, 1, 2]  # "every layer" of a 3-layer model
        assert cola.json()["training"]["lr_schedule"] == "constant" and cola.json()["notes"]
        stsb = client.get("/api/presets/authors", params={"task": "stsb"}).json()
        assert stsb["addrop"]["layers"] == [0] and stsb["model"] == "minilm"
        assert client.get("/api/presets/authors", params={"task": "cola"}).json()["addrop"]["layers"] == list(range(6))
        for params, status, words in [
            ({"task": "conll2003"}, 422, "covers"), ({}, 422, "task"), ({"task": "cola", "model": "no/such-model"}, 422,
                                                                          "unknown model"),
            ({"task": "x" * 101}, 422, "task"),
        ]:
            answer = client.get("/api/presets/authors", params=params)
            assert answer.status_code == status and words in answer.text, (params, answer.text)
        for raw in ("task=%ED%A0%80", "task=cola&model=%00", "task=cola&model=" + "m" * 501):  # bad bytes, NUL, long
            assert client.get(f"/api/presets/authors?{raw}").status_code == 422, raw
        missing = client.get("/api/presets/" + "n" * 40, params={"task": "cola"})
        assert missing.status_code == 404 and "authors" in missing.json()["detail"]


def test_a_preset_run_keeps_its_learning_rate_and_stops_on_patience(tiny_model, tmp_path, capsys):
    """Under the preset (patience lowered to 1 on the command line, which wins), the learning rate of every
    step is 1e-5, and the run stops early and says why and when."""
    rng = random.Random(3)
    words = "the cat sat on mat dog ran fast slow big red blue".split()
    folder = tmp_path / "cola"
    folder.mkdir()
    for split, size in (("train", 64), ("validation", 32)):
        rows = [{"sentence": " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))), "label": rng.randint(0, 1)}
                for _ in range(size)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "run"
    code = cli(["train", "--preset", "authors", "--task", "cola", "--model", str(tiny_model), "--data-dir", str(folder),
                "--output-dir", str(out), "--epochs", "8", "--patience", "1", "--device", "cpu", "--logging-steps", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "preset authors for cola:" in printed and "lr_schedule=constant" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    config = metrics["config"]
    assert (config["lr_schedule"], config["learning_rate"], config["max_length"], config["batch_size"]) == (
        "constant", 1e-5, 47, 16)
    assert config["addrop"]["layers"] == [0, 1, 2] and config["patience"] == 1 and config["epochs"] == 8
    rates = [event["values"]["learning_rate"] for event in metrics["history"] if event["kind"] == "step"
             and "learning_rate" in event["values"]]
    assert len(rates) >= 8 and all(rate == pytest.approx(1e-5, rel=1e-9) for rate in rates)
    assert metrics["epochs_run"] < 8
    assert metrics["stop_reason"].startswith(f"early stopping after epoch {metrics['epochs_run']} of 8")
    assert "did not improve for 1 epochs" in metrics["stop_reason"]


def test_preset_defaults_reach_every_option_and_given_options_win():
    from addrop.cli import build_parser

    parser = build_parser({"method": "AA", "mode": "low", "learning_rate": 1e-5, "layers": (0, 1)})
    args = parser.parse_args(["train"])
    assert (args.method, args.mode, args.learning_rate, args.layers) == ("AA", "low", 1e-5, (0, 1))
    given = parser.parse_args(["train", "--method", "GA", "--learning-rate", "3e-5"])
    assert (given.method, given.mode, given.learning_rate) == ("GA", "low", 3e-5)


def test_the_api_serves_the_translation_preset_with_the_encoder_layers(tmp_path):
    """The wmt16 tasks' preset masks every encoder layer: counted from an encoder-decoder's config (2 encoder
    layers here, 3 decoder ones); a model that is no encoder-decoder has no encoder layers to name."""
    from tests.tiny_translation import save_tiny_marian

    marian = save_tiny_marian(tmp_path / "marian", layers=2, decoder_layers=3)
    with TestClient(create_app(Settings(data_dir=tmp_path / "studio"))) as client:
        assert {"wmt16-en-ro", "wmt16-tr-en"} <= set(client.get("/api/presets").json()[0]["tasks"])
        answer = client.get("/api/presets/authors", params={"task": "wmt16-tr-en", "model": str(marian)})
        assert answer.status_code == 200, answer.text
        addrop = answer.json()["addrop"]
        assert (addrop["layers"], addrop["kind"], addrop["target"], addrop["p"], addrop["q"]) == (
            [0, 1], "encoder", "pseudo_loss", 0.6, 0.1)
        refused = client.get("/api/presets/authors", params={"task": "wmt16-en-ro", "model": "minilm"})
        assert refused.status_code == 422 and "is not an encoder-decoder" in refused.json()["detail"]
