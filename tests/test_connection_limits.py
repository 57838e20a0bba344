"""Bounded connections, over real TCP (uvicorn): live event streams per client address and per server, each
refusal a clear answer with Retry-After; uvicorn's limit on connections and its keep-alive, from the settings.

The app runs on a temporary data directory with the embedded broker and no worker: a submitted job stays queued,
so its event stream stays open."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from backend.main import create_app
from backend.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(settings: Settings, **options: int) -> Iterator[int]:
    """Run the app on a free port (uvicorn's ``options`` added) while the block runs; gives the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def answer_head(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read a response's status and headers from ``connection``, and what of the body came with them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, rest


def json_body(connection: socket.socket, headers: dict[str, str], rest: bytes) -> dict:
    while len(rest) < int(headers["content-length"]):
        rest += connection.recv(65536)
    return json.loads(rest)


def request(port: int, path: str, source: str = "127.0.0.1") -> tuple[socket.socket, int, dict[str, str], bytes]:
    """Send a GET from ``source`` (any 127.x address reaches the server) and read its answer's head; the
    connection stays open."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(source, 0))
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    return (connection, *answer_head(connection))


# --- live event streams -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def streams(tmp_path_factory, sst2_dir) -> Iterator[tuple[int, int]]:
    """A server that holds at most 3 streams, 2 per client address, and one queued job: (port, job id)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"], events_max_streams=3,
                        events_max_streams_per_client=2)
    with serve(settings) as port:
        data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
        answer = httpx.post(f"http://127.0.0.1:{port}/api/jobs", timeout=30,
                            json={"model": "minilm", "data": data, "training": {"epochs": 1}})
        assert answer.status_code == 201, answer.text
        yield port, answer.json()["id"]


def test_live_streams_are_bounded_per_client_and_per_server(streams):
    port, job = streams
    path = f"/api/jobs/{job}/events"
    held = []
    try:
        for _ in range(2):
            connection, status, headers, _ = request(port, path)
            held.append(connection)
            assert status == 200 and headers["content-type"].startswith("text/event-stream")

        # the address holds its share: its next stream is refused, the others' are not
        connection, status, headers, rest = request(port, path)
        with connection:
            assert status == 429 and headers["retry-after"] == "30"
            assert "holds 2 live streams" in json_body(connection, headers, rest)["detail"]
        connection, status, _, _ = request(port, path, source="127.0.0.2")
        held.append(connection)
        assert status == 200

        # the server holds all it may: a stream of a new address is refused, but other requests are answered
        connection, status, headers, rest = request(port, path, source="127.0.0.3")
        with connection:
            assert status == 503 and headers["retry-after"] == "30"
            assert "holds 3 live streams" in json_body(connection, headers, rest)["detail"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code == 200

        # a stream that ends gives its slot back, however it ends (here: its client leaves)
        held.pop(0).close()
        deadline = time.monotonic() + 10
        while True:
            connection, status, _, _ = request(port, path, source="127.0.0.3")
            if status == 200:
                held.append(connection)
                break
            connection.close()
            assert time.monotonic() < deadline, "the closed stream's slot never came back"
            time.sleep(0.2)
    finally:
        for connection in held:
            connection.close()


def test_the_stream_refusals_are_in_the_openapi_document(streams):
    port, _ = streams
    document = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
    responses = document["paths"]["/api/jobs/{job_id}/events"]["get"]["responses"]
    assert {"429", "503"} <= responses.keys()


# --- uvicorn's connections ----------------------------------------------------------------------------------

def test_uvicorn_serves_the_configured_connections_and_closes_idle_ones(tmp_path):
    from backend.serve import server_options

    settings = Settings(data_dir=tmp_path, models=["minilm"], server_max_connections=4, events_max_streams=2,
                        server_keep_alive_seconds=1)
    assert server_options(settings) == {"limit_concurrency": 4, "timeout_keep_alive": 1}
    with serve(settings, **server_options(settings)) as port:
        # connections that send nothing count too: with 4 of them open, a request gets uvicorn's 503 at once
        idle = [socket.create_connection(("127.0.0.1", port), timeout=15) for _ in range(4)]
        try:
            connection, status, _, _ = request(port, "/api/health")
            connection.close()
            assert status == 503
        finally:
            for each in idle:
                each.close()
        time.sleep(0.5)  # the server sees them close
        connection, status, headers, rest = request(port, "/api/health")
        with connection:
            assert status == 200 and json_body(connection, headers, rest)["status"] == "ok"
            # kept open for a next request for server_keep_alive_seconds, then closed by the server
            started = time.monotonic()
            assert connection.recv(1) == b""
            assert 0.5 < time.monotonic() - started < 5


def test_open_streams_must_leave_connections_for_everything_else(tmp_path):
    with pytest.raises(ValueError, match="server_max_connections .* must exceed events_max_streams"):
        Settings(data_dir=tmp_path, server_max_connections=256, events_max_streams=256)
