"""Bounded costs: what one request can make the server read, write, hold and send is bounded by a setting,
whatever the client sends.

The app runs in-process on a temporary data directory with the embedded broker and no worker."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from transformers import BertForSequenceClassification

import backend.explainer
from addrop.data.summary import summarize_file
from addrop.hooks import attach
from backend.main import create_app
from backend.settings import Settings
from jobstore.orm import Upload
from tests.tiny_models import save_tiny_model

CAP = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"], upload_max_bytes=CAP)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def stored(client) -> tuple[int, list[Path]]:
    """Upload rows and the files under the uploads directory."""
    state = client.app.state
    with state.jobs.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Upload))
    uploads = state.settings.uploads_dir
    return rows, sorted(uploads.rglob("*")) if uploads.exists() else []


def upload(client, name: str, text: str) -> httpx.Response:
    return client.post("/api/uploads", files={"file": (name, text.encode(), "text/plain")})


# --- uploads ----------------------------------------------------------------------------------------------

def test_a_chunked_upload_is_cut_off_at_the_cap(client):
    """No Content-Length: the server must count while the body streams in and stop at the cap, not read
    (and spool to disk) the whole body before refusing it."""
    before = stored(client)
    boundary = "addrop-boundary"
    chunk = b"x" * 65536
    sent = 0
    total = 12 * CAP  # what the client would send if the server kept reading

    async def body():
        nonlocal sent
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                "Content-Type: text/csv\r\n\r\ntext,label\r\n")
        yield head.encode()
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post("/api/uploads", content=body(),
                                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    answer = asyncio.run(post())
    assert answer.status_code == 413, answer.text
    assert "larger than this server accepts (16 MiB)" in answer.json()["detail"]
    assert answer.headers["connection"] == "close"  # or the server would go on reading the rest
    # read up to the cap and the multipart envelope, and at most one chunk more
    assert sent <= CAP + 64 * 1024 + len(chunk), sent
    assert stored(client) == before


def test_a_real_server_stops_reading_a_chunked_upload_past_the_cap(client):
    """Over TCP (uvicorn): once the app has refused the upload the connection closes, so the client cannot
    go on sending; without that the server reads, and drops, the rest of the body."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    sent = 0

    def body():
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\ntext,label\r\n'
        while sent < 12 * CAP:
            sent += 65536
            yield b"x" * 65536

    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            answer = httpx.post(f"http://127.0.0.1:{port}/api/uploads", content=body(), timeout=60,
                                headers={"Content-Type": "multipart/form-data; boundary=b"})
            assert answer.status_code == 413
        except httpx.TransportError:
            pass  # the server closed the connection while the client was still sending: what it should do
    finally:
        server.should_exit = True
        thread.join(30)
    # the cap, and what the kernel's socket buffers took in before the connection closed
    assert sent < 3 * CAP, sent


def test_a_very_wide_file_gets_a_small_clear_answer(client):
    before = stored(client)
    header = ",".join(f"c{i}" for i in range(1_000_000))
    answer = upload(client, "wide.csv", header + "\n" + ",".join("1" * 1_000_000) + "\n")
    assert answer.status_code == 422, answer.text[:300]
    assert len(answer.content) < 1000
    detail = answer.json()["detail"]
    assert "1000000 columns" in detail and "at most 256" in detail and "wide.csv" in detail
    assert str(client.app.state.settings.uploads_dir) not in detail
    assert stored(client) == before


def test_long_values_keep_the_answer_small(client):
    columns = [f"c{i}" for i in range(200)]
    long = "y" * 2000
    lines = [",".join([*columns, "label"])] + [",".join([long] * 200 + [label]) for label in "ab" * 3]
    answer = upload(client, "long.csv", "\n".join(lines) + "\n")
    assert answer.status_code == 201, answer.text[:300]
    assert len(answer.content) < 700_000  # the rows themselves are 2.4 MB
    summary = answer.json()
    assert summary["rows"] == 6 and summary["columns"] == [*columns, "label"]
    assert len(summary["preview"]) == 5 and summary["preview"][0]["c0"] == "y" * 500 + "…"
    assert summary["distinct"]["label"] == ["a", "b"] and summary["distinct"]["c0"] is None


def test_a_long_column_name_is_refused(client):
    before = stored(client)
    answer = upload(client, "names.csv", "text," + "n" * 300 + "\nhi,1\n")
    assert answer.status_code == 422
    assert "column 2's name is 300 characters long; at most 200" in answer.json()["detail"]
    assert stored(client) == before


