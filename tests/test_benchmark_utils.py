"""hologram.bench: timing statistics, correctness checks, system info, the results schema,
persistence, the report's tables and plots, and the benchmark_utils facade."""

import importlib.util
import math
import os
import re
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import hologram as hg
from hologram.bench import benchmark_utils as bu
from hologram.bench import checks, io, plots, report, schema, sysinfo, timing

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# The public name -> the module of its concern.
FACADE = {
    "BenchmarkResult": timing,
    "benchmark_operation": timing,
    "compare_frameworks": timing,
    "paired_speedup": timing,
    "verify_correctness": checks,
    "to_numpy": checks,
    "collect_system_info": sysinfo,
    "plot_comparison": plots,
    "plot_scaling": plots,
    "plot_speedup": plots,
    "plot_heatmap": plots,
    "create_summary_table": report,
    "save_results": io,
    "load_results": io,
    "FRAMEWORKS": schema,
}


def test_benchmark_utils_reexports_each_name_from_its_module():
    assert sorted(bu.__all__) == sorted(FACADE)
    for name, module in FACADE.items():
        assert getattr(bu, name) is getattr(module, name), name
    # notebooks/benchmark_utils.py, which the notebook imports, re-exports the same objects
    spec = importlib.util.spec_from_file_location("nb_bu", NOTEBOOKS / "benchmark_utils.py")
    nb_bu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nb_bu)
    assert sorted(nb_bu.__all__) == sorted(FACADE)
    for name in FACADE:
        assert getattr(nb_bu, name) is getattr(bu, name), name


def test_benchmark_operation_stats_match_samples():
    calls = []
    res = bu.benchmark_operation(
        lambda: calls.append(1) or len(calls),
        warmup_runs=3,
        timing_runs=7,
        name="count",
        min_sample_s=0.001,
    )
    s = res.samples_ms
    assert res.name == "count" and len(s) == 7 and res.inner_loops > 1
    assert res.mean_ms == pytest.approx(statistics.fmean(s))
    assert res.median_ms == pytest.approx(statistics.median(s))
    assert res.std_ms == pytest.approx(statistics.stdev(s))
    assert (res.min_ms, res.max_ms) == (min(s), max(s))
    lo, hi = res.ci95_ms
    half = 2.447 * res.std_ms / math.sqrt(7)  # t(0.975, df=6)
    assert lo == pytest.approx(res.mean_ms - half) and hi == pytest.approx(res.mean_ms + half)
    assert res.output == len(calls)  # output is the last call's result
    assert len(calls) >= 3 + 7 * res.inner_loops


def test_inner_loop_calibration_reports_per_call_time():
    # A ~50 us op: one sample of >= 2 ms must loop it ~48x and still report ~50 us per call.
    def op():
        t = time.perf_counter() + 50e-6
        while time.perf_counter() < t:
            pass

    res = bu.benchmark_operation(op, warmup_runs=1, timing_runs=5, min_sample_s=0.002)
    # ~48 (= 1.2 x 2 ms / 50 us).  A preempted calibration run makes the op look slower and the
    # next step can then double a count just short of the sample (e.g. 35 -> 70): the bound is
    # that doubling of 48, since a call never takes less than 50 us.
    assert 5 <= res.inner_loops <= 96
    # per call: never under 50 us; the fastest sample near it (the median may
    # carry preemptions on a loaded machine)
    assert 0.045 <= res.min_ms <= res.median_ms and res.min_ms <= 0.5
    # a slow op is not looped
    slow = bu.benchmark_operation(lambda: time.sleep(0.003), warmup_runs=1, timing_runs=2)
    assert slow.inner_loops == 1 and slow.min_ms >= 3.0


def test_compare_frameworks_alternates_and_keeps_names():
    order = []
    fns = {k: (lambda k=k: order.append(k) or k) for k in ("a", "b", "c")}
    out = bu.compare_frameworks(fns, warmup_runs=0, timing_runs=3, min_sample_s=0, name="op")
    assert list(out) == ["a", "b", "c"]
    assert [r.name for r in out.values()] == ["op_a", "op_b", "op_c"]
    assert all(r.inner_loops == 1 and r.output == k for k, r in out.items())
    # after one calibration call each, samples rotate: abc, bca, cab
    assert "".join(order) == "abc" + "abcbcacab"


