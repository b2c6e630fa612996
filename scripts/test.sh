#!/usr/bin/env bash
# Set up (.venv with every extra) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install-browser.sh
exec .venv/bin/python -m pytest -q "$@"
