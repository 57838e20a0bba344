"""Deleting and keeping from the pages, in Chromium: a job page says when retention removed its checkpoint and
marks a job keep; the delete buttons of a job and of a sweep ask first, then delete, and the lists no longer
show what went."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from jobstore.database import Database
from jobstore.orm import Job, utcnow
from jobstore.settings import StoreSettings
from tests.browser import chromium_page, running_server
from tests.jobs_stack import job_request
from tests.tiny_models import save_tiny_model
from tests.test_disk_upkeep import add_job


@pytest.fixture(scope="module")
def server(tmp_path_factory, sst2_dir):
    """The app with no job worker on a data directory holding two finished jobs, the older one's checkpoint
    removed by retention; yields (url, settings, [pruned, kept] ids, a sweep request)."""
    data = tmp_path_factory.mktemp("studio")
    settings = StoreSettings(data_dir=data)
    db = Database(settings.resolved_database_url)
    db.migrate()
    pruned, other = add_job(db, settings, finished_minutes_ago=5), add_job(db, settings)
    with db.session() as session:
        session.execute(update(Job).where(Job.id == pruned).values(checkpoint=None, checkpoint_pruned_at=utcnow()))
    db.dispose()
    model = save_tiny_model(tmp_path_factory.mktemp("tiny-bert"))
    base = job_request(model, sst2_dir, epochs=1)
    sweep = {"base": base, "space": {"p": [0.2], "q": [0.3]}, "seeds": [1], "pruning": {"kind": "none"}}
    env = {"ADDROP_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ADDROP_EMBEDDED_WORKER": "false"}
    with running_server(env) as url:
        yield url, settings, [pruned, other], sweep


def listed(url: str, what: str) -> list[int]:
    return [item["id"] for item in httpx.get(f"{url}/api/{what}").json()["items"]]


def test_a_job_page_shows_retention_keeps_and_deletes_after_asking(server, tmp_path):
    url, settings, (pruned, other), _ = server
    with chromium_page(1400, 900) as page:
        page.goto(f"{url}/jobs/{pruned}")
        note = page.locator("#pruned-note")
        assert note.is_visible() and "removed by retention" in note.inner_text()
        assert page.locator("#checkpoint-link").is_hidden()

        page.locator("#keep-box").check()
        page.wait_for_selector("#action-status:has-text('Kept')")
        assert httpx.get(f"{url}/api/jobs/{pruned}").json()["keep"] is True

        page.click("#delete-button")
        strip = page.locator("#delete-confirm")
        assert strip.is_visible() and f"Delete job {pruned} with everything it left" in strip.inner_text()
        page.screenshot(path=str(tmp_path / "job-delete-confirm.png"), full_page=False)
        page.click("#delete-confirm .dismiss")
        assert strip.is_hidden() and httpx.get(f"{url}/api/jobs/{pruned}").status_code == 200  # nothing yet

        page.click("#delete-button")
        page.click("#delete-confirm .confirm")
        page.wait_for_url(f"{url}/jobs")
        page.wait_for_selector(f"#jobs-table tr[data-id='{other}']")
        assert page.locator(f"#jobs-table tr[data-id='{pruned}']").count() == 0
    assert httpx.get(f"{url}/api/jobs/{pruned}").status_code == 404 and not settings.job_dir(pruned).exists()
    assert listed(url, "jobs") == [other]


def test_a_sweep_page_deletes_the_sweep_and_its_jobs_after_asking(server, tmp_path):
    url, settings, _, body = server
    created = httpx.post(f"{url}/api/sweeps", json=body, timeout=60)
    assert created.status_code == 201, created.text
    sweep = created.json()
    runs = sweep["baseline_job_ids"] + [j for trial in sweep["trials"] for j in trial["job_ids"]]
    with chromium_page(1400, 900) as page:
        page.goto(f"{url}/sweeps/{sweep['id']}")
        page.wait_for_selector("#sweep-state:has-text('running')")
        assert page.locator("#delete-button").is_hidden()  # a running sweep is cancelled first
        assert httpx.post(f"{url}/api/sweeps/{sweep['id']}/cancel").status_code == 200  # its jobs never started
        page.reload()
        page.wait_for_selector("#delete-button:visible")
        page.click("#delete-button")
        assert "and its Optuna study" in page.locator("#delete-confirm").inner_text()
        page.screenshot(path=str(tmp_path / "sweep-delete-confirm.png"), full_page=False)
        page.click("#delete-confirm .confirm")
        page.wait_for_url(f"{url}/sweeps")
    assert httpx.get(f"{url}/api/sweeps/{sweep['id']}").status_code == 404
    assert sweep["id"] not in listed(url, "sweeps")
    assert all(httpx.get(f"{url}/api/jobs/{j}").status_code == 404 for j in runs) and runs
