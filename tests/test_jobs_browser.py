"""The job pages in a real browser (Debian's Chromium through Playwright) against a real API server and
worker on the embedded default: submit through the form, watch the curve grow, compare two runs; compare
seeds as bands, against a baseline, across tasks, and export the curves as CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from jobstore.orm import FINISHED
from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import Stack, api_client, job_request, make_glue_slice, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser
EVIL = '<a href="/x">evil</a>'  # a job name that must show as text, never as a link


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("browser-jobs"))


def trace_length(page, chart: str, trace: int) -> int:
    return page.evaluate(f"(document.getElementById('{chart}').data || [])[{trace}]?.x.length ?? 0")


def test_submit_watch_and_compare(stack, shared_data, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    model = save_tiny_model(tmp_path / "model")
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


def chart_data(page, chart: str) -> list[dict]:
    return page.evaluate(f"""(document.getElementById('{chart}').data || [])
        .map((t) => ({{name: t.name, fill: t.fill || null, n: t.x.length, dash: t.line && t.line.dash}}))""")


def test_compare_seed_groups_baseline_and_export(stack, shared_data, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    model = save_tiny_model(tmp_path / "model")
    sst2 = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    cola = make_glue_slice(shared_data, "cola", tmp_path / "cola", train=64, validation=32)
    base = job_request(model, sst2, epochs=3, patience=None)

    def variant(name: str, seed: int, **parts) -> dict:
        return {**base, "name": name, "training": {**base["training"], "seed": seed}, **parts}

    requests = [variant("sst2 baseline", 1, addrop={"enabled": False}),
                variant("sst2 baseline", 2, addrop={"enabled": False}),
                variant(EVIL, 1),
                variant("=cola, \"tiny\"", 1, addrop={"enabled": False},
                        data={"source": "directory", "task": "cola", "data_dir": str(cola)})]
    jobs = [httpx.post(f"{stack.url}/api/jobs", json=r, timeout=30).json() for r in requests]
    ids = [job["id"] for job in jobs]
    for job_id in ids:
        wait_for(lambda job_id=job_id: httpx.get(f"{stack.url}/api/jobs/{job_id}").json()["state"] in FINISHED, 180,
                 f"job {job_id}")
    done = {job_id: httpx.get(f"{stack.url}/api/jobs/{job_id}").json() for job_id in ids}
    assert all(job["state"] == "succeeded" for job in done.values()), done
    seed1, seed2, addrop_run, cola_run = ids

    with chromium_page(width=1280, height=900) as page:
        page.goto(f"{stack.url}/jobs/compare?ids={seed1},{seed2},{addrop_run}")
        page.wait_for_function("(document.getElementById('compare-metric').data || []).length === 3")

        # one group of the two seeds: a filled band and its mean; the AD-DROP run alone
        for chart in ("compare-metric", "compare-dev-loss", "compare-loss"):
            traces = chart_data(page, chart)
            assert [t["fill"] for t in traces] == ["toself", None, None], (chart, traces)
            assert traces[1]["name"] == f"#{seed1}, #{seed2} sst2 baseline (2 seeds)"
            assert traces[1]["dash"] != traces[2]["dash"]
        assert page.evaluate("document.getElementById('compare-loss').layout.yaxis.range") == \
            page.evaluate("document.getElementById('compare-dev-loss').layout.yaxis.range")
        rows = page.locator("#compare-table tbody tr")
        assert rows.count() == 2
        assert page.input_value("#baseline") == str(seed1)  # the plain group is the default baseline
        cells = rows.nth(0).locator("td")
        mean = (done[seed1]["best_metric"] + done[seed2]["best_metric"]) / 2
        std = abs(done[seed1]["best_metric"] - done[seed2]["best_metric"]) / 2 ** 0.5  # sample std of two values
        assert cells.nth(4).inner_text() == f"accuracy {mean:.4f} ± {std:.4f}"
        assert cells.nth(5).inner_text() == "baseline"
        delta = done[addrop_run]["best_metric"] - mean
        assert rows.nth(1).locator("td").nth(5).inner_text() == f"{'+' if delta >= 0 else '−'}{abs(delta):.4f}"

        headers = page.locator("#hparams-table th").all_inner_texts()
        assert "addrop.enabled" in headers and "training.seed" in headers and "addrop.p" in headers
        assert "name" not in headers and "data.task" not in headers
        assert page.locator("#hparams-table tbody tr").count() == 3

        # names are text everywhere: literal in the legend, the table and the hover, never a link
        assert EVIL in page.text_content("#compare-loss .legend")  # SVG: text_content, not inner_text
        assert EVIL in page.inner_text("#compare-table")
        page.evaluate("Plotly.Fx.hover('compare-loss', {xval: 4})")  # the label a pointer at step 4 gets
        assert EVIL in page.text_content("#compare-loss .hoverlayer")
        page.evaluate("Plotly.Fx.unhover('compare-loss')")
        assert page.evaluate("document.querySelectorAll('#compare-charts svg a').length") == 0
        assert page.locator("a[href='/x']").count() == 0
        page.screenshot(path=ARTIFACTS / "jobs-compare-groups.png", full_page=True)

        page.uncheck("#group-seeds")
        page.wait_for_function("document.getElementById('compare-metric').data.length === 3 && "
                               "document.getElementById('compare-metric').data.every((t) => !t.fill)")
        assert page.locator("#compare-table tbody tr").count() == 3
        page.select_option("#baseline", str(addrop_run))
        assert page.url.endswith(f"baseline={addrop_run}")
        assert page.locator(f"#compare-table tr.baseline-row[data-entry='{addrop_run}']").count() == 1
        page.screenshot(path=ARTIFACTS / "jobs-compare-runs.png", full_page=True)
        page.check("#group-seeds")

        # a run of another task: a warning, its own metric chart, and no delta against an sst2 baseline
        assert not page.is_visible("#compare-warning")
        page.select_option("#job-picker", [str(i) for i in ids])
        page.wait_for_selector("#compare-warning:not(.hidden)")
        assert "different tasks (sst2, cola)" in page.inner_text("#compare-warning")
        page.wait_for_function("document.querySelector('.chart.extra-metric')?.data?.length === 1")
        assert "matthews_correlation" in page.text_content(".chart.extra-metric .gtitle")
        assert page.locator("#compare-table tbody tr").last.locator("td").nth(5).inner_text() == "–"
        assert "data.task" in page.locator("#hparams-table th").all_inner_texts()
        page.screenshot(path=ARTIFACTS / "jobs-compare-mixed.png", full_page=True)

        with page.expect_download() as download:
            page.click("#download-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {int(row["job_id"]) for row in table} == set(ids)
    names = {int(row["job_id"]): row["job_name"] for row in table}
    assert names[addrop_run] == EVIL and names[cola_run] == "'=cola, \"tiny\""  # a formula-like name is defused
    for column in ("addrop.enabled", "training.seed", "data.task", "kind", "step", "epoch", "metric", "value"):
        assert column in table[0]
    for job_id in ids:  # every value of every point, numbers exactly as the API gave them
        points = httpx.get(f"{stack.url}/api/jobs/{job_id}/metrics").json()
        expected = sorted((p["kind"], p["step"], name, value) for p in points for name, value in p["values"].items())
        mine = [row for row in table if int(row["job_id"]) == job_id]
        assert sorted((r["kind"], int(r["step"]), r["metric"], float(r["value"])) for r in mine) == expected
        assert {row["kind"] for row in mine} == {"step", "eval"}
    assert {row["training.seed"] for row in table if int(row["job_id"]) in (seed1, seed2)} == {"1", "2"}


def test_a_waiting_jobs_page_says_what_it_waits_for(shared_data, tmp_path):
    """Before its first step (here: no worker at all) a job's page says why it waits, and each chart says what
    it will show instead of drawing empty axes."""
    stack = Stack("embedded", tmp_path)
    try:
        stack.start_api()
        model = save_tiny_model(tmp_path / "model")
        data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
        job_id = stack.client().post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"]
        with chromium_page() as page:
            page.goto(f"{stack.url}/jobs/{job_id}")
            sentences = {"loss-chart": "no training step logged yet", "lr-chart": "no training step logged yet",
                         "dev-metric-chart": "no dev evaluation yet: one follows each epoch",
                         "dev-loss-chart": "no loss logged yet"}
            for chart, sentence in sentences.items():
                page.wait_for_function(f"""(document.getElementById('{chart}').layout?.annotations || [])
                    .some((a) => a.text === {sentence!r})""")
                assert page.evaluate(f"document.getElementById('{chart}')._fullLayout.xaxis.visible") is False
            page.wait_for_function("document.body.innerText.includes('no job worker is alive')", timeout=60_000)
            assert page.inner_text("#log") == "no log line yet"
            page.screenshot(path=ARTIFACTS / "jobs-waiting.png", full_page=True)
    finally:
        stack.close()


def test_the_authors_preset_fills_the_form_and_its_run_keeps_the_rate(stack, shared_data, tmp_path):
    """Choosing the preset fills training and AD-DROP for the task and model (every layer of the 3-layer model
    for CoLA), lists where each value comes from, follows a change of task in the fields that depend on it (an
    edit elsewhere stays), and the job it queues trains at a constant learning rate."""
    model = save_tiny_model(tmp_path / "model")
    data = make_glue_slice(shared_data, "cola", tmp_path / "cola", train=48, validation=24)
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/new")
        page.fill("[name='model']", str(model))
        page.click("#source button[data-value='directory']")
        page.select_option("[name='data.task']", "cola")
        page.fill("[name='data.data_dir']", str(data))
        page.select_option("#preset", "authors")
        page.wait_for_selector("#preset-sources li")
        values = {name: page.input_value(f"[name='{name}']") for name in (
            "training.learning_rate", "training.lr_schedule", "training.max_length", "training.batch_size",
            "training.patience", "training.epochs", "addrop.layers")}
        assert values == {"training.learning_rate": "0.00001", "training.lr_schedule": "constant",
                          "training.max_length": "47", "training.batch_size": "16", "training.patience": "5",
                          "training.epochs": "50", "addrop.layers": "0, 1, 2"}
        sources = page.inner_text("#preset-sources")
        assert "SEQ_LENS=47" in sources and "scheduler.step() is commented out" in sources
        page.fill("[name='training.weight_decay']", "0.02")  # an edit a change of task keeps
        page.select_option("[name='data.task']", "stsb")
        page.wait_for_function("document.querySelector(\"[name='training.max_length']\").value === '100'")
        assert page.input_value("[name='addrop.layers']") == "0"
        assert page.input_value("[name='training.weight_decay']") == "0.02"
        page.select_option("[name='data.task']", "cola")
        page.wait_for_function("document.querySelector(\"[name='addrop.layers']\").value === '0, 1, 2'")
        page.screenshot(path=ARTIFACTS / "jobs-form-preset.png", full_page=True)
        page.fill("[name='training.epochs']", "2")
        page.fill("[name='training.logging_steps']", "1")
        page.select_option("[name='training.device']", "cpu")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])
    client = api_client(stack.url)
    done = wait_for(lambda: (j := client.get(f"/api/jobs/{job_id}").json())["state"] in FINISHED and j, 300,
                    "the preset job to finish", interval=1)
    assert done["state"] == "succeeded", done["error"]
    assert done["spec"]["training"]["lr_schedule"] == "constant" and done["spec"]["addrop"]["layers"] == [0, 1, 2]
    rates = [p["values"]["learning_rate"] for p in client.get(f"/api/jobs/{job_id}/metrics").json()
             if p["kind"] == "step" and "learning_rate" in p["values"]]
    assert rates and all(rate == pytest.approx(1e-5) for rate in rates)
