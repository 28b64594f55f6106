"""The machine's limits, measured at the start of a run, and each row's place under them.

:func:`measure` times, from one core and from all cores:

- the FMA peak (GFLOP/s): ``Executor.fma_peak``, the C core's register-only probe (twelve
  independent multiply-add chains of the kernel table's vectors, no memory access in the
  loop), at the best ISA level the CPU runs, and at every level it runs
  (``fma_peak_by_isa``).  At x86-64's SSE2 baseline a multiply-add is a multiply and an add,
  as in that level's GEMM;
- the GEMM achieved (GFLOP/s): the best rate of ``hg.ops.gemm`` on square float32 matrices,
  the packed kernel on L1/L2-resident tiles, for scale against the peak;
- the read bandwidth (GB/s): the faster of ``hg.ops.sum`` and ``hg.ops.max`` over a buffer
  several times the size of the last-level cache;
- the copy bandwidth (GB/s): the faster of ``Buffer.copy`` and ``hg.ops.neg`` (one read,
  one write per element; its large outputs take streaming stores) of such a buffer, bytes
  read plus bytes written.

Each limit is the best of a few calls (a limit is what the machine reaches, not a typical
call).  :func:`row_metrics` turns a row's nominal work (flops, bytes read and written) and
its Atlas median into GFLOP/s, GB/s and their percentages of the limits of the row's
thread count (a GEMM row's ``pct_peak`` is against the FMA peak).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

#: the GEMM of the peak: m = n = k
PEAK_GEMM_N = 1024
#: bytes of the buffer each bandwidth probe streams (full run, quick run); both are several
#: times a 32 MiB L3, so the probes measure memory, not cache
READ_BYTES = {False: 256 << 20, True: 128 << 20}
COPY_BYTES = {False: 128 << 20, True: 96 << 20}
REPEATS = {False: 8, True: 3}

#: seconds each FMA probe runs (full run, quick run)
FMA_SECONDS = {False: 0.1, True: 0.05}

PEAK_METHOD = (
    "register-only FMA probe (Executor.fma_peak: 12 independent multiply-add chains at the "
    "executor's ISA level, the best of 5 runs)"
)
GEMM_METHOD = f"best rate of hg.ops.gemm at m = n = k = {PEAK_GEMM_N}"

#: a row whose writes are below this share of its bytes is measured against the read
#: bandwidth, every other row against the copy bandwidth
READ_ONLY_SHARE = 0.1

#: limits keys, with their units, in print order
KEYS = {
    "peak_gflops_1": "GFLOP/s",
    "peak_gflops_all": "GFLOP/s",
    "gemm_gflops_1": "GFLOP/s",
    "gemm_gflops_all": "GFLOP/s",
    "read_gbs_1": "GB/s",
    "read_gbs_all": "GB/s",
    "copy_gbs_1": "GB/s",
    "copy_gbs_all": "GB/s",
}


#: the limits as printed and tabulated: (label, key without its thread tag, unit)
LIMIT_ROWS = (
    ("FMA peak, register-only probe", "peak_gflops", "GFLOP/s"),
    ("GEMM achieved", "gemm_gflops", "GFLOP/s"),
    ("read bandwidth", "read_gbs", "GB/s"),
    ("copy bandwidth", "copy_gbs", "GB/s"),
)


def _best_seconds(fn, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``fn``, after one untimed call."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_peak(executor, n: int = PEAK_GEMM_N, repeats: int = 3) -> float:
    """GFLOP/s of the best of ``repeats`` calls of ``hg.ops.gemm`` at m = n = k = ``n``."""
    from hologram import ops

    rng = np.random.default_rng(0)
    a = executor.from_numpy(rng.standard_normal((n, n), dtype=np.float32))
    b = executor.from_numpy(rng.standard_normal((n, n), dtype=np.float32))
    s = _best_seconds(lambda: ops.gemm(a, b, m=n, n=n, k=n), repeats)
    return 2.0 * n**3 / s / 1e9


def _filled(executor, nbytes: int):
    """A float32 buffer of ``nbytes`` with every page written (a never-written page maps
    the shared zero page, which reads from cache)."""
    return executor.from_numpy(np.ones(nbytes // 4, dtype=np.float32))


def _best_rate(moved: int, fns, repeats: int) -> float:
    """GB/s of the fastest of ``fns``, each moving ``moved`` bytes per call."""
    return moved / min(_best_seconds(fn, repeats) for fn in fns) / 1e9


def read_bandwidth(executor, nbytes: int, repeats: int = 3) -> float:
    """GB/s of the faster of ``hg.ops.sum`` and ``hg.ops.max`` over a float32 buffer of
    ``nbytes``."""
    from hologram import ops

    buf = _filled(executor, nbytes)
    return _best_rate(buf.nbytes, (lambda: ops.sum(buf), lambda: ops.max(buf)), repeats)


def copy_bandwidth(executor, nbytes: int, repeats: int = 3) -> float:
    """GB/s (read plus written) of the faster of ``Buffer.copy`` and ``hg.ops.neg`` of a
    float32 buffer of ``nbytes``."""
    from hologram import ops

    buf = _filled(executor, nbytes)
    return _best_rate(2 * buf.nbytes, (buf.copy, lambda: ops.neg(buf)), repeats)


def fma_peaks(quick: bool = False, all_threads: int = 0) -> dict[str, list[float]]:
    """The FMA probe at every ISA level this CPU runs: {level: [one thread, all threads]}."""
    import hologram as hg

    out = {}
    for isa in hg.cpu_info()["isa_supported"]:
        ex = hg.Executor(threads=all_threads, isa=isa)
        sec = FMA_SECONDS[quick]
        out[isa] = [ex.fma_peak(threads=1, seconds=sec), ex.fma_peak(seconds=sec)]
    return out


def measure(quick: bool = False, all_threads: int = 0) -> dict[str, Any]:
    """The limits from one core and from ``all_threads`` (0: every core), as a flat dict of
    :data:`KEYS` plus how they were measured and ``fma_peak_by_isa``."""
    import hologram as hg

    out: dict[str, Any] = {}
    reps = REPEATS[quick]
    for tag, threads in (("1", 1), ("all", all_threads)):
        ex = hg.Executor(threads=threads)
        out[f"peak_gflops_{tag}"] = ex.fma_peak(seconds=FMA_SECONDS[quick])
        out[f"gemm_gflops_{tag}"] = gemm_peak(ex, repeats=reps)
        out[f"read_gbs_{tag}"] = read_bandwidth(ex, READ_BYTES[quick], reps)
        out[f"copy_gbs_{tag}"] = copy_bandwidth(ex, COPY_BYTES[quick], reps)
        if tag == "all":
            out["all_threads"] = ex.threads
            out["isa"] = ex.isa
        ex.empty_cache()
    out["fma_peak_by_isa"] = fma_peaks(quick, all_threads)
    out["peak_method"] = PEAK_METHOD
    out["gemm_method"] = GEMM_METHOD
    out["read_method"] = (
        f"the faster of hg.ops.sum and hg.ops.max over {READ_BYTES[quick] >> 20} MiB"
    )
    out["copy_method"] = (
        f"the faster of Buffer.copy and hg.ops.neg of {COPY_BYTES[quick] >> 20} MiB "
        "(read + written)"
    )
    return out


def format_limits(limits: dict[str, Any]) -> list[str]:
    """Lines that print the limits."""
    n = limits.get("all_threads", "all")
    lines = [f"Machine limits ({limits.get('isa', '?')}; 1 thread / {n} threads):"]
    for what, key, unit in LIMIT_ROWS:
        if f"{key}_1" in limits:
            lines.append(
                f"  {what:30} {limits[f'{key}_1']:8.1f} / {limits[f'{key}_all']:8.1f} {unit}"
            )
    for isa, (one, alls) in limits.get("fma_peak_by_isa", {}).items():
        lines.append(f"  {'FMA peak at ' + isa:30} {one:8.1f} / {alls:8.1f} GFLOP/s")
    lines += [f"  peak: {limits['peak_method']}"]
    return lines


def limits_for(threads: int, limits: dict[str, Any] | None) -> dict[str, float] | None:
    """The peak and bandwidths that apply to a row run on ``threads`` threads."""
    if not limits:
        return None
    tag = "1" if threads == 1 else "all"
    return {k: float(limits[f"{k}_{tag}"]) for k in ("peak_gflops", "read_gbs", "copy_gbs")}


def row_metrics(
    flops: float,
    nbytes: float,
    written: float,
    atlas_ms: float,
    compute_bound: bool,
    threads: int,
    limits: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The roofline columns of a row: ``flops`` nominal floating-point operations (NaN
    where the op has no nominal count) and ``nbytes`` bytes read plus written per call, of
    which ``written`` written, at ``atlas_ms`` per call.  ``pct_peak`` only for a
    ``compute_bound`` (GEMM) row; the bandwidth is the read bandwidth for a row that
    mostly reads, else the copy bandwidth."""
    s = atlas_ms / 1e3 if atlas_ms and math.isfinite(atlas_ms) else math.nan
    gflops = flops / s / 1e9 if math.isfinite(flops) else math.nan
    gbs = nbytes / s / 1e9
    lim = limits_for(threads, limits)
    if lim is None:
        pct_peak = pct_bw = math.nan
    else:
        pct_peak = 100.0 * gflops / lim["peak_gflops"] if compute_bound else math.nan
        bw = lim["read_gbs"] if written < READ_ONLY_SHARE * nbytes else lim["copy_gbs"]
        pct_bw = 100.0 * gbs / bw
    return {
        "flops": float(flops),
        "bytes": int(nbytes),
        "bytes_written": int(written),
        "intensity": flops / nbytes if nbytes else math.nan,
        "gflops": gflops,
        "gbs": gbs,
        "pct_peak": pct_peak,
        "pct_bandwidth": pct_bw,
    }


def with_percentages(df, limits: dict[str, Any]):
    """A copy of a results DataFrame with ``pct_peak`` and ``pct_bandwidth`` recomputed
    against ``limits`` (for rows run without them, e.g. by the notebook)."""
    out = df.copy()
    rows = [
        row_metrics(
            r["flops"],
            r["bytes"],
            r["bytes_written"],
            r["atlas_median_ms"],
            r["group"] == "linalg",
            int(r["threads"]),
            limits,
        )
        for _, r in out.iterrows()
    ]
    out["pct_peak"] = [r["pct_peak"] for r in rows]
    out["pct_bandwidth"] = [r["pct_bandwidth"] for r in rows]
    return out
