"""What the explorer's first load and a reload transfer, and how long they take, in a real browser.

Starts the app (no job worker) from each code tree asked for, opens ``/`` in headless Debian Chromium through
Playwright with an empty cache, and counts through the DevTools protocol every response's bytes on the wire
(``encodedDataLength``: headers and the body as sent, compressed or not) and the bodies' decoded size, and
times navigation start to the ``load`` event (every script, Plotly.js included, fetched and run) and the
fetch of Plotly.js alone (request sent to last byte in, which the CPU load of the machine moves less). Then it
reloads the page in the same browser, as a person would, and counts again (revalidated files come back as
304s). Each load runs on the raw loopback and on an emulated link (``--mbit`` Mbit/s down, ``--rtt`` ms
round trip), where bytes cost time as they do for someone on a network.

``--code REV`` (repeatable) serves git revision REV's tree (``git archive`` into a temporary folder) beside
the working tree (``current``), for a before/after in one run.

    python benchmarks/static_first_load.py [--code HEAD] [--runs 5] [--out benchmarks/results/static_first_load_cpu.txt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tarfile
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from serving import ROOT, served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def tree_at(revision: str, folder: Path) -> Path:
    """The repository's files at ``revision``, unpacked under ``folder``."""
    archive = folder / "tree.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), revision], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"


def listen(cdp) -> dict[str, dict[str, float]]:
    """Every response of the page as it arrives, by request id; clear it before each load."""
    seen: dict[str, dict[str, float]] = {}
    entry = lambda e: seen.setdefault(e["requestId"], {"decoded": 0})  # noqa: E731
    cdp.on("Network.responseReceived", lambda e: entry(e).update(status=e["response"]["status"]))
    cdp.on("Network.requestServedFromCache", lambda e: entry(e).update(cached=True))  # memory or disk, unasked
    cdp.on("Network.dataReceived", lambda e: entry(e).update(decoded=entry(e)["decoded"] + e["dataLength"]))
    cdp.on("Network.loadingFinished", lambda e: entry(e).update(wire=e["encodedDataLength"]))
    return seen


def load(page, seen: dict[str, dict[str, float]], url: str | None) -> dict[str, float]:
    """One navigation (``url``) or reload (None): bytes on the wire, decoded bytes, requests, 304s, ms to load."""
    seen.clear()
    if url:
        page.goto(url, wait_until="load")
    else:
        page.reload(wait_until="load")
    page.wait_for_function("window.Plotly !== undefined && document.querySelector('#model').options.length > 0")
    page.wait_for_timeout(300)  # late loadingFinished events
    millis = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    # Plotly.js alone, request sent to last byte in: the transfer, apart from the CPU time spent running it
    plotly = page.evaluate("""(() => { const e = performance.getEntriesByType('resource').find((r) => /\\/plotly[^/]*\\.min\\.js(\\?|$)/.test(r.name));
        return e ? e.responseEnd - e.requestStart : 0; })()""")
    responses = [r for r in seen.values() if "status" in r]
    return {"wire": sum(r.get("wire", 0) for r in responses), "decoded": sum(r["decoded"] for r in responses),
            "requests": len(responses), "not_modified": sum(r["status"] == 304 for r in responses),
            "from_cache": sum(bool(r.get("cached")) for r in responses), "ms": millis, "plotly_ms": plotly}


def measure(url: str, runs: int, link: dict | None) -> dict[str, list[dict[str, float]]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[dict[str, float]]] = {"first load": [], "reload": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1600, "height": 1000})  # an empty cache
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                seen = listen(cdp)
                cdp.send("Network.enable")
                if link:
                    cdp.send("Network.emulateNetworkConditions", link)
                out["first load"].append(load(page, seen, url))
                out["reload"].append(load(page, seen, None))
                context.close()
        finally:
            browser.close()
    return out


def row(label: str, link: str, kind: str, samples: list[dict[str, float]]) -> str:
    median = lambda key: statistics.median(s[key] for s in samples)  # noqa: E731
    return (f"{label:<14} {link:<22} {kind:<10} n={len(samples)}  on the wire {median('wire') / 1e6:7.3f} MB  "
            f"decoded {median('decoded') / 1e6:6.3f} MB  requests {median('requests'):3.0f}  "
            f"304s {median('not_modified'):3.0f}  cached {median('from_cache'):3.0f}  Plotly.js fetched in {median('plotly_ms'):5.0f} ms  "
            f"load median {median('ms'):6.0f} ms  max {max(s['ms'] for s in samples):6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", default=[], help="a git revision to measure beside the working tree")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mbit", type=float, default=20.0, help="the emulated link's download speed")
    parser.add_argument("--rtt", type=float, default=40.0, help="the emulated link's round trip in ms")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "static_first_load_cpu.txt")
    args = parser.parse_args()
    links = {"loopback": None,
             f"{args.mbit:g} Mbit/s, {args.rtt:g} ms RTT": {
                 "offline": False, "latency": args.rtt, "downloadThroughput": args.mbit * 1e6 / 8,
                 "uploadThroughput": args.mbit * 1e6 / 8}}
    started = datetime.now(timezone.utc)
    lines = [f"# Explorer first load and reload, headless Debian Chromium, {args.runs} runs each (medians), "
             f"{started:%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f} (1 min) at the start.",
             "# on the wire: headers and bodies as sent; decoded: the bodies' size after decompression."]
    with ExitStack() as stack:
        trees = {f"at {rev}": tree_at(rev, Path(stack.enter_context(tempfile.TemporaryDirectory()))) for rev in args.code}
        trees["current"] = ROOT
        for label, root in trees.items():
            url, _ = stack.enter_context(served(root=root))
            for link_label, link in links.items():
                for kind, samples in measure(url, args.runs, link).items():
                    lines.append(row(label, link_label, kind, samples))
                    print(lines[-1], flush=True)
    lines.append(f"# load average at the end: {' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1 / 5 / 15 min)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
