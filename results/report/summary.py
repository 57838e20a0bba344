"""The report's summary: what the short protocol and the authors' protocol found, in three sentences."""

from __future__ import annotations

import statistics

from addrop.paired import t_interval
from report.authors_protocol import AUTHORS_CONFIRM, AUTHORS_SEARCH, paired_result
from report.short_protocol import TaskResult, seed_diffs, verdict

AUTHORS_TEXT = ("the authors' own protocol (constant lr 1e-5, patience 5, the masked layers of their scripts: every "
                "layer for CoLA, MRPC and RTE, layer 0 for STS-B; exactly paired twins)")


def summary(data: dict[str, dict[str, list[dict]]], results: list[TaskResult]) -> str:
    """What the product found, in three sentences."""
    complete = [r for r in results if r.complete]
    first = "No 4-epoch measurement is complete yet."
    if complete:
        gain = statistics.fmean(r.gain for r in complete) * 100
        verdicts = {r.task: verdict(list(seed_diffs(data, r).values())) for r in complete}
        helped = [t for t, v in verdicts.items() if v == "AD-DROP helped on every seed"]
        hurt = [t for t, v in verdicts.items() if v == "AD-DROP hurt on every seed"]
        parts = ([f"a gain on every seed on {', '.join(helped)}"] if helped else []) + (
            [f"a loss on every seed on {', '.join(hurt)}"] if hurt else [])
        rest = len(complete) - len(helped) - len(hurt)
        if rest:
            parts.append(f"no consistent effect on {'the other ' if parts else ''}{rest}")
        first = (f"In a short protocol (4 epochs, linear decay, layer 0, 3 fresh seeds), over {len(complete)} GLUE "
                 f"tasks AD-DROP gave MiniLM {gain:+.2f} points on average: " + "; ".join(parts) + ".")
    confirmed = [p for task in data if (p := paired_result(task, data[task])) and len(p.diffs) >= 2]
    if confirmed:
        parts = []
        for p in confirmed:
            mean, lo, hi = t_interval(list(p.diffs.values()))
            parts.append(f"{p.task} {mean * 100:+.2f} points (95% interval {lo * 100:+.2f} to {hi * 100:+.2f}, "
                         f"{len(p.diffs)} seeds)")
        second = f"Under {AUTHORS_TEXT}, the paired difference on fresh seeds is " + "; ".join(parts) + "."
    else:
        running = sorted(t for t in data if AUTHORS_SEARCH in data[t] or AUTHORS_CONFIRM in data[t])
        second = (f"{AUTHORS_TEXT[0].upper()}{AUTHORS_TEXT[1:]} "
                  + (f"is being measured ({', '.join(running)}; see its section)" if running else "is not measured yet")
                  + ": no fresh-seed verdict under it yet.")
    third = ("The model is all-MiniLM-L6-v2, a 6-layer MiniLM trained further as a sentence-embedding model, not the "
             "masked-LM BERT-base or RoBERTa-base the paper fine-tunes: the paper's +1.98 / +1.29 points are about "
             "those models.")
    return f"{first} {second} {third}"
