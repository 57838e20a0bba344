"""Attribution dynamics recorded by ``addrop.finetune`` (``FinetuneConfig.dynamics``), at its outermost
interface: the recording leaves training exactly as it was, a baseline and its AD-DROP twin probe the same dev
examples, the maps on disk are those examples' (checked against the tokenizer), the summaries are events of the
run's history, and a run cut and resumed in its directory goes on with its stability."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification, TrainerCallback

from addrop.dropout import ADDropConfig
from addrop.dynamics import DynamicsConfig, probe_indices
from addrop.finetune import DYNAMICS, FinetuneConfig, finetune, latest_checkpoint
from addrop.models import load_tokenizer
from tests.test_paired_twins import WORDS, Cut, CutAfter
from tests.tiny_models import save_tiny_model

DEV, PROBE, EPOCHS = 20, 6, 3


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random 3-layer BERT with dropout on (so a consumed random draw would change training)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-dropout"), BertForSequenceClassification, "minilm", layers=3)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    """32 SST-2-shaped training sentences and DEV dev sentences of 3 to 20 words."""
    rng = random.Random(11)
    folder = tmp_path_factory.mktemp("sst2-dynamics")
    rows = [{"sentence": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))), "label": rng.randint(0, 1)}
            for _ in range(32 + DEV)]
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows[:32]))
    (folder / "validation.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows[32:]))
    return folder


class Weights(TrainerCallback):
    """The model's weights at every epoch's end (before the recorder, which finetune adds last, runs)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.epochs.append({k: v.detach().clone() for k, v in model.state_dict().items()})


def config(model, data, output, addrop: ADDropConfig | None, dynamics: DynamicsConfig | None, epochs: int = EPOCHS):
    return FinetuneConfig(task="sst2", model=str(model), data_dir=str(data), output_dir=str(output), epochs=epochs,
                          batch_size=8, learning_rate=1e-3, seed=7, patience=None, device="cpu", addrop=addrop,
                          save_checkpoint=False, logging_steps=1, dynamics=dynamics)


@pytest.mark.parametrize("addrop", [ADDropConfig(p=0.3, q=0.3, layers=(0, 1)), None], ids=["addrop", "baseline"])
def test_recording_leaves_the_run_exactly_as_it_was(tmp_path, tiny_model, sentences, addrop):
    weights = {}
    results = {}
    for name, dynamics in (("plain", None), ("recorded", DynamicsConfig(probe_size=PROBE))):
        weights[name] = Weights()
        results[name] = finetune(config(tiny_model, sentences, tmp_path / name, addrop, dynamics),
                                 callbacks=[weights[name]], progress=False)
    assert len(weights["plain"].epochs) == len(weights["recorded"].epochs) == EPOCHS
    for epoch, (plain, recorded) in enumerate(zip(weights["plain"].epochs, weights["recorded"].epochs), 1):
        assert plain.keys() == recorded.keys()
        assert all(torch.equal(plain[k], recorded[k]) for k in plain), f"weights differ after epoch {epoch}"
    for kind in ("step", "eval"):
        def values(result):
            return [{k: v for k, v in e["values"].items() if "runtime" not in k and "per_second" not in k}
                    for e in result.history if e["kind"] == kind]
        assert values(results["plain"]) == values(results["recorded"])
    assert not any(e["kind"] == "dynamics" for e in results["plain"].history)
    assert not (tmp_path / "plain" / DYNAMICS).exists()

    recorded = [e for e in results["recorded"].history if e["kind"] == "dynamics"]
    assert [e["epoch"] for e in recorded] == [1.0, 2.0, 3.0]
    # masked layers (0, 1 for AD-DROP), layer 0 (a baseline's stand-in for its twin's) and the last (2)
    layers = (0, 1, 2) if addrop else (0, 2)
    expected = {f"{name}_L{layer}" for name in ("concentration", "entropy") for layer in layers}
    assert set(recorded[0]["values"]) == expected | {"reliance", "reliance_random"}
    assert all(set(e["values"]) == expected | {"reliance", "reliance_random", "stability"} for e in recorded[1:])
    for e in recorded:
        assert all(0 <= e["values"][f"concentration_L{layer}"] <= 1 for layer in layers)
        assert 0 <= e["values"]["reliance"] <= 1 and -1 <= e["values"].get("stability", 0) <= 1
    steps = [e["step"] for e in results["recorded"].history if e["kind"] == "eval"]
    assert [e["step"] for e in recorded] == steps  # recorded at the end of the epoch the evaluation closes
    written = json.loads((tmp_path / "recorded" / "metrics.json").read_text())
    assert [e["kind"] for e in written["history"]].count("dynamics") == EPOCHS
    assert FinetuneConfig(**written["config"]).dynamics == DynamicsConfig(probe_size=PROBE)