@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl", "rows.json"])
def test_summarizing_a_file_holds_one_row_at_a_time(tmp_path, name):
    """The summary needs memory for what it returns, not for the file parsed into Python objects (which is
    several times the file's size)."""
    path = tmp_path / name
    rows = 40_000
    if name.endswith(".csv"):
        path.write_text("text,label\n" + "".join(f"the film number {i} is fine,{i % 2}\n" for i in range(rows)))
    elif name.endswith(".jsonl"):
        path.write_text("".join(f'{{"text": "the film number {i} is fine", "label": {i % 2}}}\n' for i in range(rows)))
    else:
        path.write_text("[" + ",\n".join(f'{{"text": "film {i}", "label": {i % 2}}}' for i in range(rows)) + "]")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        summary = summarize_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.rows == rows and summary.distinct["label"] in (["0", "1"], [0, 1])
    # the text of a JSON array is held whole (its items are decoded one at a time), so: near the file's size
    assert peak < (2.5 if name.endswith(".json") else 0.5) * size + 3 * 2**20, (peak, size)


# --- request bodies ---------------------------------------------------------------------------------------

BODY_CAP = 64 * 1024
CHUNK = 16 * 1024


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """An app whose request bodies may be BODY_CAP bytes and take a second (uploads: CAP, and two seconds)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("limited"), models=["minilm"], upload_max_bytes=CAP,
                        body_max_bytes=BODY_CAP, body_timeout_seconds=1, upload_timeout_seconds=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


class Body:
    """A request body that streams ``total`` bytes of a JSON string in CHUNK pieces (``pause`` seconds apart,
    or waiting for ``hold`` before the rest), counting what the server took."""

    def __init__(self, total: int, pause: float = 0.0, hold: asyncio.Event | None = None,
                 head: bytes = b'{"text": "', tail: bytes = b'"}') -> None:
        self.total, self.pause, self.hold, self.head, self.tail = total, pause, hold, head, tail
        self.sent = 0

    async def __aiter__(self):
        yield self.head
        if self.hold is not None:
            await self.hold.wait()
        while self.sent < self.total:
            await asyncio.sleep(self.pause)
            self.sent += CHUNK
            yield b"a" * CHUNK
        yield self.tail


async def asgi(app, path: str, body: Body, content_type: str = "application/json",
               length: int | None = None) -> httpx.Response:
    """POST ``body`` to ``app`` in-process; with ``length``, a Content-Length header instead of chunks. A request
    the app holds for 20 s fails the test (it would wait for good)."""
    headers = {"Content-Type": content_type, **({"Content-Length": str(length)} if length is not None else {})}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        return await asyncio.wait_for(http.post(path, content=body, headers=headers), 20)


BODY_ROUTES = [("/api/explain", "application/json"), ("/api/jobs", "application/json"),
               ("/api/sweeps", "application/json"), ("/api/explain", "text/plain"), ("/api/jobs", "text/plain")]


@pytest.mark.parametrize(("path", "content_type"), BODY_ROUTES)
@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_cap_is_refused_without_reading_it(limited, path, content_type, declared):
    """256 times the cap sent to a route that takes a few KiB: refused at once when Content-Length says so,
    else as soon as the body passes the cap; the server never holds more than the cap and one chunk."""
    before = stored(limited)
    body = Body(256 * BODY_CAP)
    answer = asyncio.run(asgi(limited.app, path, body, content_type, length=256 * BODY_CAP if declared else None))
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["detail"] == "the request body is larger than this server accepts (64 KiB)"
    assert answer.headers["connection"] == "close"
    assert body.sent <= (0 if declared else BODY_CAP + CHUNK), body.sent
    assert stored(limited) == before


@pytest.mark.parametrize("path", ["/api/jobs/1/cancel", "/api/health", "/api/no-such-route"])
def test_a_body_a_route_never_reads_closes_the_connection(limited, path):
    """A route that takes no body answers without reading it; the connection then closes, or the server would
    read (and drop) the rest of the body, however long, to reach the next request on it."""
    body = Body(256 * BODY_CAP)
    answer = asyncio.run(asgi(limited.app, path, body, "text/plain"))
    assert answer.status_code in (404, 405), answer.text[:300]
    assert answer.headers["connection"] == "close" and body.sent == 0


def test_a_request_without_a_body_keeps_its_connection(limited):
    assert "connection" not in limited.get("/api/health").headers


def test_a_body_at_the_cap_is_read(limited):
    head, tail = b'{"text": "', b'"}'
    text = b"a" * (BODY_CAP - len(head) - len(tail))
    answer = limited.post("/api/explain", content=head + text + tail, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "the limit is 2000" in answer.json()["detail"], answer.text[:300]


@pytest.mark.parametrize(("path", "content_type", "seconds"), [
    ("/api/explain", "application/json", 1), ("/api/jobs", "application/json", 1), ("/api/jobs", "text/plain", 1),
    ("/api/uploads", "multipart/form-data; boundary=b", 2),
])
def test_a_body_that_never_finishes_is_refused_in_time(limited, path, content_type, seconds):
    before = stored(limited)
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\ntext,label\r\n'
    body = Body(BODY_CAP, hold=asyncio.Event(), head=head if "multipart" in content_type else b'{"text": "')
    started = time.monotonic()
    answer = asyncio.run(asgi(limited.app, path, body, content_type))
    waited = time.monotonic() - started
    assert answer.status_code == 408, answer.text[:300]
    assert answer.json()["detail"] == f"the request body did not arrive within {seconds} s; send it at once"
    assert answer.headers["connection"] == "close"
    assert seconds <= waited < seconds + 5, waited
    assert stored(limited) == before


def test_a_slow_body_is_refused_at_its_deadline_however_it_trickles(limited):
    """A chunk every 0.4 s never leaves the connection idle for long; the body as a whole has one second."""
    body = Body(3 * CHUNK, pause=0.4)
    answer = asyncio.run(asgi(limited.app, "/api/explain", body))
    assert answer.status_code == 408, answer.text[:300]
    assert body.sent < BODY_CAP


def test_a_real_server_answers_a_stalled_body_and_closes_the_connection(limited):
    """Over TCP (uvicorn): a request whose body stops half-way gets its 408 and the connection closes, where it
    was held open for good."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(limited.app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
            connection.sendall(b"POST /api/explain HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                               b'Content-Length: 100\r\n\r\n{"text": "a')
            received = b""
            while chunk := connection.recv(65536):  # until the server closes (a timeout fails the test)
                received += chunk
        assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    finally:
        server.should_exit = True
        thread.join(30)


def test_uploads_received_at_once_are_capped(tmp_path):
    """Each upload spills to temporary disk while it streams in: past ``upload_concurrency`` at once the next
    is refused before its body is read, and a slot is free again once an upload ends, however it ends."""
    app = create_app(Settings(data_dir=tmp_path, upload_concurrency=2))
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\ntext,label\r\n'
    multipart = "multipart/form-data; boundary=b"

    async def scenario():
        hold = asyncio.Event()
        held = [Body(CHUNK, hold=hold, head=head, tail=b",1\r\n--b--\r\n") for _ in range(2)]
        uploads = [asyncio.create_task(asgi(app, "/api/uploads", body, multipart)) for body in held]
        while app.state.upload_slots.taken < 2:
            await asyncio.sleep(0.01)
        third = Body(CHUNK, head=head, tail=b",1\r\n--b--\r\n")
        refused = await asgi(app, "/api/uploads", third, multipart)
        hold.set()
        return refused, third, await asyncio.gather(*uploads)

    refused, third, answers = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5", refused.text
    assert refused.json()["detail"] == "this server is receiving 2 other uploads; try again in 5 s"
    assert third.sent == 0
    assert [answer.status_code for answer in answers] == [201, 201], [a.text for a in answers]
    again = asyncio.run(asgi(app, "/api/uploads", Body(CHUNK, head=head, tail=b",1\r\n--b--\r\n"), multipart))
    assert again.status_code == 201 and app.state.upload_slots.taken == 0


def test_every_operation_with_a_body_declares_the_body_refusals(limited):
    document = limited.app.openapi()
    with_body = [(path, operation) for path, item in document["paths"].items() for operation in item.values()
                 if "requestBody" in operation]
    assert len(with_body) >= 4
    for path, operation in with_body:
        for status in ("408", "413"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorMessage"}, (path, status)


# --- explain ----------------------------------------------------------------------------------------------

WORKERS, QUEUE = 2, 3


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny random BERT classifier with the MiniLM tokenizer."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny"), BertForSequenceClassification, "minilm", layers=2)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory, tiny_dir):
    """An app whose explorer has WORKERS threads and QUEUE places; the first model is the tiny one."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("explorer"), models=[str(tiny_dir)],
                        explain_workers=WORKERS, explain_queue=QUEUE)
    return create_app(settings)


def explain_body(tiny_dir: Path, text: str, **extra) -> dict:
    return {"model": tiny_dir.name, "text": text, "fields": ["attribution"], **extra}


async def asgi_post(app, path: str, body: dict, leave: asyncio.Event) -> list[dict]:
    """POST ``body`` straight to the ASGI app; the client leaves (http.disconnect) once ``leave`` is set.
    Returns the messages the app sent."""
    sent: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
             "client": ("127.0.0.1", 1), "server": ("test", 80)}
    await app(scope, receive, send)
    return sent


class Gate:
    """Stands in for a long computation: each call waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = 0
        self.opened = threading.Event()

    def wait(self) -> None:
        self.entered += 1
        assert self.opened.wait(30), "the test never opened the gate"


