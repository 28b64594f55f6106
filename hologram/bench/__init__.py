"""Hologram Atlas vs PyTorch benchmark suite.

``python -m hologram.bench --out results/ [--quick] [--threads N] [--ops a,b]`` runs it;
:mod:`hologram.bench.benchmark_utils` holds the reusable timing/checking/plotting helpers
(also used by ``notebooks/pytorch_vs_atlas_benchmarks.ipynb``).  Importing this package
needs only NumPy; ``suite`` imports torch, ``report`` pandas/matplotlib/seaborn.
"""

from .benchmark_utils import (  # noqa: F401
    BenchmarkResult,
    benchmark_operation,
    collect_system_info,
    compare_frameworks,
    verify_correctness,
)
