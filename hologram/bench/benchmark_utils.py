"""Benchmark utilities for comparing Hologram Atlas with PyTorch (and NumPy).

This is the single copy of the code; ``notebooks/benchmark_utils.py`` re-exports it.
Importing this module needs only NumPy: pandas, matplotlib and seaborn are imported
inside the functions that draw or tabulate.

Timing model: a single call of a small op (a 1,000-element add) takes well under a
microsecond, far below what one ``perf_counter`` pair can resolve honestly.  Each timed
*sample* therefore runs the op in a calibrated inner loop (calibrated after warm-up so
one sample lasts at least ``min_sample_s``) and reports the time *per call*.
"""

from __future__ import annotations

import csv
import datetime
import gc
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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

MIN_SAMPLE_S = 0.002  # one timed sample lasts at least this long
MAX_INNER_LOOPS = 100_000  # ... unless the op is so fast that this many calls is reached first

#: column prefix -> label, in plotting order
FRAMEWORKS = {
    "pytorch": "PyTorch",
    "pytorch_out": "PyTorch (out=)",
    "numpy": "NumPy",
    "atlas": "Atlas",
}
COLORS = {"pytorch": "tab:blue", "pytorch_out": "tab:cyan", "numpy": "tab:gray", "atlas": "tab:red"}
TIE_BAND = 1.05  # speedups within [1/1.05, 1.05] count as a tie


# --------------------------------------------------------------------------- timing


@dataclass
class BenchmarkResult:
    """Per-call timing statistics of one operation (all times in milliseconds)."""

    name: str
    output: Any
    mean_ms: float
    median_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    ci95_ms: tuple[float, float]
    samples_ms: list[float] = field(repr=False)
    inner_loops: int = 1

    @classmethod
    def from_samples(cls, name: str, output: Any, samples_ms: list[float], inner_loops: int):
        n = len(samples_ms)
        mean = statistics.fmean(samples_ms)
        std = statistics.stdev(samples_ms) if n > 1 else 0.0
        half = _t975(n - 1) * std / math.sqrt(n) if n > 1 else 0.0
        return cls(
            name,
            output,
            mean,
            statistics.median(samples_ms),
            std,
            min(samples_ms),
            max(samples_ms),
            (mean - half, mean + half),
            list(samples_ms),
            inner_loops,
        )


_T975 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def _t975(df: int) -> float:
    """Two-sided 95% Student-t quantile (df >= 1)."""
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def _run(fn: Callable[[], Any], loops: int) -> tuple[float, Any]:
    """Seconds for ``loops`` calls of fn, and the last output."""
    out = None
    t0 = time.perf_counter()
    for _ in range(loops):
        out = fn()
    return time.perf_counter() - t0, out


def _calibrate(fn: Callable[[], Any], min_sample_s: float, max_loops: int) -> int:
    """Smallest inner-loop count (<= max_loops) whose run lasts >= min_sample_s."""
    loops = 1
    while True:
        elapsed, _ = _run(fn, loops)
        if elapsed >= min_sample_s or loops >= max_loops:
            return loops
        want = loops * min_sample_s / max(elapsed, 1e-9) * 1.2
        loops = int(min(max_loops, max(2 * loops, math.ceil(want))))


