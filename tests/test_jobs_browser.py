"""The job pages in a real browser (Debian's Chromium through Playwright) against a real API server and
worker on the embedded default: submit through the form, watch the curve grow, compare two runs."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, make_tiny_model, running_stack, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("browser-jobs"))


def trace_length(page, chart: str, trace: int) -> int:
    return page.evaluate(f"(document.getElementById('{chart}').data || [])[{trace}]?.x.length ?? 0")


def test_submit_watch_and_compare(stack, shared_data, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    model = make_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=160, validation=48)
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/new")
        assert page.input_value("[name='addrop.p']") == "0.3" and page.input_value("[name='training.epochs']") == "10"
        page.fill("[name='name']", "sst2 tiny AD-DROP")
        page.fill("[name='model']", str(model))
        page.click("#source button[data-value='directory']")
        page.select_option("[name='data.task']", "sst2")
        page.fill("[name='data.data_dir']", str(data))
        for name, value in {"epochs": "12", "batch_size": "8", "logging_steps": "2", "learning_rate": "0.001",
                            "max_length": "64", "patience": ""}.items():
            page.fill(f"[name='training.{name}']", value)
        page.select_option("[name='training.device']", "cpu")
        page.fill("[name='addrop.layers']", "0, 1")
        page.fill("[name='addrop.p']", "1.5")
        assert "between 0 and 1" in page.inner_text(".field-error[data-for='addrop.p']")  # inline, before submitting
        page.fill("[name='addrop.p']", "0.3")
        page.fill("[name='addrop.layers']", "0, 7")
        page.click("#submit-job")
        page.wait_for_function("document.querySelector(\".field-error[data-for='addrop.layers']\").textContent.length > 0")
        assert "the model has 3 layers" in page.inner_text(".field-error[data-for='addrop.layers']")
        page.screenshot(path=ARTIFACTS / "jobs-form-error.png", full_page=True)
        page.fill("[name='addrop.layers']", "0, 1")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])

        page.wait_for_function("(document.getElementById('loss-chart').data || [])[1]?.x.length >= 2", timeout=120_000)
        first = trace_length(page, "loss-chart", 1)
        page.wait_for_function(f"document.getElementById('loss-chart').data[1].x.length > {first}", timeout=60_000)
        assert page.inner_text("#job-state") in ("running", "succeeded")
        page.screenshot(path=ARTIFACTS / "jobs-running.png", full_page=True)

        page.wait_for_function("document.getElementById('job-state').textContent === 'succeeded'", timeout=120_000)
        page.wait_for_function("document.getElementById('dev-metric-chart').data[0].x.length >= 2")
        assert page.get_attribute("#explore-link", "href") == f"/?model=job-{job_id}"
        assert page.is_visible("#explore-link") and page.is_visible("#checkpoint-link")
        shapes = page.evaluate("document.getElementById('loss-chart').layout.shapes.length")
        assert shapes == 6  # AD-DROP epochs 2, 4, ..., 12 shaded (early stopping is off)
        assert "succeeded after" in page.inner_text("#log")
        page.screenshot(path=ARTIFACTS / "jobs-succeeded.png", full_page=True)

        zoomed = page.evaluate("""() => Plotly.relayout('loss-chart', {'xaxis.range': [10, 40]})
                                  .then(() => document.getElementById('loss-chart').layout.xaxis.range)""")
        page.fill("#smoothing", "0.9")
        page.dispatch_event("#smoothing", "input")
        assert page.evaluate("document.getElementById('loss-chart').layout.xaxis.range") == zoomed  # redraw keeps zoom

        baseline = httpx.post(f"{stack.url}/api/jobs", json={**job_request(model, data, epochs=6), "addrop": {"enabled": False}},
                              timeout=30).json()
        wait_for(lambda: httpx.get(f"{stack.url}/api/jobs/{baseline['id']}").json()["state"] == "succeeded", 120,
                 "the baseline job")
        page.goto(f"{stack.url}/jobs")
        page.wait_for_selector(f"#jobs-table tr[data-id='{baseline['id']}'] .badge.succeeded")
        assert page.locator("#jobs-table tbody tr").count() == 2
        page.screenshot(path=ARTIFACTS / "jobs-list.png", full_page=True)

        page.goto(f"{stack.url}/jobs/compare?ids={job_id},{baseline['id']}")
        page.wait_for_function("(document.getElementById('compare-metric').data || []).length === 2")
        assert page.locator("#compare-table tbody tr").count() == 2
        page.screenshot(path=ARTIFACTS / "jobs-compare.png", full_page=True)
