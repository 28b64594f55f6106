#!/usr/bin/env bash
# The main job: the PyTorch-vs-Atlas benchmark report, from a fresh clone.
# Writes results/ (results.json, results.csv, plots, report.md).
# Usage: bash scripts/bench.sh [--quick] [--threads N] [--ops a,b] [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-venv.sh
# OPENBLAS_CORETYPE/L2_SIZE (set on some of these machines) slow NumPy's
# BLAS, NumPy's column would be unfair: unset them for this command only.
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    .venv/bin/python -P -m hologram.bench --out results/ "$@"