def test_compare_frameworks_settle_pauses_before_every_sample(monkeypatch):
    events = []
    monkeypatch.setattr(timing, "settle", lambda s: events.append(("sleep", s)))
    fns = {k: (lambda k=k: events.append(("call", k))) for k in ("a", "b")}
    bu.compare_frameworks(fns, warmup_runs=0, timing_runs=2, min_sample_s=0, settle_s=0.03)
    timed = events[2:]  # after one calibration call each
    assert timed == [
        ("sleep", 0.03),
        ("call", "a"),
        ("sleep", 0.03),
        ("call", "b"),
        ("sleep", 0.03),
        ("call", "b"),
        ("sleep", 0.03),
        ("call", "a"),
    ]
    with pytest.raises(ValueError, match="settle_s"):
        bu.compare_frameworks(fns, settle_s=-1)
    with pytest.raises(ValueError, match="settle_s"):
        bu.compare_frameworks(fns, settle_s=float("nan"))


def test_settle_waits_busy(monkeypatch):
    t0 = time.perf_counter()
    timing.settle(0.02)
    assert time.perf_counter() - t0 >= 0.02

    class Clock:
        """A clock that advances 1 ms per reading; sleeping is an error."""

        readings = 0

        def perf_counter(self):
            self.readings += 1
            return (self.readings - 1) / 1000

        def sleep(self, seconds):
            raise AssertionError("settle slept")

    clock = Clock()
    monkeypatch.setattr(timing, "time", clock)
    timing.settle(0.02)
    # one reading for the deadline, then one per poll until it reads 20 ms
    assert clock.readings == 1 + 20


def test_timing_settings_settle_only_with_threads():
    from hologram.bench import suite

    assert suite.timing_settings(False, 1) == {**suite.FULL, "settle_s": 0.0}
    assert suite.timing_settings(True, 1) == {**suite.QUICK, "settle_s": 0.0}
    assert suite.timing_settings(True, 2) == {**suite.QUICK, "settle_s": suite.SETTLE_MULTI_S}
    assert suite.timing_settings(False, 2)["settle_s"] == suite.SETTLE_MULTI_S


def test_paired_speedup_is_median_of_per_round_ratios():
    """The machine runs 3x slower in rounds 2-4 for both frameworks: the ratio of medians mixes a
    slow baseline sample with a fast candidate one, the per-round ratio does not."""
    base = bu.BenchmarkResult.from_samples("a", None, [2.0, 6.0, 6.0, 6.0, 2.0], 1)
    cand = bu.BenchmarkResult.from_samples("b", None, [1.0, 3.0, 3.0, 1.0, 1.0], 1)
    # rounds: 2/1, 6/3, 6/3, 6/1 (candidate sampled before the slowdown in round 4), 2/1
    assert bu.paired_speedup(base, cand) == 2.0
    assert base.median_ms / cand.median_ms == 6.0
    with pytest.raises(ValueError, match="same number of samples"):
        bu.paired_speedup(base, bu.BenchmarkResult.from_samples("c", None, [1.0, 1.0], 1))


@pytest.mark.parametrize("kind", ["numpy", "torch", "hologram"])
def test_verify_correctness_accepts_array_likes(kind):
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    conv = {"numpy": np.array, "torch": torch.from_numpy, "hologram": hg.Executor().from_numpy}[
        kind
    ]
    expected = x + np.float32(1e-7)
    want = float(np.max(np.abs(x.astype(np.float64) - expected.astype(np.float64))))
    assert bu.verify_correctness(conv(x), expected, rtol=1e-5, atol=1e-6) == want


def test_verify_correctness_reports_worst_element():
    expected = np.zeros((4, 5), dtype=np.float32)
    actual = expected.copy()
    actual[1, 2] = 1e-3  # small miss
    actual[3, 1] = -0.25  # the worst one
    with pytest.raises(AssertionError) as e:
        bu.verify_correctness(actual, expected, rtol=1e-5, atol=1e-6, name="planted")
    msg = str(e.value)
    assert msg.startswith("planted:") and "2 of 20" in msg
    assert "(3, 1)" in msg and "actual=-0.25" in msg and "expected=0.0" in msg
    assert "rtol=1e-05" in msg and "atol=1e-06" in msg


