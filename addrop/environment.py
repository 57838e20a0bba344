"""What a training run ran on: the code (addrop's version and, from a git checkout, its commit), the libraries, the
device and the machine, so that a result can say which code trained it."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import transformers

from addrop import __version__

# The checkout's root when addrop runs from one (an editable install or PYTHONPATH); an installed copy has none.
SOURCE = Path(__file__).resolve().parent.parent
GIT_TIMEOUT_SECONDS = 5.0


def training_environment(device: str | None, source: Path = SOURCE) -> dict[str, Any]:
    """The environment of a run on ``device`` ("cpu", "cuda", or None for the accelerator the Trainer picks when
    there is one), with the commit of the git checkout rooted at ``source``. Never raises for want of git."""
    if device is None:  # torch.accelerator is torch >= 2.6's; before it, CUDA was the accelerator the Trainer took
        accelerator = getattr(torch, "accelerator", None)
        if accelerator is not None:
            device = getattr(accelerator.current_accelerator(), "type", "cpu")
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    commit, dirty = git_commit(source)
    model, cores = cpu()
    return {
        "addrop": __version__, "commit": commit, "dirty": dirty,
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "device": device, "torch_threads": torch.get_num_threads(), "cpu": model, "cores": cores,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
    }


def git_commit(source: Path) -> tuple[str | None, bool | None]:
    """The short commit of the git checkout whose root is ``source``, and whether its tracked files have uncommitted
    changes; None for what git cannot say: no git, no checkout there, or no answer within GIT_TIMEOUT_SECONDS."""
    try:
        top, commit = _git(source, "rev-parse", "--show-toplevel", "--short", "HEAD").splitlines()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, None
    if Path(top).resolve() != source.resolve():  # an installed copy inside another checkout (a venv in a repository)
        return None, None
    try:
        # --no-optional-locks: a status refreshes the index, which would race with a person's git in that checkout
        changes = _git(source, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return commit, None
    return commit, bool(changes.strip())


def _git(source: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, check=True,
                          timeout=GIT_TIMEOUT_SECONDS).stdout


def cpu() -> tuple[str | None, int | None]:
    """The CPU's model name (Linux's /proc/cpuinfo, else what the platform says) and its number of logical cores."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)
    return model or platform.processor() or None, os.cpu_count()
