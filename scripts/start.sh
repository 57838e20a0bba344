#!/usr/bin/env bash
# Sets up the environment and starts AD-DROP Studio on its embedded default (SQLite, no Redis, no Docker):
# open http://127.0.0.1:8000 (set HOST/PORT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
echo "AD-DROP Studio on http://${HOST:-127.0.0.1}:${PORT:-8000} (Ctrl+C stops it)"
exec python -m backend --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