def test_verify_correctness_nan_and_shape_rules():
    a = np.array([1.0, np.nan, -np.inf, 3.0], dtype=np.float32)
    assert bu.verify_correctness(a, a.copy()) == 0.0  # NaN == NaN at the same position, inf == inf
    b = a.copy()
    b[1], b[0] = 2.0, np.nan
    with pytest.raises(AssertionError, match=re.escape("index (0,)")):
        bu.verify_correctness(a, b)
    with pytest.raises(AssertionError, match="shape"):
        bu.verify_correctness(np.zeros(3), np.zeros((3, 1)))
    assert bu.verify_correctness(np.float32(2.0), torch.tensor(2.0)) == 0.0  # 0-d


RECORDS = [
    {
        "operation": "exp",
        "size": 1000,
        "shape": "1,000",
        "pytorch_mean_ms": 0.01,
        "atlas_mean_ms": 0.005,
        "speedup": 2.0,
        "pytorch_out_median_ms": float("nan"),
        "correct": True,
    },
    {
        "operation": "gemm",
        "size": 4096,
        "shape": "64x64",
        "pytorch_mean_ms": np.float64(0.1),
        "atlas_mean_ms": 0.4,
        "speedup": 0.25,
        "pytorch_out_median_ms": 0.09,
        "correct": False,
    },
]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_save_results_round_trip(tmp_path, fmt):
    path = bu.save_results(RECORDS, tmp_path / "sub" / f"r.{fmt}", format=fmt)
    back = bu.load_results(path)
    assert len(back) == 2 and list(back[0]) == list(RECORDS[0])
    for got, want in zip(back, RECORDS, strict=True):
        for k, v in want.items():
            if isinstance(v, float) and math.isnan(v):
                assert got[k] is None
            else:
                assert got[k] == v and type(got[k]) is type(
                    v if not isinstance(v, np.generic) else v.item()
                )
    with pytest.raises(ValueError):
        bu.save_results(RECORDS, tmp_path / "x", format="xml")


CPUINFO = """processor\t: 0
model name\t: Test CPU
physical id\t: 0
core id\t: 0
cpu MHz\t\t: 2000.000

processor\t: 1
model name\t: Test CPU
physical id\t: 0
core id\t: 0
cpu MHz\t\t: 3000.000

processor\t: 2
model name\t: Test CPU
physical id\t: 1
core id\t: 0
cpu MHz\t\t: 2500.000
"""


def test_cpuinfo_parse_and_physical_cores():
    procs = sysinfo.cpuinfo(CPUINFO)
    assert [p["processor"] for p in procs] == ["0", "1", "2"]
    assert procs[1]["cpu MHz"] == "3000.000" and procs[2]["physical id"] == "1"
    assert sysinfo.physical_cores(procs, 3) == 2  # two hyperthreads of core 0, one core on socket 1
    no_core_id = [{"cpu cores": "4", "physical id": "0"}, {"cpu cores": "4", "physical id": "1"}]
    assert sysinfo.physical_cores(no_core_id, 16) == 8
    assert sysinfo.physical_cores([], 6) == 6


def test_collect_system_info_keys():
    info = bu.collect_system_info(hg.Executor(threads=1))
    for key in (
        "platform",
        "python_version",
        "cpu_model",
        "cpu_cores_physical",
        "cpu_cores_logical",
        "cpu_freq_mhz",
        "memory_total_gb",
        "numpy_version",
        "torch_version",
        "torch_num_threads",
        "hologram_version",
        "timestamp",
        "hologram_threads",
        "hologram_isa",
    ):
        assert key in info, key
    procs = sysinfo.cpuinfo()
    assert info["cpu_model"] == next(
        (p["model name"] for p in procs if "model name" in p), hg.cpu_info().get("brand")
    )
    assert info["cpu_cores_logical"] == os.cpu_count()
    assert info["cpu_cores_physical"] == sysinfo.physical_cores(procs, os.cpu_count())
    with open("/proc/meminfo") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert info["memory_total_gb"] == kb / 1024**2
    assert info["hologram_version"] == hg.__version__ and info["hologram_threads"] == 1
    assert info["hologram_isa"] == hg.cpu_info()["isa"]
    assert info["torch_version"] == torch.__version__ and info["numpy_version"] == np.__version__
    assert info["torch_num_threads"] == torch.get_num_threads()
    f"{info['cpu_freq_mhz']:.0f} {info['memory_total_gb']:.1f}"  # the notebook's formats


