"""Safe on an open network by default: the server will not listen beyond loopback without a token, compose
sets one and closes local paths, the explorer can sit behind the token, job errors do not say whether a
server path exists, and a failed job's traceback stays out of its public log. Safe from the browser too: only
the configured host names are answered (no DNS rebinding), and pages may not be framed or run foreign scripts."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest
import yaml
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.serve import host_names_warning, open_network_refusal
from backend.settings import Settings
from tests.browser import ROOT, free_port
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

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


@pytest.mark.parametrize("token", [" ", "\t\n", "   "])
def test_a_token_of_whitespace_is_no_token(tmp_path, token):
    """A blank token would pass the check above, and no client could send it (a bearer token is read without
    surrounding whitespace): the server refuses to start, on any address, and says why."""
    assert open_network_refusal("0.0.0.0", token, False) is not None
    with pytest.raises(ValueError, match="only whitespace"):
        Settings(data_dir=tmp_path, api_token=token)
    env = {key: value for key, value in os.environ.items() if key != "ADDROP_ALLOW_OPEN_NETWORK"}
    done = subprocess.run([sys.executable, "-m", "backend", "--host", "0.0.0.0", "--port", str(free_port())], cwd=ROOT,
                          env={**env, "ADDROP_DATA_DIR": str(tmp_path), "ADDROP_API_TOKEN": token,
                               "ADDROP_EMBEDDED_WORKER": "false"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "setting api_token: ADDROP_API_TOKEN is only whitespace" in done.stderr, done.stderr


def test_a_token_is_read_without_surrounding_whitespace(tmp_path):
    settings = Settings(data_dir=tmp_path, api_token=" s3cret\n")
    assert settings.api_token == "s3cret" and Settings(data_dir=tmp_path, api_token="").api_token is None
    with TestClient(create_app(settings)) as client:
        body = {"model": "minilm", "data": {"task": "sst2"}}
        assert client.post("/api/jobs", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 422
        assert client.post("/api/jobs", json=body).status_code == 401


def test_compose_requires_a_token_and_closes_local_paths():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["x-studio-env"]
    assert env["ADDROP_ALLOW_LOCAL_PATHS"] == "false"
    assert env["ADDROP_API_TOKEN"].startswith("${ADDROP_API_TOKEN:?")  # compose stops when it is unset
    assert env["ADDROP_ALLOWED_HOSTS"].startswith("${ADDROP_ALLOWED_HOSTS:?")  # and without the names it serves


# --- the Host header: no DNS rebinding --------------------------------------------------------------------

@pytest.fixture
def default_hosts(monkeypatch):
    monkeypatch.delenv("ADDROP_ALLOWED_HOSTS", raising=False)  # tests/conftest.py adds the test clients' names


@pytest.mark.parametrize("host, answered", [
    ("localhost:8000", True), ("127.0.0.1:8000", True), ("[::1]:8000", True), ("localhost", True), ("LOCALHOST", True),
    ("attacker.example", False), ("attacker.example:8000", False), ("localhost.attacker.example", False),
    ("127.0.0.1.nip.io:8000", False), ("testserver", False), ("", False),
])
def test_by_default_only_loopback_host_names_are_answered(tmp_path, default_hosts, host, answered):
    """A page on attacker.example whose name is re-pointed at 127.0.0.1 reaches a loopback server as the same
    origin; its requests still say ``Host: attacker.example``, and that is refused before anything runs."""
    sst2 = tmp_path / "sst2"
    sst2.mkdir()
    for split in ("train", "validation"):
        (sst2 / f"{split}.jsonl").write_text('{"sentence": "a fine film", "label": 1}\n')
    with TestClient(create_app(Settings(data_dir=tmp_path / "studio")), raise_server_exceptions=False) as client:
        job = {"model": "minilm", "data": {"source": "directory", "task": "sst2", "data_dir": str(sst2)}}
        for method, path, body in [("GET", "/", None), ("GET", "/api/jobs", None), ("POST", "/api/jobs", job)]:
            answer = client.request(method, path, json=body, headers={"Host": host})
            if answered:
                assert answer.status_code in (200, 201), (path, answer.text[:300])
            else:
                assert answer.status_code == 400 and answer.text == "Invalid host header", (path, answer.text[:300])
        stored = client.get("/api/jobs", headers={"Host": "localhost"}).json()["total"]
        assert stored == (1 if answered else 0)


def test_the_host_names_answered_are_the_configured_ones(tmp_path):
    settings = Settings(data_dir=tmp_path, allowed_hosts=["Studio.Example.org", "::1", "*.lab.example"])
    assert settings.allowed_hosts == ["studio.example.org", "[::1]", "*.lab.example"]
    with TestClient(create_app(settings)) as client:
        for host, status in [("studio.example.org", 200), ("studio.example.org:443", 200), ("[::1]:8000", 200),
                             ("gpu1.lab.example", 200), ("localhost:8000", 400), ("example.org", 400)]:
            assert client.get("/api/health", headers={"Host": host}).status_code == status, host


def test_serving_beyond_loopback_on_loopback_names_only_says_what_to_set():
    loopback = ["localhost", "127.0.0.1", "[::1]"]
    assert "ADDROP_ALLOWED_HOSTS" in host_names_warning("0.0.0.0", loopback)
    assert host_names_warning("127.0.0.1", loopback) is None
    assert host_names_warning("0.0.0.0", [*loopback, "studio.example.org"]) is None


# --- pages: not framed, not sniffed, no foreign scripts ---------------------------------------------------

class InlineScripts(HTMLParser):
    """The text of every <script> element without a src attribute, as a browser reads it, and its type."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.types: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "script" and "src" not in dict(attrs):
            self._inside = True
            self.scripts.append("")
            self.types.append(dict(attrs).get("type") or "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.scripts[-1] += data


PAGES = ["/", "/jobs", "/jobs/new", "/jobs/compare", "/jobs/999", "/sweeps", "/sweeps/new", "/docs", "/redoc"]


@pytest.fixture(scope="module")
def pages_client(tmp_path_factory):
    with TestClient(create_app(Settings(data_dir=tmp_path_factory.mktemp("pages")))) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_pages_cannot_be_framed_sniffed_or_made_to_run_other_scripts(pages_client, path):
    page = pages_client.get(path)
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = dict((part.strip().split(" ", 1) + [""])[:2] for part in page.headers["content-security-policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["default-src"] == "'self'" and policy["connect-src"].split()[0] == "'self'"
    assert "http" not in page.headers["content-security-policy"]  # nothing of another site
    sources = policy["script-src"].split()
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    parser = InlineScripts()
    parser.feed(page.text)
    documentation = path in ("/docs", "/redoc")
    # a template page may run its import map only (its JSON blocks are data); a documentation page, generated
    # from the app's settings alone, its own start-up scripts
    allowed = [text for text, kind in zip(parser.scripts, parser.types) if documentation or kind == "importmap"]
    assert allowed or documentation
    assert set(sources) == {"'self'"} | {_hash(text) for text in allowed}


def _hash(text: str) -> str:
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_a_script_injected_into_a_page_is_not_allowed_to_run():
    from backend.security import content_security_policy

    importmap = '{"imports": {"./a.js": "/static/a.js?v=1"}}'
    page = (f'<html><head><script type="importmap">{importmap}</script></head><body>'
            '<script>alert(1)</script><script type="module">alert(2)</script>'
            '<script id="d" type="application/json">{"x": 1}</script></body></html>')
    sources = content_security_policy(page).split("script-src ", 1)[1].split(";", 1)[0].split()
    assert sources == ["'self'", _hash(importmap)]


@pytest.mark.parametrize("path", ["/api/health", "/api/jobs", "/static/css/app.css", "/openapi.json"])
def test_other_answers_are_not_sniffed(pages_client, path):
    answer = pages_client.get(path)
    assert answer.status_code == 200 and answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in answer.headers


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
    model = save_tiny_model(tmp_path / "model")
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
