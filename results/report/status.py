"""What is recorded: runs per task and phase (pruned, copied, wall time, run before the paired-streams fix) and
the machines they ran on."""

from __future__ import annotations

import functools
import math

from report.runs import RESULTS, in_task_order

# The commit from which twins see the same batches in every epoch and pass 1 draws from streams of its own
PAIRED_STREAMS_COMMIT = "38a2430"


@functools.lru_cache(maxsize=None)  # one git call per commit, not per run file
def has_paired_streams(commit: str | None) -> bool | None:
    """Whether a run's code had the paired streams (its commit descends from PAIRED_STREAMS_COMMIT); None when git
    cannot tell."""
    import subprocess

    if not commit:
        return None
    answer = subprocess.run(["git", "merge-base", "--is-ancestor", PAIRED_STREAMS_COMMIT, commit], cwd=RESULTS,
                            capture_output=True)
    return {0: True, 1: False}.get(answer.returncode)


def status_table(data: dict[str, dict[str, list[dict]]]) -> str:
    lines = ["| task | phase | runs recorded | of which pruned | of which copied from another phase | wall time (sum) | "
             "before the paired-streams fix |", "|---|---|---|---|---|---|---|"]
    for task in in_task_order(data):
        for phase, runs in sorted(data[task].items()):
            ran = [r for r in runs if not r.get("copied_from")]  # a copy's wall time is its source phase's
            wall = sum(r["wall_seconds"] for r in ran if r.get("wall_seconds") and math.isfinite(r["wall_seconds"]))
            paired = [has_paired_streams(r["machine"].get("commit")) for r in runs]
            before = f"{paired.count(False)}" + (f" ({paired.count(None)} unknown)" if None in paired else "")
            lines.append(f"| {task} | {phase} | {len(runs)} | {sum(r['state'] == 'pruned' for r in runs)} | "
                         f"{len(runs) - len(ran)} | {wall / 3600:.2f} h | {before} |")
    return "\n".join(lines)


def machine_lines(data: dict[str, dict[str, list[dict]]]) -> list[str]:
    """Each CPU the runs trained on, with how many runs of which task: wall times differ between them."""
    counts: dict[str, dict[str, int]] = {}
    for task, phases in data.items():
        for runs in phases.values():
            for r in runs:
                per_task = counts.setdefault(f"{r['machine']['cpu']} ({r['machine']['cores']} cores)", {})
                per_task[task] = per_task.get(task, 0) + 1
    return [f"{cpu}: " + ", ".join(f"{n} {task}" for task, n in sorted(tasks.items())) + " runs"
            for cpu, tasks in sorted(counts.items())]
