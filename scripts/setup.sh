#!/usr/bin/env bash
# Create .venv and install bnguard with every extra and the test tools.
# torch is installed first and pinned: the pinned version is the CPU build; an unpinned
# `torch` (or a range, pulled in by another package) would fetch a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
extras=${1:-test}
.venv/bin/python -m pip install -q -e ".[${extras}]"
