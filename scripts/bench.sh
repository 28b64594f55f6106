#!/usr/bin/env bash
# The main job: the PyTorch-vs-Atlas benchmark report, from a fresh clone.
# Writes results/ (results.json, results.csv, plots, report.md).
# Usage: bash scripts/bench.sh [--quick] [--threads N] [--ops a,b] [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-venv.sh
# The benchmark's environment (OpenBLAS settings, for this command only) is
# defined in hologram/bench/environment.py, which also runs the command.
exec .venv/bin/python -P -m hologram.bench.environment \
    .venv/bin/python -P -m hologram.bench --out results/ "$@"