def test_explains_leave_health_checks_alone_and_a_full_queue_answers_503(explorer, tiny_dir, monkeypatch):
    """64 explains at once: WORKERS run, QUEUE wait, the rest are told when to come back; /api/health,
    which runs on the app's shared threads, answers at once meanwhile (it waited for seconds when each
    explain held one of those threads)."""
    gate = Gate()
    real = explorer.state.explainer.explain
    monkeypatch.setattr(explorer.state.explainer, "explain", lambda body: gate.wait() or real(body))

    async def scenario():
        transport = httpx.ASGITransport(app=explorer)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            requests = [asyncio.ensure_future(http.post("/api/explain", json=explain_body(tiny_dir, f"input {i}")))
                        for i in range(64)]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (gate.entered < WORKERS or sum(r.done() for r in requests) < 64
                                                   - WORKERS - QUEUE):
                await asyncio.sleep(0.05)
            try:
                started = time.perf_counter()
                health = await asyncio.wait_for(http.get("/api/health"), 3)
                health_seconds = time.perf_counter() - started
                entered_while_blocked = gate.entered
            finally:
                gate.opened.set()
            return health, health_seconds, entered_while_blocked, await asyncio.gather(*requests)

    health, seconds, entered, answers = asyncio.run(scenario())
    assert health.status_code == 200 and seconds < 1.0, seconds
    assert entered == WORKERS
    busy = [a for a in answers if a.status_code == 503]
    assert len(busy) == 64 - WORKERS - QUEUE
    assert all(a.headers["retry-after"].isdigit() and int(a.headers["retry-after"]) >= 1 for a in busy)
    assert "busy" in busy[0].json()["detail"]
    assert sorted(a.status_code for a in answers if a.status_code != 503) == [200] * (WORKERS + QUEUE)


