"""The roofline of the benchmark: the machine's limits, each row's work (flops, bytes) and
rates, their percentages of the limits, the plot and the report.  No assertion on a timing
beyond its sign and finiteness (the machine is shared)."""

import json
import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pandas")

import hologram as hg  # noqa: E402
from hologram.bench import plots, report, roofline, schema, suite  # noqa: E402

F = 4  # bytes of a float32

#: limits with round numbers, for hand-computed percentages
LIMITS = {
    "peak_gflops_1": 100.0,
    "peak_gflops_all": 180.0,
    "gemm_gflops_1": 90.0,
    "gemm_gflops_all": 170.0,
    "read_gbs_1": 20.0,
    "read_gbs_all": 30.0,
    "copy_gbs_1": 16.0,
    "copy_gbs_all": 24.0,
    "all_threads": 2,
    "isa": "avx512",
    "fma_peak_by_isa": {"baseline": [50.0, 95.0], "avx512": [100.0, 180.0]},
    "peak_method": roofline.PEAK_METHOD,
}


def _work(name, size):
    """row_work of (op, size) on the op's own inputs, the result's bytes from PyTorch."""
    import torch

    op = suite.ops()[name]
    arrays = op.inputs(np.random.default_rng(0), size)
    res = op.torch(*[torch.from_numpy(a) for a in arrays])
    return arrays, suite.row_work(op, arrays, res.numel() * res.element_size())


@pytest.mark.parametrize(
    "name, size, shapes, mnk",
    [
        ("gemm", 64, ((64, 64), (64, 64)), (1, 64, 64, 64)),
        ("gemv", 1000, ((1, 1000), (1000, 1000)), (1, 1, 1000, 1000)),
        ("matvec", 256 * 256, ((256, 256), (256,)), (1, 256, 256, 1)),
        ("gemm_small_m", 16 * 1024, ((16, 1024), (1024, 1024)), (1, 16, 1024, 1024)),
        ("gemm_tall_skinny", 1000 * 64, ((1000, 64), (64, 64)), (1, 1000, 64, 64)),
        ("linear", 32 * 256, ((32, 256), (512, 256)), (1, 32, 256, 512)),
        ("matmul_batched", 8 * 32 * 32, ((8, 32, 32), (8, 32, 32)), (8, 32, 32, 32)),
    ],
)
def test_gemm_rows_work(name, size, shapes, mnk):
    """GEMM rows: the operands' shapes, flops = 2 b m n k, bytes = A + B + C once each."""
    arrays, (flops, nbytes, written) = _work(name, size)
    assert tuple(a.shape for a in arrays) == shapes
    assert arrays[0].size == (size if name != "gemm" else size * size)  # square: size is n
    b, m, k, n = mnk
    assert flops == 2.0 * b * m * n * k
    assert written == b * m * n * F
    assert nbytes == (sum(math.prod(s) for s in shapes) + b * m * n) * F


@pytest.mark.parametrize(
    "name, size, flops, nbytes, written",
    [
        ("vector_add", 1000, 1000, 3 * 1000 * F, 1000 * F),
        ("axpb_operator", 1000, 2000, 2 * 1000 * F, 1000 * F),
        ("sum", 1000, 1000, 1000 * F + F, F),
        ("mse_loss", 1000, 3000, 2 * 1000 * F + F, F),
        ("softmax", 64, 5 * 64 * 1000, 2 * 64 * 1000 * F, 64 * 1000 * F),
        ("cross_entropy", 64, 4 * 64 * 1000, 64 * 1000 * F + 64 * 8 + F, F),
    ],
)
def test_memory_rows_work(name, size, flops, nbytes, written):
    """Memory-bound rows: nominal flops per element, every input read once (int64 targets
    at 8 bytes), the result written once."""
    assert _work(name, size)[1] == (flops, nbytes, written)


def test_every_row_has_a_flop_count():
    """Every row of the table has flops (a GEMM function or a nominal count)."""
    missing = [op.name for op in suite.ops().values() if op.flops is None]
    assert [n for n in missing if n not in suite.NOMINAL_FLOPS] == []


def test_row_metrics_formulas():
    """GFLOP/s, GB/s, intensity and the percentages against hand-computed values; the
    read roof for a row that mostly reads, the copy roof otherwise, the all-core roofs for
    two threads, NaN without limits."""
    # 2e9 flops, 1e9 bytes of which 1e6 written, 20 ms, one thread: a GEMM row
    m = roofline.row_metrics(2e9, 1e9, 1e6, 20.0, True, 1, LIMITS)
    assert m["gflops"] == pytest.approx(100.0)
    assert m["gbs"] == pytest.approx(50.0)
    assert m["intensity"] == pytest.approx(2.0)
    assert m["pct_peak"] == pytest.approx(100.0)
    assert m["pct_bandwidth"] == pytest.approx(100.0 * 50.0 / 20.0)  # read roof
    assert (m["bytes"], m["bytes_written"]) == (10**9, 10**6)
    # an elementwise row (a third written), two threads: copy roof of all cores, no peak %
    m = roofline.row_metrics(1e6, 12e6, 4e6, 1.0, False, 2, LIMITS)
    assert m["gbs"] == pytest.approx(12.0)
    assert m["gflops"] == pytest.approx(1.0)
    assert m["pct_bandwidth"] == pytest.approx(50.0)
    assert math.isnan(m["pct_peak"])
    m = roofline.row_metrics(math.nan, 8e6, 4, 1.0, False, 1, None)
    assert math.isnan(m["gflops"]) and math.isnan(m["intensity"])
    assert math.isnan(m["pct_bandwidth"]) and m["gbs"] == pytest.approx(8.0)
    # an untimed row (its Atlas call raised) has no rates
    m = roofline.row_metrics(2e9, 1e9, 1e6, math.nan, True, 1, LIMITS)
    assert all(math.isnan(m[k]) for k in ("gflops", "gbs", "pct_peak", "pct_bandwidth"))


