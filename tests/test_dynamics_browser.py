"""The job form's attribution-dynamics panel and the job page's dynamics charts, in a real browser against a
real API server and worker (embedded default): a job submitted with dynamics on draws one point per epoch and
layer, with its AD-DROP epochs shaded, and offers its maps for download; a job without them shows no panel."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser
EPOCHS = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("browser-dynamics"))


def chart(page, name: str) -> list[dict]:
    return page.evaluate(f"""(document.getElementById('{name}').data || [])
        .map((t) => ({{name: t.name, x: t.x, y: t.y}}))""")


def test_a_job_with_dynamics_draws_them_per_epoch(stack, shared_data, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/new")
        assert not page.is_checked("[name='dynamics.enabled']") and page.is_disabled("[name='dynamics.probe_size']")
        page.fill("[name='model']", str(model))
        page.click("#source button[data-value='directory']")
        page.select_option("[name='data.task']", "sst2")
        page.fill("[name='data.data_dir']", str(data))
        for name, value in {"epochs": str(EPOCHS), "batch_size": "8", "learning_rate": "0.001", "max_length": "64",
                            "patience": ""}.items():
            page.fill(f"[name='training.{name}']", value)
        page.select_option("[name='training.device']", "cpu")
        page.fill("[name='addrop.layers']", "0, 1")
        page.check("[name='dynamics.enabled']")
        assert page.input_value("[name='dynamics.probe_size']") == "64"
        page.fill("[name='dynamics.probe_size']", "8")
        page.fill("[name='dynamics.probe_ids']", "3, 40")
        page.click("#submit-job")
        page.wait_for_function(
            "document.querySelector(\".field-error[data-for='dynamics.probe_ids']\").textContent.length > 0")
        assert "the dev set has 32 examples (0..31); got [40]" in page.inner_text(
            ".field-error[data-for='dynamics.probe_ids']")
        page.fill("[name='dynamics.probe_ids']", "")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])

        page.wait_for_function("document.getElementById('job-state').textContent === 'succeeded'", timeout=180_000)
        page.wait_for_function(f"(document.getElementById('dynamics-concentration-chart').data || [])[0]?.x.length === {EPOCHS}")
        concentration = chart(page, "dynamics-concentration-chart")
        assert [t["name"] for t in concentration] == ["layer 0", "layer 1", "layer 2"]  # masked ones and the last
        assert all(t["x"] == [1, 2, 3, 4] for t in concentration)
        points = httpx.get(f"{stack.url}/api/jobs/{job_id}/metrics", params={"kind": "dynamics"}).json()
        assert concentration[1]["y"] == [p["values"]["concentration_L1"] for p in points]
        reliance = {t["name"]: t for t in chart(page, "dynamics-reliance-chart")}
        assert reliance["stability"]["x"] == [2, 3, 4]  # none at the first epoch
        assert reliance["reliance (top-p dropped)"]["y"] == [p["values"]["reliance"] for p in points]
        assert len(chart(page, "dynamics-entropy-chart")) == 3
        shares = chart(page, "dynamics-shares-chart")
        assert [t["name"] for t in shares] == ["class 0", "class 1"] and all(len(t["x"]) == EPOCHS for t in shares)
        for name in ("dynamics-concentration-chart", "dynamics-reliance-chart"):  # AD-DROP epochs 2 and 4
            assert page.evaluate(f"document.getElementById('{name}').layout.shapes.map((s) => [s.x0, s.x1])") == [
                [1, 2], [3, 4]]
        assert page.is_visible("#dynamics-link")
        assert page.inner_text("#settings-table").count("dynamics.") == 3  # enabled, probe_size, probe_ids
        archive = httpx.get(f"{stack.url}{page.get_attribute('#dynamics-link', 'href')}")
        with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
            assert sorted(files.namelist()) == ["epoch-1.npz", "epoch-2.npz", "epoch-3.npz", "epoch-4.npz", "probe.json"]
        page.locator("#dynamics-panel").scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "jobs-dynamics.png", full_page=True)

        plain = httpx.post(f"{stack.url}/api/jobs", json=job_request(model, data, epochs=1), timeout=30).json()
        page.goto(f"{stack.url}/jobs/{plain['id']}")
        assert page.locator("#dynamics-panel").count() == 0 and not page.is_visible("#dynamics-link")
        wait_for(lambda: httpx.get(f"{stack.url}/api/jobs/{plain['id']}").json()["state"] == "succeeded", 120,
                 "the job without dynamics")
