"""Every page runs under its Content-Security-Policy: Chromium reports no violation while the page loads and
draws (the explorer's maps with Plotly.js, the forms, Swagger UI and ReDoc), so the policy blocks nothing the
app itself does."""

from __future__ import annotations

import time

import pytest

from tests.browser import COMPUTED, EXPLAINED, chromium_page, explorer_server

# Collected in the page from the first script on: the browser's own report of each blocked load or script.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => window.__violations.push(
  `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`));
"""


def until(page, expression: str, timeout_ms: float = COMPUTED) -> None:
    """Wait for ``expression`` to hold, asking from outside the page: Playwright's wait_for_function evaluates
    its predicate with eval inside the page, which the policy refuses (the other browser tests bypass it)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.2)


def explorer_drawn(page) -> None:
    """The explorer explains a sentence pair and draws it; then its PNG, SVG and standalone HTML exports."""
    page.fill("#text", "The cat sat on the mat.")
    page.fill("#text-pair", "A cat was sitting on a mat.")
    page.click("#explain-button")
    until(page, EXPLAINED)
    for kind in ("png", "svg", "html"):
        with page.expect_download(timeout=60_000) as download:
            page.click(f"[data-export={kind}]")
        assert download.value.path().stat().st_size > 1000, kind


PAGES = {
    "/": explorer_drawn,
    # /sweeps/new is left out: without a base job its script fails on its own (apply() maps the space's
    # default layers, null), with or without the policy.
    "/jobs": None, "/jobs/new": None, "/jobs/compare": None, "/sweeps": None,
    "/docs": lambda page: page.wait_for_selector(".opblock", timeout=60_000),
    "/redoc": lambda page: page.wait_for_selector("[data-section-id]", timeout=60_000),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


def test_every_page_runs_under_its_policy(server):
    with chromium_page(bypass_csp=False) as page:
        page.add_init_script(RECORD_VIOLATIONS)
        elsewhere: list[str] = []
        page.on("request", lambda request: elsewhere.append(request.url)
                if not request.url.startswith((server, "data:", "blob:")) else None)
        for path, ready in PAGES.items():
            answer = page.goto(server + path, wait_until="load")
            assert answer.status == 200 and "content-security-policy" in answer.headers, path
            if ready:
                ready(page)
            page.wait_for_timeout(500)
            # A page asks nothing of other sites (ReDoc's bundle named its logo on cdn.redoc.ly: it is served
            # with the logo pointing at a local file), so nothing is refused by the policy either.
            assert page.evaluate("window.__violations") == [], path
            assert elsewhere == [], path
