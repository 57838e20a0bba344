"""No answer shows a server path: a job's data directory and local model come back relative to the data directory
(or null outside it) in every JSON answer and page, while the stored run keeps the real paths; and a data
directory that is missing gets the same answer as one without data."""

from __future__ import annotations

import json
import shutil
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.settings import Settings
from jobstore.orm import Job
from tests.tiny_models import save_tiny_model


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.fixture(scope="module")
def server(tmp_path_factory, sst2_dir):
    """The app, its data directory, a data directory outside it and one inside it, and a local model outside it."""
    root = tmp_path_factory.mktemp("paths")
    data_dir = root / "studio"
    inside = data_dir / "datasets" / "sst2"
    shutil.copytree(sst2_dir, inside)
    outside = root / "elsewhere" / "sst2"
    shutil.copytree(sst2_dir, outside)
    model = save_tiny_model(root / "models" / "tiny-bert")
    with TestClient(create_app(Settings(data_dir=data_dir, models=["minilm"]))) as client:
        yield client, root, inside, outside, model


def job(model: str, data_dir: str) -> dict:
    return {"model": model, "data": {"source": "directory", "task": "sst2", "data_dir": data_dir},
            "training": {"epochs": 1, "max_length": 32}}


def test_no_json_answer_or_page_about_a_job_shows_a_server_path(server):
    client, root, _, outside, model = server
    created = client.post("/api/jobs", json=job(str(model), str(outside)))
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    sweep = client.post("/api/sweeps", json={"base": job(str(model), str(outside)), "space": {"p": [0.1], "q": [0.1]},
                                             "seeds": [1], "baseline": False})
    assert sweep.status_code == 201, sweep.text
    sweep_id = sweep.json()["id"]
    answers = [created.json(), sweep.json()] + [client.get(path).json() for path in (
        "/api/jobs", f"/api/jobs/{job_id}", "/api/sweeps", f"/api/sweeps/{sweep_id}", f"/api/sweeps/{sweep_id}/curves")]
    shown = [text for answer in answers for text in strings(answer)]
    leaks = [text for text in shown if str(root) in text or text.startswith("/")]
    assert not leaks, leaks
    assert created.json()["spec"]["data"]["data_dir"] is None and created.json()["model"] is None
    assert created.json()["spec"]["model"] is None and created.json()["spec"]["data"]["task"] == "sst2"
    assert sweep.json()["model"] is None and sweep.json()["spec"]["base"]["data"]["data_dir"] is None
    for page in (f"/jobs/{job_id}", f"/jobs/new?clone={job_id}", f"/sweeps/{sweep_id}", f"/sweeps/new?clone={job_id}",
                 "/jobs", "/sweeps"):
        text = client.get(page).text
        assert str(root) not in text, page
    # what the job runs is unchanged
    with client.app.state.jobs.db.session() as session:
        row = session.get(Job, job_id)
        assert row.config["data_dir"] == str(outside) and row.config["model"] == str(model)
        assert row.spec["data"]["data_dir"] == str(outside)


def test_a_directory_under_the_data_directory_is_shown_relative_and_taken_back_so(server):
    client, _, inside, _, _ = server
    created = client.post("/api/jobs", json=job("minilm", str(inside)))
    assert created.status_code == 201, created.text
    spec = created.json()["spec"]
    assert spec["data"]["data_dir"] == "datasets/sst2" and spec["model"] == "minilm"
    again = client.post("/api/jobs", json={key: spec[key] for key in ("model", "data", "training", "addrop")})
    assert again.status_code == 201, again.text
    assert again.json()["spec"]["data"]["data_dir"] == "datasets/sst2"
    with client.app.state.jobs.db.session() as session:
        assert session.get(Job, again.json()["id"]).config["data_dir"] == str(inside.resolve())


def test_a_missing_directory_and_one_without_data_get_one_answer(server):
    client, root, _, _, _ = server
    empty = root / "empty"
    empty.mkdir()
    a_file = root / "a-file.txt"
    a_file.write_text("not a directory")
    nested_empty = root / "nested"
    (nested_empty / "sst2").mkdir(parents=True)
    answers = {}
    for name, path in [("missing", root / "no-such-dir"), ("empty", empty), ("file", a_file),
                       ("nested empty", nested_empty), ("missing inside", "datasets/none")]:
        answer = client.post("/api/jobs", json=job("minilm", str(path)))
        assert answer.status_code == 422, answer.text
        answers[name] = answer.json()["detail"]
    assert len(set(answers.values())) == 1, answers
    assert str(root) not in answers["empty"] and "data.data_dir" in answers["empty"]


def test_a_data_error_names_the_files_without_their_server_path(server):
    client, root, _, _, _ = server
    broken = root / "broken"
    broken.mkdir()
    (broken / "train.jsonl").write_text("{not json\n")
    (broken / "validation.jsonl").write_text(json.dumps({"sentence": "fine", "label": 1}) + "\n")
    answer = client.post("/api/jobs", json=job("minilm", str(broken)))
    assert answer.status_code == 422 and "malformed JSON" in answer.json()["detail"], answer.text
    assert str(root) not in answer.json()["detail"] and "train.jsonl" in answer.json()["detail"]
    only_train = root / "only-train"
    only_train.mkdir()
    (only_train / "train.jsonl").write_text(json.dumps({"sentence": "fine", "label": 1}) + "\n")
    answer = client.post("/api/jobs", json=job("minilm", str(only_train)))
    assert answer.status_code == 422 and "no validation" in answer.json()["detail"], answer.text
    assert str(root) not in answer.json()["detail"]


def test_a_model_under_the_data_directory_is_shown_relative(tmp_path, sst2_dir):
    data_dir = tmp_path / "studio"
    model = save_tiny_model(data_dir / "jobs" / "job-1" / "best")
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        created = client.post("/api/jobs", json=job(str(model), str(sst2_dir)))
        assert created.status_code == 201, created.text
        assert created.json()["model"] == created.json()["spec"]["model"] == "jobs/job-1/best"


@pytest.mark.parametrize(("value", "shown"), [
    ("datasets/rte", "datasets/rte"), ("{data}/datasets/rte", "datasets/rte"), ("{data}/../elsewhere", None),
    ("/data/glue/rte", None), ("{data}/a/../b", "b"), ("{data}", "."),
])
def test_shown_paths(tmp_path, value, shown):
    from backend.shown import shown_model, shown_path

    data_dir = tmp_path / "studio"
    assert shown_path(value.replace("{data}", str(data_dir)), data_dir) == shown
    assert shown_model("bert-base-uncased", data_dir) == "bert-base-uncased"
    assert shown_model("./models/x", data_dir) is None  # relative to the server's current directory
    assert shown_model(str(data_dir / "jobs/job-2/best"), data_dir) == "jobs/job-2/best"


def test_a_missing_model_directory_and_one_without_a_model_get_one_answer(server):
    client, root, inside, _, _ = server
    empty = root / "empty-model"
    empty.mkdir()
    answers = set()
    for path in (root / "no-such-model", empty, root / "elsewhere"):
        answer = client.post("/api/jobs", json=job(str(path), str(inside)))
        assert answer.status_code == 422, answer.text
        answers.add(answer.json()["detail"].replace(repr(str(path)), "MODEL"))
    assert len(answers) == 1, answers
