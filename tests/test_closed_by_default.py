"""Safe on an open network by default: the server will not listen beyond loopback without a token, compose
sets one and closes local paths, the explorer can sit behind the token, job errors do not say whether a
server path exists, and a failed job's traceback stays out of its public log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.serve import open_network_refusal
from backend.settings import Settings
from tests.browser import ROOT, free_port
from tests.jobs_stack import job_request, make_sst2_slice, make_tiny_model, running_stack, wait_for

TOKEN = "a-long-random-token"


@pytest.mark.parametrize("host, token, allowed, refused", [
    ("127.0.0.1", None, False, False), ("::1", None, False, False), ("localhost", None, False, False),
    ("0.0.0.0", None, False, True), ("::", None, False, True), ("192.168.1.20", None, False, True),
    ("0.0.0.0", TOKEN, False, False), ("0.0.0.0", None, True, False),
])
def test_only_loopback_is_served_without_a_token(host, token, allowed, refused):
    assert (open_network_refusal(host, token, allowed) is not None) == refused


def test_the_server_refuses_to_start_on_all_interfaces_without_a_token(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("ADDROP_API_TOKEN", "ADDROP_ALLOW_OPEN_NETWORK")}
    done = subprocess.run([sys.executable, "-m", "backend", "--host", "0.0.0.0", "--port", str(free_port())], cwd=ROOT,
                          env={**env, "ADDROP_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an API token" in done.stderr and "ADDROP_API_TOKEN" in done.stderr


def test_compose_requires_a_token_and_closes_local_paths():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["x-studio-env"]
    assert env["ADDROP_ALLOW_LOCAL_PATHS"] == "false"
    assert env["ADDROP_API_TOKEN"].startswith("${ADDROP_API_TOKEN:?")  # compose stops when it is unset


def test_the_explorer_can_sit_behind_the_token(tmp_path):
    settings = Settings(data_dir=tmp_path, api_token=TOKEN, explain_requires_token=True)
    body = {"text": "a gorgeous, witty movie", "layers": [0], "heads": [0]}
    with TestClient(create_app(settings)) as client:
        missing = client.post("/api/explain", json=body)
        assert missing.status_code == 401 and "API token" in missing.json()["detail"]
        assert client.post("/api/explain", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_job_cannot_probe_the_server_disk(tmp_path):
    settings = Settings(data_dir=tmp_path, allow_local_paths=False)
    existing, missing = str(ROOT / "backend"), str(ROOT / "no-such-folder")
    with TestClient(create_app(settings)) as client:
        answers = {}
        for model in (existing, missing, "/etc", "/etc/passwd", "~", "./backend", "backend"):
            answer = client.post("/api/jobs", json={"model": model, "data": {"source": "hub", "task": "sst2"}})
            assert answer.status_code == 422, answer.text
            answers[model] = answer.json()["detail"].replace(repr(model), "MODEL")
        assert len(set(answers.values())) == 1, answers  # one answer, whether the path exists or not
        assert "does not let jobs read local directories" in answers[existing]
        odd = client.post("/api/jobs", json={"model": "a\x00b", "data": {"source": "hub", "task": "sst2"}})
        assert odd.status_code == 422 and odd.json()["detail"].startswith("model: ")
        assert client.get("/api/jobs").json()["total"] == 0


def test_a_failed_job_keeps_its_traceback_out_of_its_log(shared_data, tmp_path):
    model = make_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
    (tmp_path / "stack").mkdir()
    stack_gen = running_stack("embedded", tmp_path / "stack")
    stack = next(stack_gen)
    try:
        client = stack.client()
        job = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()
        # Break the data after validation: the run fails inside the worker.
        (data / "train.jsonl").write_text("{not json\n")
        wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "failed", 120, "the job to fail",
                 interval=0.5)
        log = client.get(f"/api/jobs/{job['id']}/log").text
        assert "failed: " in log and "Traceback" not in log and 'File "' not in log
        assert "Traceback" in (stack.root / "worker.log").read_text()  # the operator still has it
    finally:
        stack_gen.close()
