"""The README's screenshots, taken from a running AD-DROP Studio in Debian's Chromium (Playwright), so that they
can be made again whenever the pages change:

- ``explorer.png``: the explorer's layer view of a sentence pair on the default model (attention, attribution,
  the candidate discard region outlined and the dropped positions marked);
- ``explorer-focus.png``: focus mode on the attribution map of a 128-token input;
- ``job.png``: a job's curves (the newest finished AD-DROP job, or ``--job``);
- ``sweep.png``: a sweep's p x q map against its baseline (the newest sweep with a finished trial, or ``--sweep``).

With ``--make DATA_DIR`` (a GLUE task's directory, e.g. ../shared/data/glue/mrpc) it first trains a small job
and a 2 x 2 grid sweep on the default model for the last two, and waits for them (minutes on a CPU).

    python scripts/screenshots.py --server http://127.0.0.1:8000 [--token T] [--make DIR --task mrpc]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
PAIR = ("The cat sat on the mat while the dog slept.", "A cat was sitting on a mat near a sleeping dog.")
# About 128 tokens: the explorer's default input limit.
LONG = ("AD-DROP attributes the prediction of a fine-tuned model to its self-attention maps, takes the "
        "positions with the highest attribution in each row as candidates, and drops a random part of them in "
        "a second forward pass, so that training cannot lean on a few features. The authors report gains on "
        "GLUE and on translation with BERT, RoBERTa and Marian models, and they alternate plain epochs with "
        "AD-DROP epochs to keep the model from forgetting what the plain epochs taught it, which they call "
        "cross-tuning, and which this tool measures with paired seeds on its own sweeps.")
EXPLAINED = "document.querySelector('#status').textContent.startsWith('Explained')"
FINISHED = {"succeeded", "failed", "cancelled", "pruned"}


def shoot(page: Page, selector: str, name: str) -> None:
    page.locator(selector).first.screenshot(path=OUT / name)
    print(f"wrote docs/images/{name}")


def explorer(page: Page, server: str) -> None:
    page.goto(f"{server}/?{urlencode({'text': PAIR[0], 'pair': PAIR[1]})}")
    page.wait_for_function(EXPLAINED, timeout=180_000)
    page.wait_for_timeout(800)
    shoot(page, "#layer-view", "explorer.png")
    page.goto(f"{server}/?{urlencode({'text': LONG, 'focus': 'attribution'})}")
    page.wait_for_function(EXPLAINED, timeout=180_000)
    page.wait_for_timeout(800)
    shoot(page, "#layer-view", "explorer-focus.png")


def wait_finished(client: httpx.Client, path: str, done: set[str]) -> dict:
    while (item := client.get(path).raise_for_status().json())["state"] not in done:
        print(f"waiting for {path}: {item['state']}", file=sys.stderr)
        time.sleep(15)
    return item


def make_runs(client: httpx.Client, data_dir: str, task: str) -> tuple[int, int]:
    """A small AD-DROP job and a 2 x 2 grid sweep with a baseline twin, on the default model."""
    base = {"model": "minilm", "data": {"source": "directory", "task": task, "data_dir": data_dir,
                                        "max_train_samples": 400, "max_eval_samples": 200},
            "training": {"epochs": 4, "batch_size": 16, "learning_rate": 5e-5}}
    job = client.post("/api/jobs", json={**base, "name": "screenshot job"}).raise_for_status().json()
    sweep = client.post("/api/sweeps", json={
        "name": "screenshot sweep", "base": base, "space": {"p": [0.1, 0.3], "q": [0.1, 0.3]}, "seeds": [1],
    }).raise_for_status().json()
    wait_finished(client, f"/api/jobs/{job['id']}", FINISHED)
    wait_finished(client, f"/api/sweeps/{sweep['id']}", {"succeeded", "failed", "cancelled"})
    return job["id"], sweep["id"]


def newest(client: httpx.Client, path: str, keep) -> int | None:
    items = client.get(path, params={"limit": 100}).raise_for_status().json()["items"]
    return next((item["id"] for item in items if keep(item)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--token", help="the server's API token, when it has one")
    parser.add_argument("--job", type=int)
    parser.add_argument("--sweep", type=int)
    parser.add_argument("--make", metavar="DATA_DIR", help="train a small job and sweep from this directory first")
    parser.add_argument("--task", default="mrpc", help="the task of --make's directory")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    client = httpx.Client(base_url=args.server, headers=headers, timeout=30)
    job, sweep = args.job, args.sweep
    if args.make:
        job, sweep = make_runs(client, str(Path(args.make).resolve()), args.task)
    job = job or newest(client, "/api/jobs", lambda j: j["state"] == "succeeded" and j["addrop_epochs"])
    sweep = sweep or newest(client, "/api/sweeps", lambda s: s["best"] is not None and s["baseline"] is not None)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1, bypass_csp=True,
                                      extra_http_headers=headers)
        page = context.new_page()
        explorer(page, args.server)
        for item, path, chart, name, missing in (
                (job, "jobs", "#dev-metric-chart", "job.png", "no finished AD-DROP job"),
                (sweep, "sweeps", "#heatmap", "sweep.png", "no sweep with a finished trial and baseline")):
            if item is None:
                print(f"{missing}: {name} not made (use --{path[:-1]} or --make)", file=sys.stderr)
                continue
            page.goto(f"{args.server}/{path}/{item}")
            page.wait_for_selector(f"{chart} .main-svg", timeout=60_000)
            page.wait_for_timeout(1500)
            shoot(page, f"section.panel:has({chart})", name)
        browser.close()


if __name__ == "__main__":
    main()
