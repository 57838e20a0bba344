"""The ``addrop-studio`` command: serve the web app with uvicorn."""

from __future__ import annotations

import argparse
import os
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Start the web app on ``--host``/``--port``."""
    parser = argparse.ArgumentParser(prog="addrop-studio", description="Serve AD-DROP Studio.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import uvicorn

    uvicorn.run("backend.main:create_app", factory=True, host=args.host, port=args.port)
    return 0
