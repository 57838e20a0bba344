#!/usr/bin/env bash
# Creates .venv (if needed) and installs AD-DROP Studio with the CPU build of PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# CPU build first: a bare "torch" requirement would pull a multi-GB CUDA build.
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[web,worker,dev,results]"