def test_twins_probe_the_same_dev_examples_and_the_maps_are_theirs(tmp_path, tiny_model, sentences):
    probes = {}
    for name, addrop in (("baseline", None), ("addrop", ADDropConfig(p=0.3, q=0.3, layers=(0,)))):
        finetune(config(tiny_model, sentences, tmp_path / name, addrop, DynamicsConfig(probe_size=PROBE), epochs=2),
                 progress=False)
        probes[name] = json.loads((tmp_path / name / DYNAMICS / "probe.json").read_text())
    assert probes["baseline"] == probes["addrop"]
    probe = probes["addrop"]
    assert probe["dev_indices"] == probe_indices(DEV, seed=7, size=PROBE) and len(probe["dev_indices"]) == PROBE
    assert probe["layers"] == [0, 2] and probe["p"] == 0.3

    tokenizer = load_tokenizer(str(tiny_model))
    dev = [json.loads(line)["sentence"] for line in (sentences / "validation.jsonl").read_text().splitlines()]
    for name in probes:
        for epoch in (1, 2):
            with np.load(tmp_path / name / DYNAMICS / f"epoch-{epoch}.npz") as saved:
                assert sorted(saved.files) == sorted(f"example{i}" for i in range(PROBE))
                for i, index in enumerate(probe["dev_indices"]):
                    tokens = tokenizer.convert_ids_to_tokens(tokenizer(dev[index])["input_ids"])
                    assert probe["tokens"][i] == tokens
                    maps = saved[f"example{i}"]
                    assert maps.dtype == np.float16 and maps.shape == (2, 4, len(tokens), len(tokens))
                    assert np.isfinite(maps).all() and np.abs(maps).sum() > 0
    with np.load(tmp_path / "baseline" / DYNAMICS / "epoch-2.npz") as a, \
            np.load(tmp_path / "addrop" / DYNAMICS / "epoch-2.npz") as b:
        assert not np.array_equal(a["example0"], b["example0"])  # the twins trained differently


def test_named_probe_examples_and_ones_the_dev_set_lacks(tmp_path, tiny_model, sentences):
    finetune(config(tiny_model, sentences, tmp_path / "named", None, DynamicsConfig(probe_ids=(17, 2, 9)), epochs=1),
             progress=False)
    assert json.loads((tmp_path / "named" / DYNAMICS / "probe.json").read_text())["dev_indices"] == [2, 9, 17]
    with pytest.raises(ValueError, match=r"the dev set has 20 examples \(0\.\.19\); got \[20\]"):
        finetune(config(tiny_model, sentences, tmp_path / "outside", None, DynamicsConfig(probe_ids=(3, 20))),
                 progress=False)
    for bad in (dict(probe_ids=()), dict(probe_ids=(1, 1)), dict(probe_ids=(-1,)), dict(probe_size=0), dict(p=1.0)):
        with pytest.raises(ValueError, match="dynamics"):
            DynamicsConfig(**bad)


def test_a_run_cut_and_resumed_in_its_directory_records_as_the_uncut_run(tmp_path, tiny_model, sentences):
    """The dynamics of the epochs before the cut come back from the checkpoint's log history, and the first
    epoch after it measures its stability against the maps saved before the cut."""
    def run_config(name: str) -> FinetuneConfig:
        return FinetuneConfig(**{**config(tiny_model, sentences, tmp_path / name, ADDropConfig(p=0.3, q=0.3),
                                          DynamicsConfig(probe_size=PROBE)).__dict__, "save_checkpoint": True})

    uncut = finetune(run_config("uncut"), progress=False)
    with pytest.raises(Cut):
        finetune(run_config("cut"), callbacks=[CutAfter(2)], progress=False)
    resumed = finetune(run_config("cut"), resume_from=latest_checkpoint(tmp_path / "cut"), progress=False)

    def dynamics(result):
        return [(e["epoch"], {k: round(v, 5) for k, v in e["values"].items()}) for e in result.history
                if e["kind"] == "dynamics"]

    assert dynamics(resumed) == dynamics(uncut) and len(dynamics(uncut)) == EPOCHS
    assert "stability" in dynamics(resumed)[2][1]


def test_the_cli_records_dynamics_on_request(monkeypatch, tmp_path, capsys):
    import addrop.finetune
    from addrop.cli import main
    from addrop.finetune import FinetuneResult

    seen = []

    def fake(config):
        seen.append(config)
        return FinetuneResult("sst2", "accuracy", None, None, {}, None, "m.json", False, 0.0)

    monkeypatch.setattr(addrop.finetune, "finetune", fake)
    assert main(["train", "--output-dir", str(tmp_path), "--baseline", "--layers", "1,3"]) == 0
    assert main(["train", "--output-dir", str(tmp_path), "--baseline", "--layers", "1,3", "--dynamics"]) == 0
    assert main(["train", "--output-dir", str(tmp_path), "--dynamics", "--probe-size", "16", "--probe-ids", "5,2"]) == 0
    assert seen[0].dynamics is None
    assert seen[1].dynamics == DynamicsConfig(probe_size=64, layers=(1, 3))  # a baseline records the layers named
    assert seen[2].dynamics == DynamicsConfig(probe_size=16, probe_ids=(5, 2), layers=(0,))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dynamics", "--probe-ids", "2,x"])
    assert exit_info.value.code == 2
    assert "not a comma-separated list of dev example indices" in capsys.readouterr().err
