"""Shared test setup: offline Hub, the shared GLUE data and small data files (tiny models: tests/tiny_models.py)."""

import json
import os

# Nothing in the tests may reach the network; the Hub client reads this at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The app answers only its configured host names (loopback ones by default); Starlette's TestClient says
# "testserver", and the tests' httpx ASGI clients "test". Tests of the default remove this.
os.environ.setdefault("ADDROP_ALLOWED_HOSTS", '["localhost", "127.0.0.1", "[::1]", "testserver", "test"]')

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# the sweep service fixtures (``service``, ``tiny_model``) of the sweep tests
pytest_plugins = ["tests.sweep_service"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "glue").is_dir():
        pytest.skip(f"the shared GLUE data is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sst2_dir(tmp_path_factory) -> Path:
    """A data directory of a few SST-2-shaped rows, for requests that must pass validation without the Hub
    (the tests run offline, where a ``source: hub`` job is refused) or the shared data."""
    folder = tmp_path_factory.mktemp("sst2-rows")
    rows = [{"sentence": "a gorgeous, witty movie", "label": 1}, {"sentence": "dull and overlong", "label": 0}]
    for split in ("train", "validation"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test on a running stack (tests/jobs_stack.py) shows whether its API and worker still run, and
    their logs' tails: a test that loses the server under load says why, in CI's log too."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and hasattr(stack, "report"):
        report.sections.append(("stack", stack.report()))
    return report
