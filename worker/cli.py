"""The ``addrop-worker`` command: one Celery worker that runs one job at a time, on one GPU if asked."""

from __future__ import annotations

import argparse
import os
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Start a worker consuming the job queue; ``--gpu`` pins it to one device."""
    parser = argparse.ArgumentParser(prog="addrop-worker", description="Run AD-DROP fine-tuning jobs.")
    parser.add_argument("--gpu", help="CUDA device index this worker may use (sets CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--name", help="worker node name (default: addrop@<host>)")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    # Before anything imports torch: each worker sees only its own GPU.
    if args.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = args.gpu
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from worker.tasks import app, settings

    command = ["worker", f"--loglevel={args.loglevel}", "--pool=prefork", "--concurrency=1",
               f"--queues={settings.job_queue}", "--without-gossip", "--without-mingle"]
    if args.name:
        command.append(f"--hostname={args.name}")
    app.worker_main(command)
    return 0
