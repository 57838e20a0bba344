"""HEAD answers as GET does, without the body (curl -I, link checkers, uptime monitors), on every page, the API
documentation, the health check and the static files, over real TCP (uvicorn)."""

from __future__ import annotations

import socket

import pytest

from backend.routes import docs, job_pages, login, pages, sweep_pages
from backend.settings import Settings
from tests.test_connection_limits import answer_head, serve

PATHS = ["/", "/jobs", "/jobs/new", "/jobs/compare", "/jobs/1", "/sweeps", "/sweeps/new", "/sweeps/1", "/login",
         "/docs", "/redoc", f"{docs.PREFIX}/swagger-ui.css", "/api/health", "/openapi.json", "/static/css/app.css",
         "/static/css/missing.css"]


def exchange(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read everything the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        status, headers, rest = answer_head(connection)
        while chunk := connection.recv(65536):
            rest += chunk
    return status, headers, rest


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    with serve(Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"])) as port:
        yield port


def test_every_page_route_takes_head():
    # a page added later is checked too
    for module in (pages, job_pages, sweep_pages, login, docs):
        for route in module.router.routes:
            if "GET" in route.methods:
                assert "HEAD" in route.methods, route.path


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_as_get_without_the_body(port, path):
    status, headers, body = exchange(port, "GET", path)
    head_status, head_headers, head_body = exchange(port, "HEAD", path)
    assert head_status == status and status in (200, 303, 404), (path, head_status, status)
    assert head_body == b""
    assert head_headers.get("content-type") == headers.get("content-type")
    assert head_headers.get("content-length") == headers.get("content-length") == str(len(body))