def test_a_queued_request_whose_client_left_never_starts(explorer, tiny_dir, monkeypatch):
    gate = Gate()
    real = explorer.state.explainer.explain
    monkeypatch.setattr(explorer.state.explainer, "explain", lambda body: gate.wait() or real(body))

    async def scenario():
        stay, leave = asyncio.Event(), asyncio.Event()
        running = [asyncio.ensure_future(asgi_post(explorer, "/api/explain", explain_body(tiny_dir, f"busy {i}"),
                                                   stay)) for i in range(WORKERS)]
        while gate.entered < WORKERS:
            await asyncio.sleep(0.02)
        queued = asyncio.ensure_future(asgi_post(explorer, "/api/explain", explain_body(tiny_dir, "left"), leave))
        await asyncio.sleep(0.2)
        leave.set()
        left = await asyncio.wait_for(queued, 5)
        gate.opened.set()
        return left, await asyncio.gather(*running)

    left, running = asyncio.run(scenario())
    assert gate.entered == WORKERS  # the left request was dropped from the queue, never computed
    assert left[0]["status"] == 499
    assert [messages[0]["status"] for messages in running] == [200] * WORKERS


def test_a_running_request_whose_client_left_stops_within_a_layer(explorer, tiny_dir):
    """An IGA request (100 steps) stops at the next attention layer once its client has left, and caches
    nothing."""
    warm = explorer.state.explainer.warm(tiny_dir.name)
    calls = 0
    loop_and_leave: list = []

    def count(module, args) -> None:
        nonlocal calls
        calls += 1
        if calls == 3 and loop_and_leave:
            loop, leave = loop_and_leave
            loop.call_soon_threadsafe(leave.set)
            # hold this layer until the pool has seen the client leave
            backend.explainer._ABANDONED.get().wait(5)

    handles = [module.register_forward_pre_hook(count) for module in attach(warm.model).modules]
    try:
        async def scenario(text: str, leaving: bool) -> list[dict]:
            leave = asyncio.Event()
            if leaving:
                loop_and_leave[:] = [asyncio.get_running_loop(), leave]
            return await asgi_post(explorer, "/api/explain", explain_body(tiny_dir, text, method="IGA", steps=100),
                                   leave)

        full = asyncio.run(scenario("the whole computation", leaving=False))
        assert full[0]["status"] == 200
        full_calls, calls = calls, 0
        left = asyncio.run(scenario("a computation left early", leaving=True))
    finally:
        for handle in handles:
            handle.remove()
    assert left[0]["status"] == 499
    assert calls == 3 < full_calls, (calls, full_calls)
    again = asyncio.run(asgi_post(explorer, "/api/explain",
                                  explain_body(tiny_dir, "a computation left early", method="IGA", steps=100),
                                  asyncio.Event()))
    assert json.loads(again[1]["body"])["cached"] is False


