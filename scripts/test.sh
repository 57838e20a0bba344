#!/usr/bin/env bash
# Sets up the environment (and Debian's Chromium for the browser tests), then runs the whole test suite: the
# JavaScript unit tests (node --test, where Node is installed) and pytest. The job tests use PostgreSQL and Redis
# where they answer on their standard ports, and otherwise throwaway servers (scripts/test_services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium > /dev/null
fi
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
. scripts/test_services.sh
start_test_services
# Both suites always run; the script fails if either does. pytest comes last so its summary is the last line.
js_status=0
if command -v node > /dev/null; then
  node --test tests/js/ || js_status=$?
else
  echo "node is not installed: the JavaScript unit tests (tests/js/) are skipped"
fi
py_status=0
python -m pytest "$@" || py_status=$?
exit $(( py_status != 0 ? py_status : js_status ))
