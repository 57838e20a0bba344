"""With an API token configured, every write needs it, and so does every read (API, logs, streams, downloads,
pages) unless ``open_reads`` is set. A browser logs in once and carries the token as a cookie; a write with
the cookie alone must come from the server's own pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.auth import SESSION_COOKIE
from backend.main import create_app
from backend.settings import Settings

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
# These tests send far more wrong tokens from the test client's one address than the default limit lets through;
# the limit has tests of its own (tests/test_auth_limit.py).
UNLIMITED = 1_000_000


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), api_token=TOKEN, token_failures_allowed=UNLIMITED)
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The same, with reads opened (a read-only dashboard)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("dashboard"), api_token=TOKEN, open_reads=True,
                        token_failures_allowed=UNLIMITED)
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def logged_in(client):
    """The module's client with the login cookie, for one test."""
    answer = client.post("/login", data={"token": TOKEN, "next": "/jobs"})
    assert answer.status_code == 303, answer.text
    yield client
    client.cookies.clear()


WRITES = [
    ("post", "/api/jobs", {"json": {"model": "minilm", "data": {"task": "nope"}}}),
    ("post", "/api/jobs/1/cancel", {}),
    ("post", "/api/uploads", {"files": {"file": ("train.csv", b"text,label\nfine,1\n", "text/csv")}}),
    ("post", "/api/sweeps/1/cancel", {}),
    ("patch", "/api/jobs/1", {"json": {"keep": True}}),
    ("delete", "/api/jobs/1", {}),
    ("delete", "/api/sweeps/1", {}),
]
READS = ["/api/jobs", "/api/jobs/1", "/api/jobs/1/metrics", "/api/jobs/1/metrics?format=csv", "/api/jobs/1/log",
         "/api/jobs/1/events", "/api/jobs/1/checkpoint", "/api/jobs/1/dynamics", "/api/jobs/1/dynamics/probe",
         "/api/jobs/1/dynamics/maps?example=0&epoch=1&layer=0", "/api/jobs/1/predictions",
         "/api/sweeps", "/api/sweeps/1", "/api/sweeps/1/curves",
         "/api/sweeps/1/importance", "/api/models", "/api/presets", "/api/presets/authors?task=sst2"]
PAGES = ["/", "/jobs", "/jobs/new", "/jobs/compare", "/jobs/1", "/sweeps", "/sweeps/new", "/sweeps/1"]
OPEN = ["/api/health", "/login", "/openapi.json", "/docs", "/redoc", "/static/css/app.css"]


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES)
def test_writes_need_the_token(client, method, path, kwargs):
    missing = getattr(client, method)(path, **kwargs)
    assert missing.status_code == 401 and "API token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer guess"}, **kwargs)
    assert wrong.status_code == 401
    right = getattr(client, method)(path, headers=BEARER, **kwargs)
    assert right.status_code != 401, right.text


def test_right_token_reaches_validation(client):
    response = client.post("/api/jobs", json={"model": "minilm", "data": {"task": "nope"}},
                           headers={"X-API-Token": TOKEN})
    assert response.status_code == 422 and "nope" in response.json()["detail"]


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_token_by_default(client, path):
    missing = client.get(path)
    assert missing.status_code == 401, missing.text
    assert "log in at /login" in missing.json()["detail"] and missing.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers={"Authorization": "Bearer guess"}).status_code == 401
    for headers in (BEARER, {"X-API-Token": TOKEN}):
        assert client.get(path, headers=headers).status_code in (200, 404, 409, 422), path


@pytest.mark.parametrize("path", READS)
def test_reads_take_the_login_cookie(logged_in, path):
    assert logged_in.get(path).status_code in (200, 404, 409, 422), path


def test_a_wrong_header_is_not_saved_by_the_cookie(logged_in):
    assert logged_in.get("/api/jobs", headers={"Authorization": "Bearer guess"}).status_code == 401


def test_a_forged_cookie_is_refused(client):
    for value in (TOKEN, "0" * 64, ""):
        assert client.get("/api/jobs", cookies={SESSION_COOKIE: value}).status_code == 401
    client.cookies.clear()


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_the_browser_to_the_login_page_and_back(client, path):
    refused = client.get(path + "?compare=1")
    assert refused.status_code == 303
    login = client.get(refused.headers["location"])
    assert login.status_code == 200 and f"({path}?compare=1)" in login.text and "needs this server's API token" in login.text
    back = client.post("/login", data={"token": TOKEN, "next": f"{path}?compare=1"})
    try:
        assert back.status_code == 303 and back.headers["location"] == f"{path}?compare=1"
        page = client.get(path)
        assert page.status_code in (200, 404) and 'id="logout"' in page.text
    finally:
        client.cookies.clear()


