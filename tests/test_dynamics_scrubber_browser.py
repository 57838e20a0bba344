"""The epoch scrubber of attribution dynamics and the compare view's dynamics, in a real browser against a real
API server and worker (embedded default): an AD-DROP job and its baseline twin (same task and seed, so one probe
set) record their maps; the job page draws the chosen example's map at the chosen epoch as stored, with its
candidate region outlined, and offers the explorer at the kept checkpoint's epoch only; compare draws both runs'
curves on shared axes and the same example's maps side by side on one colour scale."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser
EPOCHS = 3


@pytest.fixture(scope="module")
def twins(tmp_path_factory, shared_data):
    """The stack, an AD-DROP job (p 0.2) and its baseline twin, both finished with 3 recorded epochs."""
    root = tmp_path_factory.mktemp("browser-scrubber")
    model = save_tiny_model(root / "model")
    data = make_sst2_slice(shared_data, root / "sst2", train=48, validation=24)
    for stack in running_stack("embedded", root):
        body = {**job_request(model, data, epochs=EPOCHS), "dynamics": {"enabled": True, "probe_size": 4}}
        body["addrop"]["p"] = 0.2
        addrop = httpx.post(f"{stack.url}/api/jobs", json=body, timeout=30).json()["id"]
        body = {**body, "addrop": {**body["addrop"], "enabled": False}}
        baseline = httpx.post(f"{stack.url}/api/jobs", json=body, timeout=30).json()["id"]
        for job_id in (addrop, baseline):
            wait_for(lambda: httpx.get(f"{stack.url}/api/jobs/{job_id}").json()["state"] == "succeeded", 300,
                     f"job {job_id}")
        yield stack, addrop, baseline


def heatmaps(page, selector: str) -> list[dict]:
    """The scrubber's drawn heatmaps under ``selector``: values, colour range, the region's outline, title."""
    return page.evaluate(f"""[...document.querySelectorAll('{selector} .scrub-map')].map((node) => {{
        const [map] = node.data || [];
        return map ? {{z: map.z, zmin: map.zmin, zmax: map.zmax, outline: node.layout.shapes.map((s) => s.path),
                       title: node.layout.title.text}} : null;
    }})""")


def stored(url: str, job_id: int, **view) -> dict:
    return httpx.get(f"{url}/api/jobs/{job_id}/dynamics/maps", params=view).json()


def test_the_job_page_scrubs_through_the_epochs(twins):
    stack, job_id, _ = twins
    job = httpx.get(f"{stack.url}/api/jobs/{job_id}").json()
    best = round(job["best_epoch"])
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/{job_id}")
        page.wait_for_function("document.querySelector('#dynamics-scrubber .scrub-map')?.data?.length === 1")
        assert page.input_value("#dynamics-scrubber .scrub-epoch") == str(EPOCHS - 1)  # on the newest epoch
        assert page.inner_text(".scrub-epoch-label") == f"{EPOCHS} of {EPOCHS}"
        [drawn] = heatmaps(page, "#dynamics-scrubber")
        newest = stored(stack.url, job_id, example=0, epoch=EPOCHS, layer=0, head=0)
        assert drawn["z"] == newest["values"]
        [outline] = drawn["outline"]  # one path around the candidate region's cells
        assert outline.startswith("M") and outline.count("M") >= 4
        top = max(abs(v) for row in newest["values"] for v in row)
        assert (drawn["zmin"], drawn["zmax"]) == (-top, top)
        assert "p = 0.2" in page.inner_text("#dynamics-scrubber .scrub-note")  # the job's own p

        page.select_option("#dynamics-scrubber .scrub-example", "2")
        page.select_option("#dynamics-scrubber .scrub-layer", "1")
        page.select_option("#dynamics-scrubber .scrub-head", "3")
        page.fill("#dynamics-scrubber .scrub-epoch", "0")
        page.wait_for_function("document.querySelector('.scrub-epoch-label').textContent.startsWith('1 of')")
        first = stored(stack.url, job_id, example=2, epoch=1, layer=1, head=3)
        page.wait_for_function("(document.querySelector('#dynamics-scrubber .scrub-map').layout.title.text || '')"
                               ".includes('epoch 1 · layer 1 · head 3')")
        [drawn] = heatmaps(page, "#dynamics-scrubber")
        assert drawn["z"] == first["values"]

        for epoch in range(1, EPOCHS + 1):
            page.fill("#dynamics-scrubber .scrub-epoch", str(epoch - 1))
            page.wait_for_function(f"document.querySelector('.scrub-epoch-label').textContent.startsWith('{epoch} of')")
            explore = page.locator("#dynamics-scrubber .scrub-explore")
            if epoch == best:
                explore.locator("a.scrub-open").wait_for()
                href = explore.locator("a.scrub-open").get_attribute("href")
                assert href.startswith(f"/?model=job-{job_id}&text=") and "&layer=1&head=3&p=0.2&mode=high" in href
                page.locator("#dynamics-panel").scroll_into_view_if_needed()
                page.screenshot(path=ARTIFACTS / "jobs-dynamics-scrubber.png", full_page=True)
            else:
                explore.locator(".scrub-no-checkpoint").wait_for()
                assert explore.inner_text() == (f"no checkpoint was kept for epoch {epoch}: the job keeps only its "
                                                f"best epoch's (epoch {best})")


def test_compare_shows_both_runs_dynamics_and_maps_on_one_scale(twins):
    stack, addrop, baseline = twins
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/compare?ids={addrop},{baseline}&baseline={baseline}")
        page.wait_for_function("[...document.querySelectorAll('#compare-scrubber .scrub-map')]"
                               ".filter((n) => n.data?.length === 1).length === 2")
        concentration = page.evaluate("document.getElementById('compare-concentration').data.map((t) => ({x: t.x, y: t.y}))")
        assert len(concentration) == 2 and all(t["x"] == [1, 2, 3] for t in concentration)
        for job_id, trace in zip((addrop, baseline), concentration):  # entries in id order
            points = httpx.get(f"{stack.url}/api/jobs/{job_id}/metrics", params={"kind": "dynamics"}).json()
            assert trace["y"] == [p["values"]["concentration_L0"] for p in points]
        reliance = page.evaluate("document.getElementById('compare-reliance').data.map((t) => [t.line.dash, t.y])")
        # each run's top-p reliance in its own dash (solid, dash), then its random-keys contrast dotted
        assert [dash for dash, _ in reliance] == ["solid", "dash", "dot", "dot"]

        drawn = heatmaps(page, "#compare-scrubber")
        maps = [stored(stack.url, job_id, example=0, epoch=EPOCHS, layer=0, head=0, p=0.2) for job_id in (addrop, baseline)]
        assert [d["z"] for d in drawn] == [m["values"] for m in maps]
        top = max(abs(v) for m in maps for row in m["values"] for v in row)
        assert all((d["zmin"], d["zmax"]) == (-top, top) for d in drawn)  # one colour scale
        assert f"#{addrop}" in drawn[0]["title"] and f"#{baseline}" in drawn[1]["title"]
        assert "p = 0.2" in page.inner_text("#compare-scrubber .scrub-note")  # the AD-DROP run's p for both
        page.fill("#compare-scrubber .scrub-epoch", "0")
        page.wait_for_function("[...document.querySelectorAll('#compare-scrubber .scrub-map')]"
                               ".every((n) => (n.layout.title.text || '').includes('epoch 1 '))")
        drawn = heatmaps(page, "#compare-scrubber")
        assert [d["z"] for d in drawn] == [stored(stack.url, job_id, example=0, epoch=1, layer=0, head=0)["values"]
                                           for job_id in (addrop, baseline)]
        page.locator("#compare-dynamics").scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "jobs-compare-dynamics.png", full_page=True)
