"""What recording attribution dynamics costs next to the training it records (issue 23: under 10% of an epoch's
time at the default probe size).

One AD-DROP run per task (MiniLM, cross-tuning: a plain epoch, then an AD-DROP one) on a slice of its train set,
with dynamics on at the default probe size; each epoch times its training steps, its dev evaluation and the
recording at its end, side by side in the same process. An epoch of the full train and dev sets is
extrapolated from the slice's time per example, since the recording's cost does not grow with the train set.

    OMP_NUM_THREADS=1 python benchmarks/dynamics_cost.py [--tasks sst2,mrpc] [--train 256] [--dev 256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import transformers
from transformers import TrainerCallback

from addrop.dynamics import PROBE_SIZE, DynamicsConfig, DynamicsRecorder
from addrop.finetune import FinetuneConfig, finetune

GLUE = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue"


class EpochClock(TrainerCallback):
    """Seconds of each epoch's training steps (from its start to its end, before the recorder runs)."""

    def __init__(self) -> None:
        self.training: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.training.append(time.perf_counter() - self._start)


def timed_recorder() -> list[float]:
    """Seconds of every :class:`DynamicsRecorder` epoch end (maps, summaries, the npz file and the log)."""
    spent: list[float] = []
    record = DynamicsRecorder.on_epoch_end

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        record(self, *args, **kwargs)
        spent.append(time.perf_counter() - start)

    DynamicsRecorder.on_epoch_end = timed
    return spent


def lines(path: Path) -> int:
    with path.open() as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="sst2,mrpc")
    parser.add_argument("--train", type=int, default=256, help="train examples of the slice")
    parser.add_argument("--dev", type=int, default=256, help="dev examples of the slice")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "dynamics_cost.txt"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    transformers.utils.logging.set_verbosity_error()
    recording = timed_recorder()
    out = [f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, python benchmarks/dynamics_cost.py "
           f"--tasks {args.tasks} --train {args.train} --dev {args.dev}; MiniLM, AD-DROP GA layer 0 (p 0.3, "
           f"q 0.2), cross-tuning, batch 16, max length 128, fp32, 1 CPU thread (torch {torch.__version__}), "
           f"{os.cpu_count()} CPUs shared with other work: times are noisy, the shares less so",
           f"# probe set: {PROBE_SIZE} dev examples (the default); recorded layers: the masked one (0) and the last "
           "(5); recording = GA maps + concentration, entropy, stability + reliance (2 masked forwards) + npz file",
           "# full epoch: the slice's seconds per train and per dev example times the task's train and dev sets",
           ""]
    for task in args.tasks.split(","):
        clock = EpochClock()
        recording.clear()
        with tempfile.TemporaryDirectory() as folder:
            config = FinetuneConfig(task=task, data_dir=str(GLUE / task), output_dir=folder, max_train_samples=args.train,
                                    max_eval_samples=args.dev, epochs=2, batch_size=16, patience=None, device="cpu",
                                    save_checkpoint=False, logging_steps=50, dynamics=DynamicsConfig())
            result = finetune(config, callbacks=[clock], progress=False)
        evaluations = [e["values"]["runtime"] for e in result.history if e["kind"] == "eval"]
        train_size, dev_size = lines(GLUE / task / "train.jsonl"), lines(GLUE / task / "validation.jsonl")
        for epoch, (training, evaluation, recorded) in enumerate(zip(clock.training, evaluations, recording), 1):
            phase = "AD-DROP" if epoch % 2 == 0 else "plain"
            slice_epoch = training + evaluation
            full_epoch = training / args.train * train_size + evaluation / args.dev * dev_size
            out.append(f"{task} epoch {epoch} ({phase:>7}): slice of {args.train} train / {args.dev} dev: training "
                       f"{training:6.1f} s + dev {evaluation:5.1f} s; recording {recorded:5.1f} s = "
                       f"{recorded / slice_epoch:6.1%} of the slice's epoch; full epoch ({train_size} / {dev_size}) "
                       f"~{full_epoch:7.0f} s: recording {recorded / full_epoch:6.2%}")
        print("\n".join(out[-2:]), flush=True)
    Path(args.out).write_text("\n".join(out) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
