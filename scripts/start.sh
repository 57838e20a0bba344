#!/usr/bin/env bash
# Sets up the environment and runs a short demo of the library: AD-DROP's view of one sentence pair
# on the bundled MiniLM model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
addrop explain "The cat sat on the mat." --pair "A cat was sitting on a mat." --layers 0 --method GA --p 0.3 --q 0.5
cat <<'MSG'

Next: fine-tune with AD-DROP, e.g. on your own files or a GLUE task directory:
  . .venv/bin/activate
  addrop train --task mrpc --data-dir path/to/glue/mrpc --epochs 4 --output-dir outputs/mrpc
MSG
