"""The sweep pages in a real browser (Debian's Chromium through Playwright) against a real API server and
worker on the embedded default: a sweep started from the job form's "Sweep this" with a preset, and a
finished p x q sweep's heatmap against the baseline, trials table and curves."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("browser-sweeps"), {"ADDROP_SWEEP_POLL_SECONDS": "0.5"})


def test_sweep_this_from_the_job_form_with_a_preset(stack, shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    with chromium_page(width=1280) as page:
        page.goto(f"{stack.url}/jobs/new")
        page.fill("[name='model']", str(model))
        page.click("#source button[data-value='directory']")
        page.select_option("[name='data.task']", "sst2")
        page.fill("[name='data.data_dir']", str(data))
        for name, value in {"epochs": "2", "batch_size": "8", "learning_rate": "0.001", "max_length": "64"}.items():
            page.fill(f"[name='training.{name}']", value)
        page.select_option("[name='training.device']", "cpu")
        page.fill("[name='addrop.p']", "0.4")
        page.fill("[name='addrop.layers']", "0, 2")
        page.click("#sweep-this")
        page.wait_for_url(re.compile(r"/sweeps/new$"))
        assert "sst2" in page.inner_text("#base-summary") and "2 epochs" in page.inner_text("#base-summary")
        assert page.input_value("[name='space.layers']") == "0,2"  # the base job's layers, not layer 0 alone
        page.click("[data-preset='versus']")
        assert page.input_value("[name='space.p']") == "0.4" and page.input_value("[name='seeds']") == "1, 2, 3"
        assert "1 setting × 3 seeds = 3 runs, plus 3 baseline runs" in page.inner_text("#sweep-size")
        page.fill("[name='space.p']", "0.4, abc")
        assert "not a number" in page.inner_text(".field-error[data-for='space.p']")
        page.fill("[name='space.p']", "0.4")
        page.fill("[name='seeds']", "5")
        page.screenshot(path=ARTIFACTS / "sweep-form.png", full_page=True)
        # until a run has evaluated once, the curves panel says so instead of drawing empty axes
        page.route("**/api/sweeps/*/curves", lambda route: route.fulfill(json={"jobs": {}}))
        page.click("#submit-sweep")
        page.wait_for_url(re.compile(r"/sweeps/\d+$"))
        sweep_id = int(page.url.rsplit("/", 1)[1])
        page.wait_for_function("""(document.getElementById('curves').layout?.annotations || [])
            .some((a) => a.text === 'no run has finished an epoch yet')""")
        assert page.evaluate("document.getElementById('curves')._fullLayout.xaxis.visible") is False
        # the p x q map names its p and q before any trial has a value (Plotly drew bare axes for empty cells)
        page.wait_for_function("""[...document.querySelectorAll('#heatmap .ytick text')].some((t) => t.textContent === '0.4')
            && [...document.querySelectorAll('#heatmap .xtick text')].some((t) => t.textContent === '0.2')""")
        page.unroute("**/api/sweeps/*/curves")
        page.wait_for_function("document.getElementById('sweep-state').textContent === 'succeeded'", timeout=240_000)
        assert "1 of 1 settings finished" in page.inner_text("#progress-text")
        assert page.inner_text("#baseline-value") != "–"
    sweep = stack.client().get(f"/api/sweeps/{sweep_id}").json()
    assert sweep["trials"][0]["params"]["p"] == 0.4 and sweep["spec"]["seeds"] == [5]


def test_the_sweep_page_shows_the_grid_against_the_baseline(stack, shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    base = job_request(model, data, epochs=2)
    client = stack.client()
    created = client.post("/api/sweeps", json={
        "name": "<b>grid</b> sweep", "base": base, "space": {"p": [0.2, 0.6], "q": [0.3, 0.7]}, "seeds": [1],
        "parallel": 2, "pruning": {"kind": "none"}}).json()
    done = wait_for(lambda: (s := client.get(f"/api/sweeps/{created['id']}").json())["state"] == "succeeded" and s,
                    600, "the sweep to finish", interval=1)
    with chromium_page(width=1440) as page:
        page.goto(f"{stack.url}/sweeps/{created['id']}")
        page.wait_for_function("(document.getElementById('heatmap').data || []).length > 0")
        assert page.inner_text("#sweep-name") == "<b>grid</b> sweep"  # shown as text
        heat = page.evaluate("document.getElementById('heatmap').data[0]")
        assert heat["x"] == ["0.3", "0.7"] and heat["y"] == ["0.2", "0.6"]
        baseline = done["baseline"]["mean"]
        for trial in done["trials"]:
            row, column = [0.2, 0.6].index(trial["params"]["p"]), [0.3, 0.7].index(trial["params"]["q"])
            assert heat["z"][row][column] == pytest.approx(trial["value"]["mean"] - baseline)
        assert f"{baseline:.4f}" in page.inner_text("#baseline-value")
        assert page.locator("#trials-table tbody tr").count() == 4
        page.click("#trials-table th[data-sort='value']")
        page.click("#trials-table th[data-sort='value']")
        values = [float(v) for v in page.locator("#trials-table tbody tr td:nth-child(8)").all_inner_texts()]
        assert values == sorted(values, reverse=True)
        with page.expect_download() as download:
            page.click("#download-trials")
        assert download.value.suggested_filename == f"sweep-{created['id']}-trials.csv"
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"), newline="")))
        assert rows[0]["trial"] == "baseline" and float(rows[0]["best_dev_accuracy_mean"]) == pytest.approx(baseline)
        for row, trial in zip(rows[1:], sorted(done["trials"], key=lambda t: t["number"]), strict=True):
            assert (int(row["trial"]), float(row["p"]), float(row["q"]), row["state"]) == \
                (trial["number"], trial["params"]["p"], trial["params"]["q"], trial["state"])
            assert float(row["best_dev_accuracy_mean"]) == pytest.approx(trial["value"]["mean"])
            assert [int(i) for i in row["job_ids"].split(",")] == trial["job_ids"]
        best = done["best"]
        assert page.get_attribute("#use-these", "href") == f"/jobs/new?clone={best['job_ids'][0]}"
        # one baseline run (seed 1): its curve, with no ± std band around it
        page.wait_for_function("(document.getElementById('curves').data || []).some((t) => t.name === 'baseline')")
        assert "baseline ± std" not in page.evaluate("document.getElementById('curves').data.map((t) => t.name)")
        page.wait_for_function("document.getElementById('importance').layout.title.text.includes('4 trials')")
        page.screenshot(path=ARTIFACTS / "sweep-page.png", full_page=True)
        page.goto(f"{stack.url}/sweeps")
        page.wait_for_selector(f"#sweeps-table a[href='/sweeps/{created['id']}']")
        assert "4 / 4" in page.inner_text("#sweeps-table")
        page.screenshot(path=ARTIFACTS / "sweeps-list.png", full_page=True)


def test_a_baseline_from_earlier_runs_is_the_curves_reference_line(stack, shared_data, tmp_path):
    """A resumed sweep without twins of its own (``prior_baseline``): the heatmap is coloured against the earlier
    runs' mean, and the curves draw that mean as a dashed line over the trials' epochs with a +/- std band."""
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    client = stack.client()
    earlier = [0.50, 0.56]
    created = client.post("/api/sweeps", json={
        "base": job_request(model, data, epochs=2), "space": {"p": [0.3], "q": [0.5]}, "seeds": [1],
        "baseline": False, "prior_baseline": earlier, "pruning": {"kind": "none"}}).json()
    done = wait_for(lambda: (s := client.get(f"/api/sweeps/{created['id']}").json())["state"] == "succeeded" and s,
                    600, "the sweep to finish", interval=1)
    mean, std = sum(earlier) / 2, abs(earlier[1] - earlier[0]) / 2 ** 0.5
    with chromium_page(width=1280) as page:
        page.goto(f"{stack.url}/sweeps/{created['id']}")
        page.wait_for_function("(document.getElementById('curves').data || []).some((t) => t.name.startsWith('baseline best'))")
        assert "runs before this sweep" in page.inner_text("#baseline-detail")
        heat = page.evaluate("document.getElementById('heatmap').data[0]")
        assert heat["z"][0][0] == pytest.approx(done["trials"][0]["value"]["mean"] - mean)
        curves = {trace["name"]: trace for trace in page.evaluate("document.getElementById('curves').data")}
        line, band = curves["baseline best (earlier runs)"], curves["baseline ± std"]
        assert line["y"] == pytest.approx([mean, mean]) and line["line"]["dash"] == "dash"
        assert line["x"] == [1, 2]  # across the trials' epochs
        assert sorted(set(band["y"])) == pytest.approx([mean - std, mean + std])
        page.screenshot(path=ARTIFACTS / "sweep-page-earlier-baseline.png", full_page=True)
        assert "wide" not in page.get_attribute("#heatmap", "class")
        # The same sweep over a 9 x 9 grid, its trial pruned: the map takes a row of its own (cells wide enough
        # for "+0.032"), and the pruned mark sits in its cell's corner, off the label.
        grid = [round(0.1 * i, 1) for i in range(1, 10)]
        wide = {**done, "spec": {**done["spec"], "space": {**done["spec"]["space"], "p": grid, "q": grid}},
                "trials": [{**done["trials"][0], "state": "pruned"}]}
        page.route(f"**/api/sweeps/{created['id']}", lambda route: route.fulfill(json=wide))
        # and its run stopped after epoch 1: the reference line still spans the 2 epochs the runs train
        first = {"jobs": {job: [p for p in points if p["epoch"] <= 1] for job, points in
                          client.get(f"/api/sweeps/{created['id']}/curves").json()["jobs"].items()}}
        page.route(f"**/api/sweeps/{created['id']}/curves", lambda route: route.fulfill(json=first))
        page.reload()
        page.wait_for_function("(document.getElementById('heatmap').data || []).some((t) => t.name === 'pruned')")
        page.wait_for_function("(document.getElementById('curves').data || []).some((t) => t.name === 'trial 0 (p=0.3, q=0.5)')")
        curves = {trace["name"]: trace for trace in page.evaluate("document.getElementById('curves').data")}
        assert curves["trial 0 (p=0.3, q=0.5)"]["x"] == [1] and curves["baseline best (earlier runs)"]["x"] == [1, 2]
        assert "wide" in page.get_attribute("#heatmap", "class")
        assert page.evaluate("document.getElementById('curves').getBoundingClientRect().top") > \
            page.evaluate("document.getElementById('heatmap').getBoundingClientRect().bottom")
        cell = page.evaluate("document.getElementById('heatmap')._fullLayout.xaxis._length") / 9
        assert cell > 6.5 * 11 * 0.6  # "+0.032" at the 11 px label font
        mark = next(t for t in page.evaluate("document.getElementById('heatmap').data") if t.get("name") == "pruned")
        assert (mark["xaxis"], mark["x"], mark["y"]) == ("x2", [grid.index(0.5) + 0.32], [grid.index(0.3) + 0.32])
        page.screenshot(path=ARTIFACTS / "sweep-page-9x9.png", full_page=True)