def _settle(seconds: float) -> None:
    """Wait ``seconds`` with this thread busy.  Sleeping instead lets the (virtual) CPUs go
    idle, and the first milliseconds after an idle period run measurably slower on the
    development VM (Atlas add 100K with 2 threads: 12.5 us after no pause, 14 us after
    a 30 ms sleep, 30 us after a 100 ms sleep, 12.1 us after a 30 ms busy wait)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def compare_frameworks(
    fns: dict[str, Callable[[], Any]],
    warmup_runs: int = 5,
    timing_runs: int = 10,
    min_sample_s: float = MIN_SAMPLE_S,
    max_inner_loops: int = MAX_INNER_LOOPS,
    name: str | None = None,
    settle_s: float = 0.0,
) -> dict[str, BenchmarkResult]:
    """Time several zero-argument callables against each other.

    Every callable is warmed up (``warmup_runs`` calls) and gets its own calibrated inner
    loop count.  Samples are then taken *alternating* (A B C, B C A, C A B, ...) so slow
    drift of the machine (frequency, neighbours, thermal) hits every framework equally.
    ``settle_s`` > 0 pauses before every sample (see :func:`_settle`), so worker threads
    that the previous callable left spinning (OpenMP, OpenBLAS) go idle before the next
    one is timed.
    Returns ``{key: BenchmarkResult}`` in the order of ``fns``; result names are
    ``f"{name}_{key}"`` when ``name`` is given, else ``key``.
    """
    if not fns:
        raise ValueError("compare_frameworks: no functions given")
    if timing_runs < 1:
        raise ValueError("compare_frameworks: timing_runs must be >= 1")
    if not settle_s >= 0:
        raise ValueError(f"compare_frameworks: settle_s must be >= 0, got {settle_s}")
    keys = list(fns)
    loops, outputs = {}, {}
    for k in keys:
        for _ in range(warmup_runs):
            fns[k]()
        loops[k] = _calibrate(fns[k], min_sample_s, max_inner_loops)
    samples: dict[str, list[float]] = {k: [] for k in keys}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(timing_runs):
            for j in range(len(keys)):
                k = keys[(i + j) % len(keys)]
                if settle_s:
                    _settle(settle_s)
                elapsed, outputs[k] = _run(fns[k], loops[k])
                samples[k].append(elapsed * 1e3 / loops[k])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        k: BenchmarkResult.from_samples(
            f"{name}_{k}" if name else k, outputs[k], samples[k], loops[k]
        )
        for k in keys
    }


def paired_speedup(baseline: BenchmarkResult, candidate: BenchmarkResult) -> float:
    """Median over rounds of baseline / candidate, for results of one :func:`compare_frameworks`
    call (sample ``i`` of every framework comes from round ``i``, taken milliseconds apart).

    A shared machine drifts between speed levels over seconds (the development VM runs a whole
    process 1.8x slower at times), which moves every framework's samples together.  The ratio of
    two medians can then compare one framework's fast level with the other's slow level; the
    ratio within a round cannot, so its median is the drift-robust companion of
    ``median(baseline) / median(candidate)``.
    """
    a, b = baseline.samples_ms, candidate.samples_ms
    if not a or len(a) != len(b):
        raise ValueError(
            f"paired_speedup: needs the same number of samples (>= 1), got {len(a)} and {len(b)}"
        )
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def benchmark_operation(
    fn: Callable[[], Any],
    warmup_runs: int = 5,
    timing_runs: int = 10,
    name: str | None = None,
    min_sample_s: float = MIN_SAMPLE_S,
    max_inner_loops: int = MAX_INNER_LOOPS,
) -> BenchmarkResult:
    """Time one zero-argument callable; ``output`` is the result of its last call."""
    res = compare_frameworks({"fn": fn}, warmup_runs, timing_runs, min_sample_s, max_inner_loops)[
        "fn"
    ]
    res.name = name or getattr(fn, "__name__", "fn")
    return res


# --------------------------------------------------------------------------- correctness


def to_numpy(x: Any) -> np.ndarray:
    """NumPy copy/view of a NumPy array, torch tensor, hologram Buffer or anything array-like."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):  # hologram.Buffer, pandas
        return np.asarray(x.to_numpy())
    return np.asarray(x)


def verify_correctness(
    actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, name: str = ""
) -> float:
    """Assert ``|actual - expected| <= atol + rtol*|expected|`` element-wise.

    NaNs must sit at the same positions; infinities must match exactly.  On failure raises
    ``AssertionError`` naming the worst element's index, both values and the tolerance.
    Returns the largest absolute difference over elements that are finite in both.
    """
    a, e = to_numpy(actual), to_numpy(expected)
    tag = f"{name}: " if name else ""
    if a.shape != e.shape:
        raise AssertionError(f"{tag}shape mismatch: actual {a.shape} vs expected {e.shape}")
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a64 - e64)
    if not ok.all():
        badness = np.where(ok, -np.inf, np.nan_to_num(diff, nan=np.inf, posinf=np.inf))
        idx = np.unravel_index(int(np.argmax(badness)), a.shape) if a.ndim else ()
        av, ev = float(a64[idx]), float(e64[idx])
        raise AssertionError(
            f"{tag}{int((~ok).sum())} of {a.size} elements differ beyond tolerance "
            f"(rtol={rtol:g}, atol={atol:g}); worst at index {tuple(int(i) for i in idx)}: "
            f"actual={av!r}, expected={ev!r}, |diff|={abs(av - ev)!r}, "
            f"allowed={atol + rtol * abs(ev)!r}"
        )
    finite = np.isfinite(diff)
    return float(diff[finite].max()) if finite.any() else 0.0


