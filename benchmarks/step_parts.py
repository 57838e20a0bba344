"""Where pass 1 and the masks spend their time, and what the allocator adds, on the MiniLM shapes.

Figures behind the choices in ``addrop.hooks`` and ``addrop.masking`` (batch 32, length 128, 12 heads of
32 dimensions, 6 layers, CPU; medians of repeated calls):

1. One layer's attention in train mode (attention dropout 0.1): PyTorch's SDPA with ``dropout_p``,
   ``eager_attention`` with transformers' dropout draw, and with its uniform draw (what pass 1 uses on CPU).
2. The masks: ``discard_masks`` on one and on six layers, and its parts for one layer (the top-k threshold,
   the uniform draws, and the lost-all check as a count and as a boolean ``all()``).
3. Page faults: minor faults and time of a plain and a GA (layer 0) step under glibc's defaults, with only
   ``MALLOC_TRIM_THRESHOLD_`` set, and with it and ``MALLOC_MMAP_THRESHOLD_`` set, each in its own process.

Usage: python benchmarks/step_parts.py [--repeats 7] [--threads 2] [--skip faults]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable

from step_cost import build_step, load, make_batch

BATCH, HEADS, LENGTH, HEAD_DIM, LAYERS = 32, 12, 128, 32, 6
ALLOCATORS = {
    "glibc defaults": {},
    "trim threshold only": {"MALLOC_TRIM_THRESHOLD_": "17179869184"},
    "trim + mmap thresholds": {"MALLOC_TRIM_THRESHOLD_": "17179869184", "MALLOC_MMAP_THRESHOLD_": "33554432"},
}


def timed(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median milliseconds of each function over ``repeats`` calls in a row after two warm-up calls.

    In a row, as a training loop repeats the same work, so that the allocator hands back the blocks the
    previous call freed; interleaving functions with different allocations makes each pay page faults
    (see the third section) and measures the allocator more than the function.
    """
    medians = {}
    for name, function in functions.items():
        function()
        function()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(times)
    return medians


def attention_costs(repeats: int) -> dict[str, float]:
    import torch

    from addrop.hooks import eager_attention

    module = torch.nn.Module().train()
    q, k, v = (torch.randn(BATCH, HEADS, LENGTH, HEAD_DIM) for _ in range(3))
    return timed({
        "SDPA, dropout_p=0.1": lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.1),
        "eager, transformers' draw": lambda: eager_attention(module, q, k, v, None, dropout=0.1),
        "eager, uniform draw (pass 1)": lambda: eager_attention(module, q, k, v, None, dropout=0.1,
                                                                uniform_dropout=True),
    }, repeats)


def mask_costs(repeats: int) -> dict[str, float]:
    import torch

    from addrop import discard_masks

    maps = torch.randn(LAYERS, BATCH, HEADS, LENGTH, LENGTH)
    padding = torch.ones(BATCH, LENGTH, dtype=torch.long)
    out = tuple(torch.empty(maps.shape, dtype=torch.bool) for _ in range(2))
    one = tuple(t[:1] for t in out)
    k = -(-3 * LENGTH // 10)  # ceil(0.3 n)
    dropped = torch.rand(maps.shape[1:]) < 0.3
    draws = torch.empty(maps.shape[1:])
    return timed({
        "discard_masks, 6 layers": lambda: discard_masks(maps, padding, 0.3, 0.3, out=out),
        "discard_masks, 1 layer": lambda: discard_masks(maps[:1], padding, 0.3, 0.3, out=one),
        "  top-k threshold": lambda: maps[0].topk(k, dim=-1, sorted=False).values.amin(-1, keepdim=True),
        "  uniform draws": lambda: draws.uniform_(),
        "  lost-all check, sum()": lambda: dropped.sum(-1, keepdim=True) >= LENGTH,
        "  lost-all check, all()": lambda: dropped.all(-1, keepdim=True),
    }, repeats)


def step_faults(repeats: int) -> dict[str, dict[str, float]]:
    """Median time and minor page faults of a plain and a GA (layer 0) step, interleaved, in this process."""
    batch = make_batch(BATCH, LENGTH, "cpu")
    steps = {name: build_step(name, batch, {"sdpa": load("sdpa", "minilm", "cpu")}, BATCH)
             for name in ("plain", "GA-L0")}
    for step in steps.values():
        step()
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    faults: dict[str, list[int]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - start)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {name: {"s": statistics.median(seconds[name]), "faults": statistics.median(faults[name])}
            for name in steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--skip", nargs="*", default=[], choices=["attention", "masks", "faults"])
    parser.add_argument("--faults-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    if args.faults_only:
        print(json.dumps(step_faults(args.repeats)))
        return
    print(f"MiniLM shapes (batch {BATCH}, length {LENGTH}, {HEADS} heads x {HEAD_DIM}), {args.threads} CPU threads, "
          f"torch {torch.__version__}", flush=True)
    if "attention" not in args.skip:
        print("one layer's attention, train mode, dropout 0.1:", flush=True)
        for name, ms in attention_costs(args.repeats).items():
            print(f"  {name:>30}: {ms:7.1f} ms", flush=True)
    if "masks" not in args.skip:
        print("masks (p = q = 0.3, no padding):", flush=True)
        for name, ms in mask_costs(args.repeats).items():
            print(f"  {name:<30}: {ms:7.1f} ms", flush=True)
    if "faults" not in args.skip:
        print(f"steps with each allocator setting (own process, {max(3, args.repeats // 2)} rounds):", flush=True)
        for label, extra in ALLOCATORS.items():
            env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", **extra)
            command = [sys.executable, __file__, "--faults-only", "--repeats", str(max(3, args.repeats // 2)),
                       "--threads", str(args.threads)]
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"{label} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            figures = ", ".join(f"{name} {r['s']:.2f} s / {r['faults']:.0f} faults" for name, r in result.items())
            print(f"  {label:>22}: {figures}", flush=True)


if __name__ == "__main__":
    main()