def test_collect_system_info_records_thread_env(monkeypatch):
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "4")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    info = bu.collect_system_info(hg.Executor(threads=1))
    assert "OPENBLAS_THREAD_TIMEOUT=4" in info["env_threading"].split()
    assert "OMP_NUM_THREADS" not in info["env_threading"]


def test_benchmark_environ_is_a_copy_with_the_openblas_settings():
    from hologram.bench import environment

    base = {
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_L2_SIZE": "524288",
        "OPENBLAS_THREAD_TIMEOUT": "9",
        "PATH": "/usr/bin",
    }
    env = environment.benchmark_environ(base)
    assert env == {"OPENBLAS_THREAD_TIMEOUT": "4", "PATH": "/usr/bin"}
    assert base["OPENBLAS_CORETYPE"] == "Haswell"  # the argument is not modified


def test_environment_cli_execs_the_command_in_that_environment(monkeypatch, capsys):
    from hologram.bench import environment

    calls = []
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # only monkeypatch's copy; the exec is faked
    monkeypatch.setattr(environment.os, "execvpe", lambda f, a, e: calls.append((f, a, e)))
    assert environment.main(["python", "-m", "hologram.bench", "--quick"]) == 127
    ((f, a, e),) = calls
    assert f == "python" and a == ["python", "-m", "hologram.bench", "--quick"]
    assert "OPENBLAS_CORETYPE" not in e and e["OPENBLAS_THREAD_TIMEOUT"] == "4"

    def missing(f, a, e):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(environment.os, "execvpe", missing)
    assert environment.main(["/nonexistent"]) == 127
    assert "cannot run '/nonexistent'" in capsys.readouterr().err
    assert environment.main([]) == 2 and environment.main(["--quick"]) == 2
    assert "usage:" in capsys.readouterr().err


def _frame():
    pd = pytest.importorskip("pandas")
    rows = [
        ("relu", [1.5, 2.0, 1.2]),  # Atlas everywhere
        ("gemm", [0.9, 0.5, 0.2]),  # PyTorch everywhere
        ("sum", [0.5, 1.0, 3.0]),  # mixed; median 1.0 -> tie
        ("exp", [0.8, 1.06, 1.1]),
    ]  # mixed; median 1.06 -> Atlas
    return pd.DataFrame(
        [
            {
                "operation": op,
                "size": 10 ** (i + 3),
                "speedup": s,
                "pytorch_mean_ms": s,
                "pytorch_std_ms": 0.1,
                "atlas_mean_ms": 1.0,
                "atlas_std_ms": 0.1,
                "atlas_median_ms": 1.0,
                "pytorch_median_ms": s,
            }
            for op, sp in rows
            for i, s in enumerate(sp)
        ]
    )


def test_create_summary_table_winner_logic():
    t = _frame().pipe(bu.create_summary_table).set_index("operation")
    assert list(t.index) == ["relu", "gemm", "sum", "exp"]
    assert dict(t["winner"]) == {"relu": "Atlas", "gemm": "PyTorch", "sum": "tie", "exp": "Atlas"}
    assert dict(t["atlas_wins"]) == {"relu": "3/3", "gemm": "0/3", "sum": "1/3", "exp": "2/3"}
    assert t.loc["sum", "median_speedup"] == 1.0
    assert (t.loc["gemm", "min_speedup"], t.loc["gemm", "max_speedup"]) == (0.2, 0.9)
    assert t.loc["relu", "sizes"] == "1,000, 10,000, 100,000"


