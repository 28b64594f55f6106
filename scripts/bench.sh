#!/usr/bin/env bash
# The main job: the PyTorch-vs-Atlas benchmark report, from a fresh clone.
# Writes results/ (results.json, results.csv, plots, report.md).
# Usage: bash scripts/bench.sh [--quick] [--threads N] [--ops a,b] [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-venv.sh
# OPENBLAS_CORETYPE/L2_SIZE (set on some of these machines) slow NumPy's
# BLAS, NumPy's column would be unfair: unset them for this command only.
# OPENBLAS_THREAD_TIMEOUT=4: NumPy's OpenBLAS workers otherwise spin for
# ~0.1 s after each call and, with --threads 0, sit on the cores PyTorch and
# Atlas are timed on (gemm 1024 with 2 threads: PyTorch 27.3 / Atlas 25.9 ms
# with the default, 15.7 / 14.2 ms with this setting).
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 \
    .venv/bin/python -P -m hologram.bench --out results/ "$@"
