"""How long the explorer takes to show a p/q slider move, a head change and a layer change, in a real browser.

Starts the app (MiniLM default, no job worker), opens the explorer in headless Debian Chromium through
Playwright, explains a sentence pair of 18, 32, 64 and 128 tokens, and then, one change at a time,
times from the moment the change's ``input``/``change`` event is dispatched to the first frame painted
after the page shows it:

- a slider move is shown when ``#status`` says "Masks redrawn" and the legend's p/q text carries the new
  value (the page sets both after redrawing the maps);
- a layer change is shown when ``#status`` says "Explained" again; the first visit to a layer makes the
  server compute its attribution, a later visit reuses it (an explorer that fetches the other layers in
  the background once the page rests draws a "new" layer from what it holds, as today's does);
- a head change redraws synchronously in its handler;
- a zoom is a ``Plotly.relayout`` of the first map's axis ranges (alternately a window a quarter of the map
  wide around its centre and the whole map), shown when the relayout's promise resolves; "layer view"
  zooms the three-map figure, "focus mode" the single map of focus mode (where the page has one).

"Painted" is a ``requestAnimationFrame`` callback followed by a task posted from it, which runs after the
frame's paint.  ``--code REV`` (repeatable) measures the explorer script as it was at git revision REV
against the same server and page, side by side with the working tree (``--code current``), by serving
REV's ``frontend/static/js`` files and REV's script tag in place of today's.

    python benchmarks/explorer_redraw.py [--code REV ...] [--moves 24] [--out benchmarks/results/explorer_redraw_cpu.txt]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode, urlparse

from serving import ROOT, served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WORDS = (
    "the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
    "cast makes every scene worth watching from the first minute to the last one even when plot turns slow"
).split()
# p and q walk up and down their slider range, so every move changes the value.
WALK = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]

HOOK = """
window.__bench = {
  painted() {
    return new Promise((resolve) => requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => resolve(performance.now());
      channel.port2.postMessage(0);
    }));
  },
  status(done) {
    return new Promise((resolve) => {
      const el = document.getElementById("status");
      const observer = new MutationObserver(() => { if (done(el.textContent)) { observer.disconnect(); resolve(); } });
      observer.observe(el, { childList: true, characterData: true, subtree: true });
    });
  },
  async slider(id, value) {
    const text = id === "p" ? `${Math.round(value * 100)}%` : String(value);
    const legend = document.querySelector(`.${id}-text`);
    const shown = this.status((s) => s.startsWith("Masks redrawn") && legend.textContent === text);
    const el = document.getElementById(id);
    const started = performance.now();
    el.value = String(value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    await shown;
    return (await this.painted()) - started;
  },
  async zoom(inward) {
    const figure = document.getElementById("layer-figure");
    const n = document.querySelectorAll("#token-strip .tok").length;
    const centre = (n - 1) / 2, half = inward ? n / 8 : n / 2;
    const started = performance.now();
    await Plotly.relayout(figure, { "xaxis.range": [centre - half, centre + half], "yaxis.range": [centre + half, centre - half] });
    return (await this.painted()) - started;
  },
  async select(id, value, prefix) {
    const el = document.getElementById(id);
    const shown = prefix ? this.status((s) => s.startsWith(prefix)) : Promise.resolve();
    const started = performance.now();
    el.value = String(value);
    el.dispatchEvent(new Event("change", { bubbles: true }));
    await shown;
    return (await this.painted()) - started;
  },
};
"""


def pair(rng: random.Random, tokens: int) -> tuple[str, str]:
    """Two sentences of single-token words, each ending in ".", that make ``tokens`` with [CLS] and two [SEP]."""
    words = [rng.choice(WORDS) for _ in range(tokens - 5)]
    first = len(words) // 2
    return " ".join(words[:first]) + ".", " ".join(words[first:]) + "."


INPUTS = {
    18: ("The cat sat on the mat.", "A cat was sitting on a mat."),
    **{n: pair(random.Random(n), n) for n in (32, 64, 128)},
}
# Each explorer measured gets its own inputs of the same lengths: the server caches attributions, so
# sharing one input would let every explorer after the first find its new layers computed already.
OTHER_INPUTS = [
    ("The dog sat on the rug.", "A dog was sitting on a rug."),
    ("The cat lay on the bed.", "A cat was lying on a bed."),
]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def load_average() -> str:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"{one} / {five} / {fifteen} (1 / 5 / 15 min)"


def code_routes(page, revision: str) -> None:
    """Serve ``revision``'s explorer script (and its script tag) instead of the working tree's."""
    template = git("show", f"{revision}:frontend/templates/explorer.html")
    block = re.search(r"{% block scripts %}(.*?){% endblock %}", template, re.S).group(1)
    tag = re.sub(r"{{\s*url_for\('static',\s*path='([^']+)'\)\s*}}", r"/static/\1", block)

    def document(route):
        response = route.fetch()
        body = re.sub(r'<script[^>]*src="[^"]*/js/explorer[^"]*"[^>]*></script>', lambda _: tag, response.text())
        route.fulfill(response=response, body=body)

    def script(route):
        path = urlparse(route.request.url).path.removeprefix("/static/")
        route.fulfill(body=git("show", f"{revision}:frontend/static/{path}"), content_type="text/javascript")

    page.route(lambda url: urlparse(url).path == "/", document)
    page.route("**/static/js/**", script)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"n={len(values):3d}  median {statistics.median(values):7.1f}  p90 {p90:7.1f}  max {max(values):7.1f} ms"


def inputs(tokens: int, variant: int) -> tuple[str, str]:
    if variant == 0:
        return INPUTS[tokens]
    if tokens == 18:
        return OTHER_INPUTS[(variant - 1) % len(OTHER_INPUTS)]
    return pair(random.Random(tokens + 1000 * variant), tokens)


def measure(browser, url: str, revision: str | None, text: str, text_pair: str, tokens: int,
            moves: int) -> dict[str, list[float]]:
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(HOOK)
    if revision:
        code_routes(page, revision)
    page.goto(f"{url}/?{urlencode({'text': text, 'pair': text_pair})}")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Explained')", timeout=120_000)
    shown = int(page.locator("#token-count").inner_text().split()[0])
    if shown != tokens:
        raise SystemExit(f"the {tokens}-token input has {shown} tokens")
    times: dict[str, list[float]] = {"p slider": [], "q slider": [], "head change": [], "layer change, new layer": [],
                                     "layer change, seen layer": [], "zoom, layer view": []}
    for k in range(moves):
        for slider in ("p", "q"):
            value = WALK[k % len(WALK)] if slider == "p" else WALK[(k + 6) % len(WALK)]
            times[f"{slider} slider"].append(page.evaluate("([id, v]) => __bench.slider(id, v)", [slider, value]))
    for k in range(moves // 2):
        times["head change"].append(page.evaluate("([v]) => __bench.select('head', v)", [str((k + 1) % 12)]))
    for visit in ("new layer", "seen layer"):
        for layer in (1, 2, 3, 4, 5, 0):
            if visit == "new layer" and layer == 0:
                continue
            times[f"layer change, {visit}"].append(
                page.evaluate("([v]) => __bench.select('layer', v, 'Explained')", [str(layer)]))
    for k in range(moves):
        times["zoom, layer view"].append(page.evaluate("([inward]) => __bench.zoom(inward)", [k % 2 == 0]))
    if page.locator("#focus").count():  # focus mode (one map at full width), where the explorer has one
        page.evaluate("() => __bench.select('focus', 'attribution')")
    if page.evaluate("() => Boolean(document.getElementById('layer-figure')._fullLayout.xaxis) && "
                     "!document.getElementById('layer-figure')._fullLayout.xaxis2"):
        times["zoom, focus mode"] = []
        for k in range(moves):
            times["zoom, focus mode"].append(page.evaluate("([inward]) => __bench.zoom(inward)", [k % 2 == 0]))
    page.close()
    if errors:
        raise SystemExit(f"JavaScript errors on the page: {errors}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", action="append", default=None,
                        help="'current' (the working tree) or a git revision; repeat to compare (default: current)")
    parser.add_argument("--moves", type=int, default=24, help="moves of each slider per input (default 24)")
    parser.add_argument("--tokens", type=int, nargs="+", default=sorted(INPUTS), choices=sorted(INPUTS))
    parser.add_argument("--out", type=Path, help="also append the report to this file")
    args = parser.parse_args()
    codes = args.code or ["current"]
    from playwright.sync_api import sync_playwright

    lines = [f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, working tree at {git('rev-parse', '--short', 'HEAD').strip()}"
             f"{' (modified)' if git('status', '--porcelain', '--', 'frontend').strip() else ''}",
             f"# load average at the start: {load_average()}; {os.cpu_count()} CPUs; "
             f"{subprocess.run([CHROMIUM, '--version'], capture_output=True, text=True).stdout.strip()} headless",
             "# time from the input/change event to the first paint showing it, in ms"]
    print("\n".join(lines), flush=True)
    started = time.monotonic()
    with served() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for tokens in args.tokens:
                lines.append(f"# {tokens} tokens, load average before: {load_average()}")
                print(lines[-1], flush=True)
                for variant, code in enumerate(codes):
                    label = "working tree" if code == "current" else f"explorer at {code}"
                    times = measure(browser, url, None if code == "current" else code, *inputs(tokens, variant),
                                    tokens, args.moves)
                    for action, values in times.items():
                        line = f"{tokens:3d} tokens  {label:<22} {action:<26} {summary(values)}"
                        print(line, flush=True)
                        lines.append(line)
        finally:
            browser.close()
    lines.append(f"# load average at the end: {load_average()}; took {time.monotonic() - started:.0f} s")
    print(lines[-1])
    if args.out:
        with args.out.open("a") as out:
            out.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
