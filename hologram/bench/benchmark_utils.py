"""Benchmark utilities for comparing Hologram Atlas with PyTorch (and NumPy): the public
names of the seed notebook, in one place.

Each name lives in the module of its concern; this module re-exports them so that
``from benchmark_utils import ...`` works as the notebook writes it
(``notebooks/benchmark_utils.py`` re-exports this module):

- :mod:`.timing`: ``benchmark_operation``, ``compare_frameworks``, ``paired_speedup``,
  ``BenchmarkResult``
- :mod:`.checks`: ``verify_correctness``, ``to_numpy``
- :mod:`.sysinfo`: ``collect_system_info``
- :mod:`.schema`: ``FRAMEWORKS`` (and the definition of every results column)
- :mod:`.io`: ``save_results``, ``load_results``
- :mod:`.plots`: ``plot_comparison``, ``plot_scaling``, ``plot_speedup``, ``plot_heatmap``
- :mod:`.report`: ``create_summary_table``

Importing this module needs only NumPy: pandas, matplotlib and seaborn are imported
inside the functions that draw or tabulate.
"""

from __future__ import annotations

from .checks import to_numpy, verify_correctness
from .io import load_results, save_results
from .plots import plot_comparison, plot_heatmap, plot_scaling, plot_speedup
from .report import create_summary_table
from .schema import FRAMEWORKS
from .sysinfo import collect_system_info
from .timing import BenchmarkResult, benchmark_operation, compare_frameworks, paired_speedup

__all__ = [
    "BenchmarkResult",
    "benchmark_operation",
    "compare_frameworks",
    "paired_speedup",
    "verify_correctness",
    "to_numpy",
    "collect_system_info",
    "plot_comparison",
    "plot_scaling",
    "plot_speedup",
    "plot_heatmap",
    "create_summary_table",
    "save_results",
    "load_results",
    "FRAMEWORKS",
]