# --------------------------------------------------------------------------- system info


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cpuinfo() -> list[dict[str, str]]:
    procs = []
    for block in _read("/proc/cpuinfo").split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, val = line.partition(":")
            if sep:
                entry[key.strip()] = val.strip()
        if entry:
            procs.append(entry)
    return procs


def _memory_total_gb() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return float("nan")


_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "OPENBLAS_CORETYPE",
    "MKL_NUM_THREADS",
)


def collect_system_info(executor: Any = None) -> dict[str, Any]:
    """Facts needed to reproduce a run.  ``executor`` (a hologram.Executor) supplies the
    Atlas thread count and SIMD level; without one the defaults of ``hg.Executor()`` are used."""
    procs = _cpuinfo()
    logical = os.cpu_count() or len(procs) or 1
    cores = {(p.get("physical id", "0"), p["core id"]) for p in procs if "core id" in p}
    if not cores and procs and "cpu cores" in procs[0]:
        sockets = {p.get("physical id", "0") for p in procs}
        physical = int(procs[0]["cpu cores"]) * len(sockets)
    else:
        physical = len(cores) or logical
    mhz = [float(p["cpu MHz"]) for p in procs if "cpu MHz" in p]

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_model": next((p["model name"] for p in procs if "model name" in p), None),
        "cpu_cores_physical": physical,
        "cpu_cores_logical": logical,
        "cpu_freq_mhz": statistics.fmean(mhz) if mhz else float("nan"),
        "memory_total_gb": _memory_total_gb(),
        "numpy_version": np.__version__,
        "torch_version": None,
        "torch_num_threads": None,
        "hologram_version": None,
        "hologram_threads": None,
        "hologram_isa": None,
        "timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        # thread settings of the other frameworks' runtimes, as this process saw them
        "env_threading": " ".join(f"{k}={os.environ[k]}" for k in _THREAD_ENV if k in os.environ)
        or "-",
    }
    try:
        import torch

        info["torch_version"] = torch.__version__
        info["torch_num_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import hologram as hg

        cpu = hg.cpu_info()
        ex = executor if executor is not None else hg.Executor()
        info.update(
            hologram_version=hg.__version__, hologram_threads=ex.threads, hologram_isa=ex.isa
        )
        info["cpu_model"] = info["cpu_model"] or cpu.get("brand")
    except ImportError:
        pass
    info["cpu_model"] = info["cpu_model"] or platform.processor() or "unknown"
    return info


# --------------------------------------------------------------------------- tables


def _time_col(df, fw: str) -> str | None:
    """The time column for framework prefix ``fw``: median if measured, else mean."""
    for col in (f"{fw}_median_ms", f"{fw}_mean_ms"):
        if col in df.columns and df[col].notna().any():
            return col
    return None


def create_summary_table(df):
    """One row per operation: sizes, median/min/max speedup (PyTorch time / Atlas time),
    how many sizes Atlas wins, and the winner by median speedup
    ('Atlas' > 1.05x, 'PyTorch' < 1/1.05x, else 'tie')."""
    import pandas as pd

    rows = []
    for op, g in df.groupby("operation", sort=False):
        s = g["speedup"].astype(float)
        med = float(s.median())
        rows.append(
            {
                "operation": op,
                "sizes": ", ".join(_size_labels(g)),
                "median_speedup": med,
                "min_speedup": float(s.min()),
                "max_speedup": float(s.max()),
                "atlas_wins": f"{int((s > 1).sum())}/{len(s)}",
                "winner": "Atlas" if med > TIE_BAND else "PyTorch" if med < 1 / TIE_BAND else "tie",
            }
        )
    return pd.DataFrame(rows)


def _plain(v: Any) -> Any:
    """JSON/CSV-friendly scalar: NumPy scalars -> Python, non-finite floats -> None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (tuple, list, np.ndarray)):
        return [_plain(x) for x in v]
    return v


def save_results(records: Any, path: str, format: str = "json") -> str:
    """Write a list of flat dicts (or a DataFrame) as JSON (a list of objects) or CSV.
    Missing/NaN values become null (JSON) or an empty field (CSV).  Returns ``path``."""
    if hasattr(records, "to_dict"):
        records = records.to_dict("records")
    records = [{k: _plain(v) for k, v in r.items()} for r in records]
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    if format == "json":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=2, allow_nan=False)
            f.write("\n")
    elif format == "csv":
        fields = list(dict.fromkeys(k for r in records for k in r))
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(records)
    else:
        raise ValueError(f"save_results: unknown format {format!r} (use 'json' or 'csv')")
    return path


def _parse(s: str) -> Any:
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(s, s)


def load_results(path: str) -> list[dict[str, Any]]:
    """Read back what :func:`save_results` wrote (format from the file extension).
    Missing values come back as None in both formats."""
    with open(path, encoding="utf-8", newline="") as f:
        if os.fspath(path).endswith(".csv"):
            return [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(f)]
        return json.load(f)


# --------------------------------------------------------------------------- plots


def _ax(ax, figsize=(8, 5)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _size_labels(g) -> list[str]:
    shapes = g["shape"] if "shape" in g.columns else [None] * len(g)
    return [
        sh if isinstance(sh, str) else f"{int(n):,}"
        for sh, n in zip(shapes, g["size"], strict=True)
    ]


def plot_comparison(df, op: str, ax=None):
    """Grouped bars: time per call of every measured framework at each size of ``op`` (log y)."""
    ax = _ax(ax)
    g = df[df["operation"] == op].sort_values("size")
    cols = [(fw, _time_col(g, fw)) for fw in FRAMEWORKS]
    cols = [(fw, c) for fw, c in cols if c]
    x = np.arange(len(g))
    width = 0.8 / max(len(cols), 1)
    for i, (fw, col) in enumerate(cols):
        std = g.get(f"{fw}_std_ms")
        ax.bar(
            x + (i - (len(cols) - 1) / 2) * width,
            g[col],
            width,
            label=FRAMEWORKS[fw],
            color=COLORS[fw],
            yerr=std if std is not None and col.endswith("mean_ms") else None,
            capsize=3,
        )
    ax.set_xticks(x, _size_labels(g), rotation=30)
    ax.set_yscale("log")
    ax.set_xlabel("size")
    ax.set_ylabel("time per call (ms)")
    ax.set_title(f"{op}: time per call (lower is better)")
    ax.legend()
    return ax


def plot_scaling(df, op: str, ax=None):
    """Log-log time per call against problem size for every framework measured on ``op``."""
    ax = _ax(ax)
    g = df[df["operation"] == op].sort_values("size")
    for fw, label in FRAMEWORKS.items():
        col = _time_col(g, fw)
        if col:
            ax.plot(g["size"], g[col], marker="o", label=label, color=COLORS[fw])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements in first input")
    ax.set_ylabel("time per call (ms)")
    ax.set_title(f"{op}: scaling")
    ax.legend()
    return ax


def _row_labels(df) -> list[str]:
    return [f"{o} {s}" for o, s in zip(df["operation"], _size_labels(df), strict=True)]


def plot_speedup(df, ax=None):
    """Horizontal bars of PyTorch time / Atlas time for every row (log x; right of 1 = Atlas faster)."""
    ax = _ax(ax, (10, max(4, 0.22 * len(df))))
    s = df["speedup"].astype(float).to_numpy()
    y = np.arange(len(df))
    ax.barh(y, s, color=np.where(s > 1, "tab:green", "tab:red"))
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(y, _row_labels(df), fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("speedup = PyTorch time / Atlas time  (>1: Atlas faster)")
    ax.set_title("Atlas speedup over PyTorch")
    return ax


def plot_heatmap(df, metric: str = "speedup", ax=None):
    """Operation x size heatmap of ``metric``; the colour is log2 so that 0.5x and 2x are symmetric."""
    import seaborn as sns

    ax = _ax(ax, (12, 8))
    table = df.pivot_table(
        index="operation", columns="size", values=metric, aggfunc="median", sort=False
    )
    table = table.reindex(columns=sorted(table.columns))
    ratio = metric.startswith("speedup")
    sns.heatmap(
        np.log2(table.astype(float)) if ratio else table,
        annot=table,
        fmt=".2g",
        cmap="RdYlGn" if ratio else "viridis",
        center=0 if ratio else None,
        cbar_kws={"label": f"log2 {metric}" if ratio else metric},
        xticklabels=[f"{int(c):.0e}" for c in table.columns],
        ax=ax,
    )
    ax.set_xlabel("elements in first input")
    ax.set_title(f"{metric} by operation and size")
    return ax