def test_plots_draw(tmp_path):
    pytest.importorskip("seaborn")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = _frame()
    fig, axes = plt.subplots(2, 2)
    bu.plot_comparison(df, "relu", ax=axes[0, 0])
    bu.plot_scaling(df, "gemm", ax=axes[0, 1])
    bu.plot_speedup(df, ax=axes[1, 0])
    bu.plot_heatmap(df, metric="speedup", ax=axes[1, 1])
    assert len(axes[0, 0].patches) == 2 * 3  # PyTorch + Atlas bars at 3 sizes
    assert len(axes[1, 0].patches) == len(df)
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)


def test_cli_quick_report_and_exit_status(tmp_path, monkeypatch):
    """python -m hologram.bench: files written, exit 0; a planted wrong Atlas op -> exit 1 and reported."""
    pytest.importorskip("seaborn")
    import dataclasses
    import json

    from hologram.bench import __main__ as cli
    from hologram.bench import suite

    out = tmp_path / "ok"
    assert cli.main(["--out", str(out), "--quick", "--ops", "neg,gemm"]) == 0
    assert sorted(os.listdir(out)) == sorted(report.FILES.values())
    for kind in ("comparison", "scaling", "speedup", "heatmap"):
        assert (out / report.FILES[kind]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", kind
    rows = json.loads((out / "results.json").read_text())
    assert io.load_results(out / "results.csv") == rows
    assert [(r["operation"], r["shape"]) for r in rows] == [
        ("neg", "1,000"),
        ("neg", "10,000"),
        ("gemm", "64x64"),
        ("gemm", "128x128"),
    ]
    for r in rows:
        assert tuple(r) == schema.NAMES
        assert (r["correct"], r["error"], r["threads"], r["group"]) == (
            True,
            None,
            1,
            "elementwise" if r["operation"] == "neg" else "linalg",
        )
        assert r["speedup"] == r["pytorch_median_ms"] / r["atlas_median_ms"]
        assert r["speedup_vs_out"] == r["pytorch_out_median_ms"] / r["atlas_median_ms"]
    assert [r["max_abs_diff"] for r in rows[:2]] == [0.0, 0.0]  # negation is exact
    text = (out / "report.md").read_text()
    assert "Atlas is faster than PyTorch in" in text and "## Correctness failures (0)" in text
    assert all(f"| {name} |" in text for name in schema.NAMES)  # the column table

    monkeypatch.setitem(
        suite.ops(), "neg", dataclasses.replace(suite.ops()["neg"], atlas=hg.ops.abs)
    )
    bad = tmp_path / "bad"
    assert cli.main(["--out", str(bad), "--quick", "--ops", "neg"]) == 1
    assert "## Correctness failures (2)" in (bad / "report.md").read_text()
    with pytest.raises(SystemExit):
        cli.main(["--out", str(bad), "--ops", "no_such_op"])


def _fake_result(name, samples):
    return timing.BenchmarkResult.from_samples(name, None, samples, 1)


def test_run_op_record_from_known_samples(monkeypatch):
    """run_op's record, with the timing replaced by known samples: every column's value."""
    from hologram.bench import suite

    samples = {
        "pytorch": [4.0, 6.0, 5.0],
        "pytorch_out": [3.0, 3.0, 3.0],
        "numpy": [2.0, 2.0, 5.0],
        "atlas": [1.0, 2.0, 4.0],
    }
    seen = {}

    def fake(fns, *args, **kwargs):
        seen["keys"] = list(fns)
        return {k: _fake_result(k, samples[k]) for k in fns}

    monkeypatch.setattr(suite, "compare_frameworks", fake)
    rec = suite.run_op("vector_add", 1000, hg.Executor(threads=1))
    # the op table's frameworks; the op-by-op and torch.compile columns are the fused group's
    assert seen["keys"] == list(samples)
    assert tuple(rec) == schema.NAMES
    assert (rec["operation"], rec["size"], rec["shape"], rec["group"]) == (
        "vector_add",
        1000,
        "1,000",
        "elementwise",
    )
    assert (rec["correct"], rec["error"], rec["max_abs_diff"]) == (True, None, 0.0)
    assert (rec["pytorch_median_ms"], rec["pytorch_mean_ms"]) == (5.0, 5.0)
    assert rec["pytorch_std_ms"] == statistics.stdev([4.0, 6.0, 5.0])
    assert (rec["atlas_median_ms"], rec["numpy_median_ms"], rec["pytorch_out_median_ms"]) == (
        2.0,
        2.0,
        3.0,
    )
    assert rec["speedup"] == 2.5 and rec["speedup_vs_out"] == 1.5
    assert rec["speedup_paired"] == 3.0  # median of 4/1, 6/2, 5/4
    assert math.isnan(rec["atlas_ops_median_ms"]) and math.isnan(rec["compiled_median_ms"])
    assert math.isnan(rec["speedup_vs_compile"]) and math.isnan(rec["compile_s"])
    assert rec["kernels"] is None
    assert schema.problems(__import__("pandas").DataFrame([rec])) == []


def test_schema_order_and_problems():
    pd = pytest.importorskip("pandas")
    assert len(set(schema.NAMES)) == len(schema.COLUMNS)
    assert {c.dtype for c in schema.COLUMNS} == {"str", "int", "float", "bool"}
    assert schema.NAMES[:7] == (  # the record of the seed notebook's section 3.1
        "operation",
        "size",
        "pytorch_mean_ms",
        "pytorch_std_ms",
        "atlas_mean_ms",
        "atlas_std_ms",
        "speedup",
    )
    for fw in schema.FRAMEWORKS:
        for stat in schema.STATS:
            assert f"{fw}_{stat}_ms" in schema.BY_NAME
    rec = {name: None for name in reversed(schema.NAMES)}
    assert tuple(schema.order_columns(rec)) == schema.NAMES
    with pytest.raises(KeyError, match="unknown \\['extra'\\], missing \\[\\]"):
        schema.order_columns({**rec, "extra": 1})
    with pytest.raises(KeyError, match="missing \\['size'\\]"):
        schema.order_columns({k: v for k, v in rec.items() if k != "size"})
    df = pd.DataFrame(
        {"operation": ["a", "b"], "size": [1.5, 2], "correct": [True, None], "speedup": [None, 2.0]}
    )
    assert schema.problems(df, ("operation", "size", "correct", "speedup", "shape")) == [
        "column 'size' (int) holds [1.5, 2.0]",
        "column 'correct' (bool) holds [None]",
        "missing column 'shape'",
    ]
    assert list(schema.describe().columns) == ["column", "dtype", "unit", "meaning"]
    assert list(schema.describe()["column"]) == list(schema.NAMES)
    assert schema.BY_NAME["atlas_median_ms"].axis_label == (
        "Atlas time per call, median over the samples (ms)"
    )
    assert schema.shape_label((1000,)) == "1,000" and schema.shape_label((64, 1000)) == "64x1000"


def _results(pd):
    """Six rows with known speedups; the last one lost its Atlas measurement."""
    rows = [
        ("vector_add", "elementwise", 1000, 2.0, 4.0, 1.5),
        ("vector_add", "elementwise", 10000, 8.0, 2.0, 7.0),
        ("exp", "transcendental", 1000, 0.25, None, 0.6),
        ("gemm", "linalg", 4096, 1.0, 1.2, 1.1),
        ("gemm", "linalg", 16384, 0.25, 0.3, 0.2),
        ("sum", "reduction", 1000, float("nan"), None, None),
    ]
    return pd.DataFrame(
        [
            {
                "operation": op,
                "group": g,
                "size": n,
                "shape": schema.shape_label((n,) if op != "gemm" else (int(n**0.5),) * 2),
                "threads": 1,
                "speedup": s,
                "speedup_vs_out": out,
                "speedup_paired": paired,
                "correct": op != "exp",
                "error": "RuntimeError: boom" if op == "sum" else None,
            }
            for op, g, n, s, out, paired in rows
        ]
    )


def test_findings_computed_from_the_rows():
    pd = pytest.importorskip("pandas")
    text = report.findings_markdown(_results(pd))
    # speedups 2, 8, 0.25, 1, 0.25: geo-mean (2*8*0.25*1*0.25)**(1/5) = 1
    assert "Atlas is faster than PyTorch in **2 of 5** rows" in text
    assert "geometric-mean speedup **1.00x**" in text
    assert "| elementwise | 2 | 2 | 4.00x | 2.00x - 8.00x |" in text
    assert "| linalg | 2 | 0 | 0.50x | 0.25x - 1.00x |" in text
    assert "Largest Atlas advantage: **vector_add 10,000** at 8.00x" in text
    assert "Largest PyTorch advantage: **exp 1,000** at 4.00x" in text
    # speedup_vs_out 4, 2, 1.2, 0.3 over 4 rows: 3 wins, geo-mean (4*2*1.2*0.3)**0.25
    assert (
        f"Atlas wins 3 of 4 rows that have it (against plain PyTorch: 2); geo-mean {(4 * 2 * 1.2 * 0.3) ** 0.25:.2f}x"
        in text
    )
    assert "Largest GEMM (**gemm 128x128**): speedup 0.25x" in text
    assert "Rows without a measurement: 1; sum 1,000: RuntimeError: boom." in text
    assert "Rows that failed the correctness check: 1." in text
    # a row of the seed's loop has no group column: the op table supplies it
    seed_row = pd.DataFrame([{"operation": "neg", "size": 1000, "speedup": 3.0}])
    assert "| elementwise | 1 | 1 | 3.00x |" in report.findings_markdown(seed_row)


def test_expectations_table_verdicts():
    pd = pytest.importorskip("pandas")
    t = report.expectations_table(
        _results(pd),
        [
            {"text": "add fast", "ops": ["vector_add"], "low": 1.5, "high": 3.0},
            {"text": "gemm big", "ops": ["gemm"], "low": 0.2, "high": 0.5, "rows": "largest"},
            {"text": "exp fast", "ops": ["exp"], "low": 2.0, "high": 4.0},
            {"text": "sum", "ops": ["sum"], "low": 0.8, "high": 1.2},
        ],
    )
    assert list(t["verdict"]) == ["partly", "held", "not held", "no rows"]
    assert list(t["rows inside"]) == ["1/2", "1/1", "0/1", "0/0"]
    assert list(t["measured"]) == ["2.00x - 8.00x", "0.25x - 0.25x", "0.25x - 0.25x", "no rows"]
    assert t["expected speedup"][1] == "0.20x - 0.50x"


def test_geomean_reference_values():
    assert report.geomean([2.0, 8.0]) == pytest.approx(4.0, rel=1e-15)
    assert report.geomean([0.5, 2.0, float("nan"), -1.0, 0.0]) == pytest.approx(1.0, rel=1e-15)
    assert math.isnan(report.geomean([float("nan")]))


def test_run_op_checks_against_its_reference():
    """An op checked against float64 passes on the float64 answer when PyTorch's is off, and
    fails on a wrong Atlas result; an op checked against PyTorch fails when PyTorch is off."""
    import dataclasses

    from hologram.bench import suite

    ex = hg.Executor(threads=1)
    neg = suite.ops()["neg"]
    torch_off = dataclasses.replace(neg, torch=lambda t: -t + 1e-3)  # PyTorch 1e-3 away
    fast = {"warmup_runs": 1, "timing_runs": 2, "min_sample_s": 0.0}
    rec = suite.run_op(dataclasses.replace(torch_off, reference="float64"), 1000, ex, **fast)
    assert (rec["correct"], rec["max_abs_diff"]) == (True, 0.0)
    rec = suite.run_op(torch_off, 1000, ex, **fast)
    assert rec["correct"] is False and rec["error"].startswith("AssertionError: neg")
    wrong = dataclasses.replace(neg, atlas=hg.ops.abs, reference="float64")
    assert suite.run_op(wrong, 1000, ex, **fast)["correct"] is False
    gelu = suite.ops()["gelu"]
    assert gelu.reference == "float64"
    assert gelu.tol((np.zeros(3, np.float32),)) == (suite.RTOL, suite.ATOL)
