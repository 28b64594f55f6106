"""Timing: warm-up, calibrated inner loops, alternating samples, statistics.

A single call of a small op is far shorter than what one ``perf_counter`` pair resolves.
Each timed *sample* therefore runs the op in an inner loop, calibrated after warm-up so
that one sample lasts at least ``min_sample_s``, and reports the time *per call*.
All times are in milliseconds.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MIN_SAMPLE_S = 0.002  # one timed sample lasts at least this long
MAX_INNER_LOOPS = 100_000  # ... unless the op is so fast that this many calls is reached first


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
        half = t975(n - 1) * std / math.sqrt(n) if n > 1 else 0.0
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


# Two-sided 95% Student-t quantiles for 1, 2, ... degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """Two-sided 95% Student-t quantile (df >= 1); beyond the table, a close fit to it."""
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def _run(fn: Callable[[], Any], loops: int) -> tuple[float, Any]:
    """Seconds for ``loops`` calls of fn, and the last output."""
    out = None
    t0 = time.perf_counter()
    for _ in range(loops):
        out = fn()
    return time.perf_counter() - t0, out


def calibrate(fn: Callable[[], Any], min_sample_s: float, max_loops: int) -> int:
    """Smallest inner-loop count (<= max_loops) whose run lasts >= min_sample_s."""
    loops = 1
    while True:
        elapsed, _ = _run(fn, loops)
        if elapsed >= min_sample_s or loops >= max_loops:
            return loops
        want = loops * min_sample_s / max(elapsed, 1e-9) * 1.2
        loops = int(min(max_loops, max(2 * loops, math.ceil(want))))


def settle(seconds: float) -> None:
    """Wait ``seconds`` with this thread busy.  A sleep would let the (virtual) CPUs go
    idle, and the first milliseconds after an idle period run slower on a VM; a busy wait
    keeps them awake while other frameworks' spinning worker threads give up their cores."""
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
    ``settle_s`` > 0 pauses before every sample (see :func:`settle`), so worker threads
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
        loops[k] = calibrate(fns[k], min_sample_s, max_inner_loops)
    samples: dict[str, list[float]] = {k: [] for k in keys}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(timing_runs):
            for j in range(len(keys)):
                k = keys[(i + j) % len(keys)]
                if settle_s:
                    settle(settle_s)
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

    A shared machine drifts between speed levels over seconds, which moves every
    framework's samples together.  The ratio of two medians can then compare one
    framework's fast level with the other's slow level; the ratio within a round cannot,
    so its median is the drift-robust companion of ``median(baseline) / median(candidate)``.
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
