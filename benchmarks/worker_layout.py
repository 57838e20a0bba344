"""Which worker layout trains more on a small CPU: one worker using every core, or one worker per core?

Runs the same real fine-tuning (MiniLM, MRPC, batch 16, dynamic padding, one plain and one AD-DROP GA layer-0
epoch through ``addrop.finetune``, no checkpoint) in two layouts, side by side in one invocation:

- ``1x<cores>``: the runs one after another in one process each, torch using every core (the embedded
  worker's default: one job at a time);
- ``<cores>x1``: as many runs at once as there are cores, each process with one torch thread (as many
  worker processes, each ``OMP_NUM_THREADS=1``).

Both layouts do the same number of runs; the figure that matters is runs per hour (and the ratio). The
layouts alternate for ``--rounds`` rounds so that machine noise hits both alike.

Usage: python benchmarks/worker_layout.py [--samples 800] [--rounds 2] [--out benchmarks/results/worker_layout_cpu.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(data_dir: str, samples: int, seed: int) -> dict:
    """A plain and an AD-DROP epoch on ``samples`` training rows; prints the wall time as JSON."""
    import torch

    from addrop.finetune import FinetuneConfig, finetune

    with tempfile.TemporaryDirectory() as out:
        config = FinetuneConfig(task="mrpc", data_dir=data_dir, output_dir=out, epochs=2, batch_size=16,
                                max_length=128, patience=None, save_checkpoint=False, device="cpu", seed=seed,
                                max_train_samples=samples, max_eval_samples=200)
        started = time.perf_counter()
        result = finetune(config, progress=False)
    return {"wall_s": time.perf_counter() - started, "train_s": result.train_seconds, "threads": torch.get_num_threads()}


def launch(data_dir: str, samples: int, seed: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, __file__, "--one", data_dir, "--samples", str(samples), "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"a run failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def layout(data_dir: str, samples: int, cores: int, together: bool) -> dict:
    """``cores`` runs: one after another with every core each, or all at once with one thread each."""
    started = time.perf_counter()
    if together:
        runs = [finish(p) for p in [launch(data_dir, samples, seed, 1) for seed in range(cores)]]
    else:
        runs = [finish(launch(data_dir, samples, seed, cores)) for seed in range(cores)]
    wall = time.perf_counter() - started
    return {"wall_s": wall, "runs": len(runs), "runs_per_hour": len(runs) * 3600 / wall,
            "run_wall_s": [r["wall_s"] for r in runs], "threads": [r["threads"] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "glue" / "mrpc"))
    parser.add_argument("--samples", type=int, default=800, help="training rows per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.samples, args.seed)))
        return
    cores = os.cpu_count() or 1
    names = {False: f"1x{cores} (one run at a time, {cores} threads)", True: f"{cores}x1 (runs at once, 1 thread each)"}
    results: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.rounds):
        for together in (False, True):
            results[together].append(layout(args.data, args.samples, cores, together))
    lines = [f"worker layout, {cores} cores, load before {os.getloadavg()[2]:.2f} (15 min); each run: MiniLM MRPC, "
             f"{args.samples} training rows, 1 plain + 1 AD-DROP (GA, layer 0) epoch, batch 16",
             f"rounds: {args.rounds}, layouts alternating; runs per hour is the median over rounds"]
    rate = {}
    for together, name in names.items():
        rate[together] = statistics.median(r["runs_per_hour"] for r in results[together])
        walls = ", ".join(f"{r['wall_s']:.0f} s" for r in results[together])
        per_run = statistics.median(w for r in results[together] for w in r["run_wall_s"])
        lines.append(f"{name}: {rate[together]:.1f} runs/hour (layout wall per round: {walls}; one run {per_run:.0f} s)")
    lines.append(f"ratio {names[True].split()[0]} / {names[False].split()[0]}: {rate[True] / rate[False]:.2f}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
