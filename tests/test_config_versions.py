"""Stored job configs carry a version: a worker upgrades a config queued by older code, step by step, and fails
one written by newer code with that reason instead of tripping over an unknown field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobstore import configs
from jobstore.database import Database
from jobstore.orm import Job, LogLine
from jobstore.settings import StoreSettings
from worker.runner import run_job


def test_an_older_config_is_upgraded_step_by_step(monkeypatch):
    monkeypatch.setattr(configs, "CONFIG_VERSION", 3)
    monkeypatch.setattr(configs, "UPGRADES", {
        1: lambda config: {**{k: v for k, v in config.items() if k != "lr"}, "learning_rate": config["lr"]},
        2: lambda config: {**config, "patience": config.get("patience", 5)},
    })
    stored = {"lr": 2e-5, "epochs": 3}
    assert configs.readable_config(stored, 1) == {"learning_rate": 2e-5, "epochs": 3, "patience": 5}
    assert configs.readable_config({"learning_rate": 1e-5}, 2) == {"learning_rate": 1e-5, "patience": 5}
    assert stored == {"lr": 2e-5, "epochs": 3}  # the stored row's dict is not changed in place
    with pytest.raises(configs.ConfigTooNew, match="version 4, newer than this worker understands"):
        configs.readable_config(stored, 4)


def test_a_version_1_config_keeps_its_linear_schedule():
    """Configs queued before the schedule was a setting trained with transformers' linear decay: they still do."""
    from dataclasses import asdict

    from addrop.finetune import FinetuneConfig

    stored = {k: v for k, v in asdict(FinetuneConfig(epochs=3)).items() if k != "lr_schedule"}
    upgraded = configs.readable_config(stored, 1)
    assert upgraded["lr_schedule"] == "linear"
    assert FinetuneConfig(**upgraded) == FinetuneConfig(epochs=3)


def test_a_worker_fails_a_job_stored_by_newer_code_with_the_reason(tmp_path):
    settings = StoreSettings(data_dir=tmp_path)
    db = Database(settings.resolved_database_url)
    db.migrate()
    with db.session() as session:
        job = Job(name="from the future", spec={}, config={"task": "sst2", "renamed_field": 1}, task="sst2",
                  model="minilm", metric_name="accuracy", config_version=configs.CONFIG_VERSION + 1)
        session.add(job)
        session.flush()
        job_id = job.id
    assert run_job(job_id, settings, db) == "failed"
    with db.session() as session:
        job = session.get(Job, job_id)
        lines = session.scalars(select(LogLine.message).where(LogLine.job_id == job_id)).all()
    assert job.state == "failed"
    assert f"version {configs.CONFIG_VERSION + 1}, newer than this worker understands" in job.error
    assert any("newer than this worker understands" in line for line in lines)
    assert "renamed_field" not in job.error


def test_a_version_2_config_records_no_dynamics():
    """Version 3 added the dynamics setting: configs queued before it run as they were asked (no recording),
    and a version-3 config reads back from its stored JSON."""
    import json
    from dataclasses import asdict

    from addrop.dynamics import DynamicsConfig
    from addrop.finetune import FinetuneConfig

    stored = {k: v for k, v in asdict(FinetuneConfig(epochs=3)).items() if k != "dynamics"}
    upgraded = configs.readable_config(stored, 2)
    assert upgraded["dynamics"] is None and FinetuneConfig(**upgraded) == FinetuneConfig(epochs=3)
    recording = json.loads(json.dumps(asdict(FinetuneConfig(epochs=3, dynamics=DynamicsConfig(8, (3, 1), (0, 2))))))
    assert configs.readable_config(recording, 3) == recording
    assert FinetuneConfig(**recording).dynamics == DynamicsConfig(8, (3, 1), (0, 2))  # tuples again, from JSON lists


def test_a_version_3_config_gets_the_translation_fields():
    """Version 4 added the dev generation's settings and AD-DROP's attention kind: a version-3 config (a
    classifier's) reads with OPUS-MT's beams and the default kind, an AD-DROP off one keeps addrop None, and
    values a config already holds are kept."""
    from dataclasses import asdict

    from addrop.dropout import ADDropConfig
    from addrop.finetune import FinetuneConfig

    current = asdict(FinetuneConfig(epochs=3))
    stored = {k: v for k, v in current.items() if k not in ("num_beams", "max_new_tokens")}
    stored["addrop"] = {k: v for k, v in stored["addrop"].items() if k != "kind"}
    upgraded = configs.readable_config(stored, 3)
    assert upgraded == current and FinetuneConfig(**upgraded) == FinetuneConfig(epochs=3)
    assert configs.readable_config({**stored, "addrop": None}, 3)["addrop"] is None
    held = {**stored, "num_beams": 2, "addrop": {**stored["addrop"], "kind": "cross"}}
    assert FinetuneConfig(**configs.readable_config(held, 3)) == FinetuneConfig(
        epochs=3, num_beams=2, addrop=ADDropConfig(kind="cross"))