@pytest.mark.parametrize("isa", hg.cpu_info()["isa_supported"])
def test_fma_peak_probe(isa):
    """Executor.fma_peak: a positive, finite rate at every level the CPU runs, on one
    thread and on all; a duration out of (0, 60] seconds is refused."""
    ex = hg.Executor(threads=2, isa=isa)
    for threads in (1, 0, 5):
        r = ex.fma_peak(threads=threads, seconds=0.01)
        assert isinstance(r, float) and math.isfinite(r) and r > 0, (isa, threads)
    for bad in (0.0, -1.0, 61.0, math.nan):
        with pytest.raises(ValueError, match="seconds"):
            ex.fma_peak(seconds=bad)
    with pytest.raises(ValueError, match="threads"):
        ex.fma_peak(threads=-1)
    with pytest.raises(TypeError):
        ex.fma_peak(1)


@pytest.fixture(scope="module")
def measured_limits():
    return roofline.measure(quick=True)


def test_measure_returns_sane_limits(measured_limits):
    """Every limit positive and finite, the all-core figures from every core.  (How the
    limits compare with each other is a property of the machine and the build, not of the
    code: the sanitized build's GEMM runs below its own memory bandwidth.)"""
    import os

    lim = measured_limits
    for key in roofline.KEYS:
        assert math.isfinite(lim[key]) and lim[key] > 0, key
    assert lim["all_threads"] == os.cpu_count()
    assert "register-only" in lim["peak_method"]
    assert set(lim["fma_peak_by_isa"]) == set(hg.cpu_info()["isa_supported"])
    for isa, rates in lim["fma_peak_by_isa"].items():
        assert len(rates) == 2 and all(math.isfinite(r) and r > 0 for r in rates), isa
    assert lim["fma_peak_by_isa"][lim["isa"]][0] > 0
    text = "\n".join(roofline.format_limits(lim))
    assert "register-only" in text and "GEMM achieved" in text and "read bandwidth" in text
    assert f"FMA peak at {lim['isa']}" in text


def _records(limits):
    recs = suite.run_suite(
        ["gemv", "vector_add"], quick=True, limits=limits, warmup_runs=1, timing_runs=2
    )
    assert all(r["correct"] for r in recs)
    return recs


def test_run_op_roofline_columns():
    """The suite's records carry the columns, computed from their own bytes, flops and
    Atlas median and the limits of their thread count."""
    for r in _records(LIMITS):
        assert tuple(r) == schema.NAMES
        s = r["atlas_median_ms"] / 1e3
        assert r["gbs"] == pytest.approx(r["bytes"] / s / 1e9)
        assert r["gflops"] == pytest.approx(r["flops"] / s / 1e9)
        if r["operation"] == "gemv":
            assert r["pct_peak"] == pytest.approx(r["gflops"])  # peak 100 GFLOP/s
            assert r["pct_bandwidth"] == pytest.approx(100 * r["gbs"] / 20.0)  # read roof
        else:
            assert math.isnan(r["pct_peak"])
            assert r["pct_bandwidth"] == pytest.approx(100 * r["gbs"] / 16.0)  # copy roof


def test_roofline_plot_renders(tmp_path):
    """One point per row with flops, the peak and both bandwidth roofs drawn, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(_records(LIMITS))
    ax = plots.plot_roofline(df, LIMITS)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(df)
    assert len(ax.lines) == 3
    assert max(ax.lines[0].get_ydata()) == pytest.approx(100.0)  # the peak
    x, y = ax.lines[1].get_data()  # read roof: 20 GB/s up to the peak
    assert y[0] == pytest.approx(20.0 * x[0]) and max(y) == pytest.approx(100.0)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    ax.figure.savefig(tmp_path / "r.png")
    plt.close(ax.figure)
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_report_shows_limits_and_columns(tmp_path):
    """report.md: the limits table and the new columns in its row tables; limits.json holds
    the limits; the percentages recomputed from a frame match the run's."""
    pytest.importorskip("seaborn")
    import pandas as pd

    recs = _records(LIMITS)
    p = report.write_report(recs, str(tmp_path), {"cpu": "x"}, {"quick": True}, LIMITS)
    text = open(p["md"]).read()
    assert "## Machine limits" in text
    assert "| FMA peak, register-only probe (GFLOP/s) | 100.0 | 180.0 |" in text
    assert "| GEMM achieved (GFLOP/s) | 90.0 | 170.0 |" in text
    assert "| FMA peak at baseline (GFLOP/s) | 50.0 | 95.0 |" in text
    assert "| read bandwidth (GB/s) | 20.0 | 30.0 |" in text
    head = "| operation | shape | pytorch_median_ms |"
    rows_head = next(line for line in text.splitlines() if line.startswith(head))
    for col in ("gflops", "pct_peak", "gbs", "pct_bandwidth"):
        assert f" {col} |" in rows_head
        assert f"| {col} |" in text  # the column table
    assert "![roofline](roofline.png)" in text
    assert json.load(open(p["limits"]))["limits"] == LIMITS
    df = pd.DataFrame(recs)
    again = roofline.with_percentages(df.assign(pct_peak=np.nan, pct_bandwidth=np.nan), LIMITS)
    np.testing.assert_allclose(again["pct_bandwidth"], df["pct_bandwidth"])
    np.testing.assert_allclose(again["pct_peak"], df["pct_peak"])
