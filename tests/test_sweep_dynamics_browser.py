"""A sweep whose base job records attribution dynamics, on a real stack (embedded default): each trial and the
baseline carry their runs' final concentration (mean over the base's masked layers) and reliance, equal to the
runs' last dynamics points; the sweep page shows them beside the metric, and a trial's run opens in compare
beside its baseline twin, maps and all."""

from __future__ import annotations

import statistics

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("sweep-dynamics")
    model = save_tiny_model(root / "model")
    data = make_sst2_slice(shared_data, root / "sst2", train=32, validation=16)
    base = {**job_request(model, data, epochs=2), "dynamics": {"enabled": True, "probe_size": 4}}
    base["addrop"] = {"method": "GA", "layers": [0, 1]}
    body = {"base": base, "space": {"p": [0.2, 0.4], "q": [0.3]}, "seeds": [1], "pruning": {"kind": "none"},
            "parallel": 1}
    for stack in running_stack("embedded", root, {"ADDROP_SWEEP_POLL_SECONDS": "0.5"}):
        created = httpx.post(f"{stack.url}/api/sweeps", json=body, timeout=30).json()
        done = wait_for(lambda: (s := httpx.get(f"{stack.url}/api/sweeps/{created['id']}").json())["state"] != "running"
                        and s, 600, "the sweep", interval=1)
        assert done["state"] == "succeeded", done
        yield stack, done


def final(url: str, job_id: int) -> dict:
    return httpx.get(f"{url}/api/jobs/{job_id}/metrics", params={"kind": "dynamics"}).json()[-1]["values"]


def test_trials_carry_their_runs_final_dynamics(finished):
    stack, sweep = finished
    for trial in sweep["trials"]:
        [job_id] = trial["job_ids"]
        values = final(stack.url, job_id)
        assert trial["dynamics"]["concentration"]["values"] == [
            pytest.approx(statistics.fmean([values["concentration_L0"], values["concentration_L1"]]))]
        assert trial["dynamics"]["reliance"]["values"] == [values["reliance"]]
    [baseline] = sweep["baseline_job_ids"]
    assert sweep["baseline_seeds"] == [1]
    values = final(stack.url, baseline)
    assert sweep["baseline_dynamics"]["reliance"]["mean"] == values["reliance"]
    assert sweep["baseline_dynamics"]["concentration"]["mean"] == pytest.approx(
        statistics.fmean([values["concentration_L0"], values["concentration_L1"]]))


def test_the_sweep_page_shows_them_and_leads_to_the_twins_maps(finished):
    stack, sweep = finished
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{stack.url}/sweeps/{sweep['id']}")
        page.wait_for_selector("#trials-table tbody tr")
        headers = page.eval_on_selector_all("#trials-table th", "(ths) => ths.map((th) => th.textContent.trim())")
        column = {name: headers.index(name) for name in ("concentration", "reliance")}
        for trial in sweep["trials"]:
            cells = page.eval_on_selector_all(f"#trials-table tr[data-trial='{trial['number']}'] td",
                                              "(tds) => tds.map((td) => td.textContent)")
            assert cells[column["concentration"]] == f"{trial['dynamics']['concentration']['mean']:.3f}"
            assert cells[column["reliance"]] == f"{trial['dynamics']['reliance']['mean']:.3f}"
        assert f"baseline: concentration {sweep['baseline_dynamics']['concentration']['mean']:.3f}" in page.inner_text(
            "#trials-note")
        page.screenshot(path=ARTIFACTS / "sweep-dynamics-columns.png", full_page=True)

        trial = sweep["trials"][0]
        [baseline] = sweep["baseline_job_ids"]
        link = page.locator(f"#trials-table tr[data-trial='{trial['number']}'] a.twin-compare")
        assert link.get_attribute("href") == f"/jobs/compare?ids={trial['job_ids'][0]},{baseline}&baseline={baseline}"
        link.click()
        page.wait_for_function("[...document.querySelectorAll('#compare-scrubber .scrub-map')]"
                               ".filter((n) => n.data?.length === 1).length === 2")
        titles = page.eval_on_selector_all("#compare-scrubber .scrub-map", "(ns) => ns.map((n) => n.layout.title.text)")
        assert [f"#{trial['job_ids'][0]}" in titles[0], f"#{baseline}" in titles[1]] == [True, True]
        # sweeps keep no checkpoints unless asked: no epoch opens in the explorer, and the page says so
        assert page.locator("#compare-scrubber .scrub-no-checkpoint").first.inner_text() == (
            "this job kept no checkpoint, so no epoch opens in the explorer")
