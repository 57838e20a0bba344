"""Pool starts on the embedded default, counted until one hangs: the worker's parent forks a fresh pool process
for every job, and a pool process that inherited a live SQLite connection from it once froze at start-up (in
``sqlite3_free``, during ``import torch``) about once in 66 starts.

Starts the server with its embedded worker (``serving.py``) on a fresh data directory and keeps ``--queued`` jobs
waiting at all times (so the parent receives messages and checks each against the database while it forks),
each a tiny real job (a random 3-layer BERT, 1 epoch on 8 rows of the shared SST-2), until ``--jobs`` have
ended. A pool start is the gap from one job's end to the next job's start (the fork, ``import torch`` and the
transformers import of the next pool process). No job ending for ``--hang-seconds`` counts as a
hang: the worker processes' kernel states (and py-spy stacks) are printed and the run stops.

    python benchmarks/pool_starts.py [--jobs 300] [--note "what was measured"] [--out benchmarks/results/pool_starts_cpu.txt]

The report is appended to ``--out``, after ``--note`` as a comment line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
from serving import ROOT, served

sys.path.insert(0, str(ROOT))

from jobstore.settings import get_store_settings  # noqa: E402
from tests.jobs_stack import job_request, make_sst2_slice  # noqa: E402
from tests.tiny_models import save_tiny_model  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


def _time(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def worker_processes(data_dir: Path) -> list[str]:
    """Each process started for this data directory, with its kernel state and wait channel, and (where
    ``py-spy`` is installed) its Python and native stack."""
    lines = []
    marker = f"ADDROP_DATA_DIR={data_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
            lines.append(f"pid {proc.name}: {state.split(':', 1)[1].strip()}, waiting in "
                         f"{(proc / 'wchan').read_text() or '-'}: {command[:120]}")
        except (OSError, StopIteration):
            continue
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if Path(spy).exists():
            dump = subprocess.run([spy, "dump", "--native", "--pid", proc.name], capture_output=True, text=True)
            lines += [f"    {line}" for line in (dump.stdout + dump.stderr).splitlines()]
    return lines


def run(jobs: int, queued: int, hang_seconds: float) -> tuple[list[dict], list[str], float]:
    """Run ``jobs`` jobs with ``queued`` waiting at all times; the ended jobs, any hang report and the wall time."""
    with served({"OMP_NUM_THREADS": "1", "ADDROP_EMBEDDED_WORKERS": "1"}, worker=True) as (url, data_dir):
        model = save_tiny_model(data_dir / "model")
        data = make_sst2_slice(SHARED_DATA, data_dir / "sst2", train=8, validation=4)
        body = job_request(model, data, epochs=1, logging_steps=1)
        body["addrop"]["layers"] = [0]
        client = httpx.Client(base_url=url, timeout=60)
        submitted: list[int] = []
        ended: dict[int, dict] = {}
        started_at = time.monotonic()
        last_change, last_count = time.monotonic(), 0
        while len(ended) < jobs:
            waiting = [job_id for job_id in submitted if job_id not in ended]
            while len(waiting) < queued and len(submitted) < jobs:
                job_id = client.post("/api/jobs", json={**body, "name": f"pool start {len(submitted) + 1}"}).json()["id"]
                submitted.append(job_id)
                waiting.append(job_id)
            for job_id in waiting:
                job = client.get(f"/api/jobs/{job_id}").json()
                if job["state"] not in ("queued", "running"):
                    ended[job_id] = job
            if len(ended) != last_count:
                last_change, last_count = time.monotonic(), len(ended)
                if len(ended) % 25 == 0:
                    print(f"{len(ended)}/{jobs} jobs ended after {time.monotonic() - started_at:.0f} s", flush=True)
            elif time.monotonic() - last_change > hang_seconds:
                return list(ended.values()), worker_processes(data_dir), time.monotonic() - started_at
            time.sleep(0.5)
        return list(ended.values()), [], time.monotonic() - started_at


def report(ended: list[dict], hang: list[str], wall: float, jobs: int, queued: int, hang_seconds: float) -> str:
    runs = sorted(ended, key=lambda job: _time(job["started_at"]) or 0)
    gaps = [_time(later["started_at"]) - _time(earlier["finished_at"])
            for earlier, later in zip(runs, runs[1:]) if earlier["finished_at"] and later["started_at"]]
    states = Counter(job["state"] for job in ended)
    quantile = lambda q: sorted(gaps)[min(len(gaps) - 1, int(q * len(gaps)))]  # noqa: E731
    lines = [
        f"# benchmarks/pool_starts.py, {datetime.now().isoformat(timespec='seconds')}, {os.cpu_count()} cores, "
        f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"# {jobs} tiny jobs on the embedded default (one worker, a fresh pool process per job), "
        f"{queued} kept queued; a hang is {hang_seconds:.0f} s with no job ending",
        f"# pool_process_timeout_seconds (a pool process not started by then is ended and replaced): "
        f"{get_store_settings().pool_process_timeout_seconds:g}",
        f"jobs ended: {len(ended)} of {jobs} ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}) in {wall / 60:.1f} min",
        f"pool starts measured (end of one job to start of the next): {len(gaps)}",
    ]
    if gaps:
        lines.append(f"pool start seconds: median {statistics.median(gaps):.2f}, p90 {quantile(0.9):.2f}, "
                     f"p99 {quantile(0.99):.2f}, max {max(gaps):.2f}")
        limit = get_store_settings().pool_process_timeout_seconds
        slow = [gap for gap in gaps if gap >= limit]
        lines.append(f"starts that took the limit or longer (a stuck start ended and replaced): {len(slow)}")
    lines.append(f"hung: {'yes' if hang else 'none'}")
    lines += [f"  {line}" for line in hang]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--queued", type=int, default=20, help="jobs kept waiting in the queue at all times")
    parser.add_argument("--hang-seconds", type=float, default=900.0,
                        help="longer than pool_process_timeout_seconds, so that a stuck start the worker ends itself "
                        "is counted as such, not as a hang")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pool_starts_cpu.txt")
    parser.add_argument("--note", help="a line saying what this run measures, written above its report")
    args = parser.parse_args()
    ended, hang, wall = run(args.jobs, args.queued, args.hang_seconds)
    text = report(ended, hang, wall, args.jobs, args.queued, args.hang_seconds)
    if args.note:
        text = f"# {args.note}\n{text}"
    print(text, end="")
    with args.out.open("a") as out:
        out.write(f"\n{text}")


if __name__ == "__main__":
    main()
