"""Bounded costs: what one request can make the server read, write, hold and send is bounded by a setting,
whatever the client sends.

The app runs in-process on a temporary data directory with the embedded broker and no worker."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from addrop.data import summarize_file
from backend.main import create_app
from backend.orm import Upload
from backend.settings import Settings

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
    # read up to the cap and the multipart envelope, and at most one chunk more
    assert sent <= CAP + 64 * 1024 + len(chunk), sent
    assert stored(client) == before


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
