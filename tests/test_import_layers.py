"""The packages lean on each other in one direction only: ``jobstore`` imports none of the others (nor torch or
transformers), the worker imports ``jobstore`` and ``addrop`` and nothing of the web app (its parent process not
even torch), and the web app never imports the worker. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.browser import ROOT

PACKAGES = {"addrop", "backend", "frontend", "jobstore", "worker", "torch", "transformers"}


def top_level_imports(module: str) -> set[str]:
    """The project packages (and torch, transformers) loaded by importing ``module`` in a fresh process."""
    code = (f"import json, sys; import {module}; "
            f"print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({sorted(PACKAGES)!r}))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["jobstore.transitions", "jobstore.queue", "jobstore.studies", "jobstore.__main__"])
def test_the_job_store_imports_no_other_package(module):
    assert top_level_imports(module) == {"jobstore"}


def test_the_worker_parent_imports_the_store_only():
    # the process that forks the pool must not hold torch's threads or CUDA state across fork
    assert top_level_imports("worker.tasks") == {"jobstore", "worker"}


def test_the_job_runner_imports_no_part_of_the_web_app():
    assert top_level_imports("worker.runner") == {"addrop", "jobstore", "worker", "torch", "transformers"}


def test_the_web_app_never_imports_the_worker():
    assert "worker" not in top_level_imports("backend.main")