def test_cheap_explains_pass_costly_ones(explorer, tiny_dir, monkeypatch):
    """Two IGA computations wait (one runs, one is queued for the costly lane); a GA request is answered
    meanwhile, on the thread kept for cheap requests (it waited for the whole IGA computation while each
    model ran one pass at a time)."""
    gate = Gate()
    real = backend.explainer.attribute_text

    def attribute(*args, **kwargs):
        if kwargs["method"] == "IGA":
            gate.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.explainer, "attribute_text", attribute)

    async def scenario():
        transport = httpx.ASGITransport(app=explorer)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            costly = [asyncio.ensure_future(http.post("/api/explain", json=explain_body(
                tiny_dir, f"costly {i}", method="IGA", steps=100))) for i in range(2)]
            while gate.entered < 1:
                await asyncio.sleep(0.02)
            try:
                cheap = await asyncio.wait_for(http.post("/api/explain", json=explain_body(tiny_dir, "cheap")), 5)
                entered = gate.entered
            finally:
                gate.opened.set()
            return cheap, entered, await asyncio.gather(*costly)

    cheap, entered, costly = asyncio.run(scenario())
    assert cheap.status_code == 200 and cheap.json()["method"] == "GA"
    assert entered == 1  # the second IGA request waited for the costly lane
    assert [answer.status_code for answer in costly] == [200, 200]


# --- checkpoint downloads ---------------------------------------------------------------------------------

def test_a_checkpoint_is_zipped_once_and_again_only_when_it_changed(client, tmp_path, monkeypatch):
    best = tmp_path / "job" / "best"
    (best / "tokenizer").mkdir(parents=True)
    (best / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (best / "tokenizer" / "vocab.txt").write_text("[CLS]\n[SEP]\n")
    monkeypatch.setattr(client.app.state.jobs, "checkpoint_dir", lambda job_id: best)

    def download() -> dict[str, bytes]:
        answer = client.get("/api/jobs/7/checkpoint")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert 'filename="job-7-best.zip"' in answer.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}

    first = download()
    assert first == {"model.safetensors": bytes(range(256)) * 4096, "tokenizer/vocab.txt": b"[CLS]\n[SEP]\n"}
    kept = best.parent / "best.zip"
    built = kept.stat()
    assert download() == first
    assert (kept.stat().st_ino, kept.stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)  # not zipped again

    (best / "config.json").write_text("{}")  # a new file, then a rewritten one: zipped again each time
    assert download() == {**first, "config.json": b"{}"}
    (best / "config.json").write_text('{"num_labels": 2}')
    assert download()["config.json"] == b'{"num_labels": 2}'
    assert sorted(p.name for p in best.parent.iterdir()) == ["best", "best.zip"]  # no partial zip left


# --- the OpenAPI document ---------------------------------------------------------------------------------

@pytest.mark.parametrize("explain_requires_token", [False, True])
def test_the_openapi_document_declares_the_token_where_it_is_needed(tmp_path, explain_requires_token):
    app = create_app(Settings(data_dir=tmp_path, api_token="s3cret", explain_requires_token=explain_requires_token))
    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {"type": "http", "scheme": "bearer", "description": "The server's ADDROP_API_TOKEN."}
    assert schemes["apiTokenHeader"]["in"] == "header" and schemes["apiTokenHeader"]["name"] == "X-API-Token"
    operations = {(method.upper(), path): operation for path, item in document["paths"].items()
                  for method, operation in item.items()}
    open_ = {key for key, operation in operations.items() if "security" not in operation}
    # with a token every read needs it too (ADDROP_OPEN_READS opens them): only health stays open, and explain
    # unless it requires the token
    assert open_ == {("GET", "/api/health")} | (set() if explain_requires_token else {("POST", "/api/explain")})
    assert all("401" in operation["responses"] for key, operation in operations.items() if key not in open_)
    assert operations["POST", "/api/jobs"]["security"] == [{"bearerToken": []}, {"apiTokenHeader": []},
                                                          {"loginCookie": []}]


def test_without_a_token_the_openapi_document_declares_no_security(tmp_path):
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    assert "securitySchemes" not in document.get("components", {})
    assert not [op for item in document["paths"].values() for op in item.values() if "security" in op]
