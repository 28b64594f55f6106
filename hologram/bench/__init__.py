"""Hologram Atlas vs PyTorch benchmark suite.

``python -m hologram.bench --out results/ [--quick] [--threads N] [--ops a,b]`` runs it.
One module per concern: ``timing`` (calibrated, alternating samples), ``checks``
(correctness against a reference), ``sysinfo`` (the machine), ``schema`` (every column of
a results record), ``io`` (results.json/.csv), ``plots``, ``suite`` (the op table and its
runner), ``roofline`` (the machine's peak and bandwidths, measured at the start of a run,
and each row's share of them), ``report`` (summary, findings, report.md) and
``environment`` (the process environment the benchmark is timed in).  ``benchmark_utils`` re-exports the names the
notebook ``notebooks/pytorch_vs_atlas_benchmarks.py`` uses.  Importing this package needs
only NumPy; ``suite`` imports torch, ``report`` and ``plots`` pandas/matplotlib/seaborn.
"""

from .benchmark_utils import (  # noqa: F401
    BenchmarkResult,
    benchmark_operation,
    collect_system_info,
    compare_frameworks,
    verify_correctness,
)
