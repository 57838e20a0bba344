"""With an API token configured, every write endpoint requires it and reads stay open."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.settings import Settings

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), api_token=TOKEN)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


WRITES = [
    ("post", "/api/jobs", {"json": {"model": "minilm", "data": {"task": "nope"}}}),
    ("post", "/api/jobs/1/cancel", {}),
    ("post", "/api/uploads", {"files": {"file": ("train.csv", b"text,label\nfine,1\n", "text/csv")}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES)
def test_writes_need_the_token(client, method, path, kwargs):
    missing = getattr(client, method)(path, **kwargs)
    assert missing.status_code == 401 and "API token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer guess"}, **kwargs)
    assert wrong.status_code == 401
    right = getattr(client, method)(path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert right.status_code != 401, right.text


def test_right_token_reaches_validation_and_reads_stay_open(client):
    response = client.post("/api/jobs", json={"model": "minilm", "data": {"task": "nope"}},
                           headers={"X-API-Token": TOKEN})
    assert response.status_code == 422 and "nope" in response.json()["detail"]
    assert client.get("/api/jobs").status_code == 200
    assert client.get("/api/models").status_code == 200
    assert client.post("/api/explain", json={"text": "reads need no token", "layers": [0], "heads": [0]}).status_code == 200