@pytest.mark.parametrize("path", OPEN)
def test_health_docs_static_and_the_login_page_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_health_names_no_worker_or_queue_without_the_token(client):
    assert client.get("/api/health").json() == {"status": "ok", "version": client.get("/api/health").json()["version"],
                                                "workers": None, "queued_jobs": None, "warning": None,
                                                "data_dir_bytes": None, "disk_free_bytes": None,
                                                "explain_cache_bytes": None, "explain_cache_entries": None}
    assert client.get("/api/health", headers=BEARER).json()["queued_jobs"] == 0


def test_the_login_cookie_is_httponly_strict_and_not_the_token(client):
    wrong = client.post("/login", data={"token": "guess", "next": "/jobs"})
    assert wrong.status_code == 401 and "That is not this server" in wrong.text and "set-cookie" not in wrong.headers
    # pasted with a line break, as a client's header is read
    right = client.post("/login", data={"token": f" {TOKEN}\n", "next": "/jobs"})
    try:
        cookie = right.headers["set-cookie"]
        assert right.status_code == 303 and cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and TOKEN not in cookie
        logout = client.post("/logout")
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert client.get("/api/jobs").status_code == 401
    finally:
        client.cookies.clear()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example", "jobs"])
def test_the_login_page_leads_back_to_this_server_only(client, target):
    answer = client.post("/login", data={"token": TOKEN, "next": target})
    client.cookies.clear()
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(("headers", "allowed"), [
    ({"Origin": "http://testserver"}, True), ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Origin": "http://evil.example"}, False), ({"Origin": "null"}, False),
    ({"Sec-Fetch-Site": "cross-site"}, False), ({"Sec-Fetch-Site": "same-site"}, False), ({}, False),
    ({"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}, False),
])
def test_a_write_with_the_cookie_alone_must_come_from_the_servers_own_pages(logged_in, headers, allowed):
    for answer in (logged_in.post("/api/jobs/1/cancel", headers=headers), logged_in.delete("/api/jobs/1", headers=headers),
                   logged_in.delete("/api/sweeps/1", headers=headers)):
        assert (answer.status_code == 404) if allowed else (answer.status_code == 401), answer.text


def test_open_reads_serve_a_read_only_dashboard(dashboard):
    for path in READS:
        assert dashboard.get(path).status_code in (200, 404, 409, 422), path
    for path in PAGES:
        assert dashboard.get(path).status_code in (200, 404), path
    assert dashboard.get("/api/health").json()["queued_jobs"] == 0
    assert dashboard.post("/api/jobs/1/cancel").status_code == 401
    form = dashboard.get("/jobs/new?clone=3")
    assert 'id="login-notice"' in form.text and "/login?next=/jobs/new%3Fclone%3D3" in form.text


def test_openapi_declares_the_token_on_reads_only_when_they_need_it(client, dashboard):
    def secured(test_client) -> set[str]:
        paths = test_client.get("/openapi.json").json()["paths"]
        return {f"{method.upper()} {path}" for path, operations in paths.items()
                for method, operation in operations.items() if operation.get("security")}

    closed, opened = secured(client), secured(dashboard)
    assert {"GET /api/jobs", "GET /api/jobs/{job_id}/events", "GET /api/jobs/{job_id}/checkpoint",
            "GET /api/sweeps/{sweep_id}", "GET /api/models", "GET /api/presets"} <= closed
    assert "GET /api/health" not in closed and "POST /api/explain" not in closed
    assert {"POST /api/jobs", "POST /api/uploads"} <= opened
    assert not {operation for operation in opened if operation.startswith("GET ")}
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["loginCookie"] == {**schemes["loginCookie"], "in": "cookie", "name": SESSION_COOKIE}


def test_without_a_token_everything_stays_open(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path)), follow_redirects=False) as open_client:
        assert open_client.get("/api/jobs").status_code == 200 and open_client.get("/jobs").status_code == 200
        assert open_client.get("/login?next=/jobs").headers["location"] == "/jobs"
        assert open_client.get("/api/health").json()["queued_jobs"] == 0
        assert "security" not in open_client.get("/openapi.json").json()["paths"]["/api/jobs"]["get"]
