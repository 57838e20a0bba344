"""Disk the data directory takes after 12 small real jobs, without retention and with ``keep_checkpoints=3``.

A real embedded stack (API and Celery worker processes, SQLite database and broker) runs 12 one-epoch jobs of
the bundled MiniLM (the model whose best checkpoint is the ~88 MB the issue measured) on a small SST-2 slice.
Once they have finished, the data directory is measured (as ``du`` counts it); then the API is restarted with
``ADDROP_KEEP_CHECKPOINTS=3``, its upkeep loop prunes every checkpoint but the three newest, and the directory is
measured again. The end state is the one retention from the start reaches (it keeps the three newest).

Usage: python benchmarks/retention_disk.py [--jobs 12] [--keep 3] [--out benchmarks/results/retention_disk_cpu.txt]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.disk_usage import tree_bytes  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402
from jobstore.orm import FINISHED  # noqa: E402
from tests.jobs_stack import Stack, make_sst2_slice  # noqa: E402


def measure(data: Path) -> dict:
    return {"data_dir_mb": round(tree_bytes(data) / 2**20, 1), "jobs_dir_mb": round(tree_bytes(data / "jobs") / 2**20, 1),
            "checkpoints": len(list((data / "jobs").glob("job-*/best")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retention_disk_cpu.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_slice = make_sst2_slice(SHARED_DATA, root / "sst2", train=32, validation=16)
        stack = Stack("embedded", root)
        try:
            stack.start_worker()
            stack.start_api()
            client = stack.client()
            body = {"model": "minilm", "data": {"source": "directory", "task": "sst2", "data_dir": str(data_slice)},
                    "training": {"epochs": 1, "batch_size": 16, "max_length": 64, "device": "cpu"}}
            ids = [client.post("/api/jobs", json=body).json()["id"] for _ in range(args.jobs)]
            started = time.monotonic()
            while not all(client.get(f"/api/jobs/{i}").json()["state"] in FINISHED for i in ids):
                time.sleep(2)
            states = sorted({client.get(f"/api/jobs/{i}").json()["state"] for i in ids})
            without = measure(root / "data")
            stack.env["ADDROP_KEEP_CHECKPOINTS"] = str(args.keep)
            stack.kill_api()
            stack.start_api()
            client = stack.client()
            while sum(bool(client.get(f"/api/jobs/{i}").json()["checkpoint_pruned_at"]) for i in ids) < args.jobs - args.keep:
                time.sleep(1)
            health = client.get("/api/health").json()
            with_retention = measure(root / "data")
        finally:
            stack.close()
    result = {"jobs": args.jobs, "states": states, "run_seconds": round(time.monotonic() - started),
              "without_retention": without, f"keep_checkpoints_{args.keep}": with_retention,
              "health_data_dir_mb": round(health["data_dir_bytes"] / 2**20, 1)}
    text = json.dumps(result, indent=2)
    print(text)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
