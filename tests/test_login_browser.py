"""With an API token, in Debian's Chromium: a job's page sends the browser to the login page, the token given
there brings it back, and the page's live stream (EventSource, which cannot send a header) and its writes
work on the login cookie alone."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import job_request, make_sst2_slice, running_stack
from tests.tiny_models import save_tiny_model

pytestmark = pytest.mark.browser
TOKEN = "a-long-random-browser-token"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("login-browser"), {"ADDROP_API_TOKEN": TOKEN})


def test_login_then_a_job_page_streams_on_the_cookie(stack, shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
    with stack.client() as client:
        assert client.get("/api/jobs").status_code == 401
        created = client.post("/api/jobs", json=job_request(model, data, epochs=1),
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(width=1200, height=800) as page:
        page.goto(f"{stack.url}/jobs/{job_id}")
        assert page.url == f"{stack.url}/login?next=%2Fjobs%2F{job_id}"
        assert f"(/jobs/{job_id}) needs this server's API token" in page.locator("main").inner_text()
        page.screenshot(path=ARTIFACTS / "login-page.png")
        page.fill("#login-token", "a guess")
        page.click("#login-button")
        assert "not this server's API token" in page.locator("#login-error").inner_text()
        page.fill("#login-token", TOKEN)
        page.click("#login-button")
        page.wait_for_url(f"{stack.url}/jobs/{job_id}")
        cookie = next(c for c in page.context.cookies() if c["name"] == "addrop_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] != TOKEN
        assert page.evaluate("document.cookie") == ""  # no script on the page can read it
        # the live stream: log lines and the final state arrive through EventSource
        page.wait_for_function("document.querySelector('#job-state').textContent === 'succeeded'", timeout=300_000)
        assert "no log line yet" not in page.locator("#log").inner_text()
        # the page's own writes go on the cookie (same origin); a cancel of a finished job is a 409, not a 401
        status = page.evaluate(f"fetch('/api/jobs/{job_id}/cancel', {{method: 'POST'}}).then(r => r.status)")
        assert status == 409
        page.click("#logout")
        page.wait_for_url(f"{stack.url}/login")
        page.goto(f"{stack.url}/jobs")
        assert page.url.startswith(f"{stack.url}/login?next=")
