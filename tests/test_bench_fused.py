"""The benchmark's fused group (hologram/bench/fused.py): each workload's check really
compares with PyTorch (a wrong Atlas or compiled function is caught, every buffer of the
in-place Adam step is compared), the record of a row from known samples, and the report's
Fusion section rendered from a results object.  Nothing here is timed: the timing is
replaced by known samples and torch.compile by the eager function."""

import dataclasses
import math
import statistics

import numpy as np
import pytest

import hologram as hg
from hologram.bench import fused, report, schema, suite, timing

pd = pytest.importorskip("pandas")

NAMES = [
    "fused_gelu_tanh",
    "fused_sigmoid_fma",
    "fused_layer_norm",
    "fused_rms_norm",
    "fused_logsumexp",
    "fused_adam",
]


@pytest.fixture(scope="module")
def ex():
    return hg.Executor(threads=1)


def _row(ex, name, **change):
    w = fused.workloads()[name]
    return fused.Row(dataclasses.replace(w, **change), w.quick[0], ex)


def test_the_group_and_its_sizes():
    table = fused.workloads()
    assert list(table) == NAMES
    rng = np.random.default_rng(0)
    for w in table.values():
        assert w.group == "fused" and w.quick == w.sizes[:1]
        # about 1K, 1M and 10M elements, as rows x 1024 where the workload reduces rows
        assert [w.inputs(rng, s)[0].size for s in w.sizes] == [1024, 1024**2, 10 * 1024**2]
    assert [op.name for op, _ in suite.plan(["fused"])] == [n for n in NAMES for _ in range(3)]
    assert suite.plan(["neg", "fused_adam"], quick=True) == [
        (suite.ops()["neg"], 1_000),
        (suite.ops()["neg"], 10_000),
        (table["fused_adam"], 1024),
    ]
    with pytest.raises(KeyError, match="fused"):
        suite.plan(["fused_nothing"])


@pytest.mark.parametrize("name", NAMES)
def test_each_workload_matches_pytorch_in_one_kernel(ex, name):
    row = _row(ex, name)
    worst, errors, written = fused.verify(row.calls(compiled=row.w.torch), name)
    assert errors == [] and 0.0 <= worst < 1e-4
    assert written == sum(t.numpy().nbytes for t in fused._tuple(row.calls()["pytorch"]()))
    assert fused.kernel_count(row.ir()) == 1


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_atlas_function_is_caught(ex, name):
    """The same function with one result off by 0.1%: the jit and the op-by-op column
    both fail against PyTorch, and the jitted call is still timed (it ran)."""
    w = fused.workloads()[name]

    def wrong(*args):
        res = w.atlas(*args)
        return tuple(r * 1.001 for r in res) if isinstance(res, tuple) else res * 1.001

    fns = _row(ex, name, atlas=wrong).calls()
    _, errors, _ = fused.verify(fns, name)
    assert [e.split(":")[0] for e in errors] == ["jit", "op by op"]
    assert all("differ beyond tolerance" in e for e in errors)
    assert "atlas" in fns and "atlas_ops" in fns


def test_adam_compares_all_three_buffers(ex):
    """A step that updates the parameter and the first moment right but the second
    moment wrong fails on that buffer alone."""

    def wrong_v(p, g, m, v, lr, b1, b2, eps):
        p2, m2, v2 = fused.adam(p, g, m, v, lr, b1, b2, eps)
        return p2, m2, v2 + 1e-3

    row = _row(ex, "fused_adam", atlas=wrong_v)
    _, errors, written = fused.verify(row.calls(), "adam")
    assert len(errors) == 2 and all("adam" in e and "result 2" in e for e in errors)
    assert written == 3 * 1024 * 4  # p, m and v
    # the jitted step writes the buffers it is given in place
    fns = _row(ex, "fused_adam").calls()
    p0 = fns["atlas"]()[0]
    before = p0.to_numpy().copy()
    assert fns["atlas"]()[0] is p0 and not np.array_equal(p0.to_numpy(), before)


def test_a_wrong_compiled_function_and_a_raising_call_are_reported(ex):
    def raises(*args):
        raise RuntimeError("no kernel")

    row = _row(ex, "fused_sigmoid_fma", atlas=raises)
    fns = row.calls(compiled=lambda a, b, c: fused._torch_sigmoid_fma(a, b, c) + 1e-3)
    worst, errors, _ = fused.verify(fns, "sig")
    assert worst is None
    assert errors[0] == "jit: RuntimeError: no kernel"
    assert errors[1] == "op by op: RuntimeError: no kernel"
    assert errors[2].startswith("torch.compile: sig torch.compile result 0: ")
    # a call that raised is not timed; a wrong value is (and reported)
    assert list(fns) == ["pytorch", "compiled"]


def _samples(**medians):
    return {k: [m * 0.9, m, m * 1.2] for k, m in medians.items()}


def test_run_workload_record_from_known_samples(ex, monkeypatch):
    samples = _samples(pytorch=3.0, atlas=1.0, atlas_ops=2.0, compiled=1.5)
    seen = {}

    def fake(fns, *args, **kwargs):
        seen["keys"] = list(fns)
        return {k: timing.BenchmarkResult.from_samples(k, None, samples[k], 1) for k in fns}

    monkeypatch.setattr(suite, "compare_frameworks", fake)
    monkeypatch.setattr(fused, "compile_torch", lambda row: (row.w.torch, 2.5))
    rec = fused.run_workload(fused.Row("fused_layer_norm", 1, ex))
    assert seen["keys"] == ["pytorch", "atlas", "atlas_ops", "compiled"]
    assert tuple(rec) == schema.NAMES
    assert (rec["operation"], rec["size"], rec["shape"], rec["group"]) == (
        "fused_layer_norm",
        1024,
        "1x1024",
        "fused",
    )
    assert (rec["correct"], rec["error"], rec["kernels"], rec["compile_s"]) == (True, None, 1, 2.5)
    assert rec["atlas_ops_median_ms"] == 2.0 and rec["compiled_median_ms"] == 1.5
    assert rec["compiled_std_ms"] == statistics.stdev(samples["compiled"])
    assert rec["speedup"] == 3.0 and rec["speedup_vs_compile"] == 1.5
    assert math.isnan(rec["numpy_median_ms"]) and math.isnan(rec["speedup_vs_out"])
    # x, weight and bias read, the result written; seven flops an element
    assert rec["bytes"] == (1024 + 2 * 1024 + 1024) * 4 and rec["bytes_written"] == 4096
    assert rec["flops"] == 7 * 1024
    # without torch.compile: its columns empty, no compile called
    monkeypatch.setattr(fused, "compile_torch", lambda row: pytest.fail("compiled"))
    rec = fused.run_workload(fused.Row("fused_adam", 1024, ex), compile=False)
    assert seen["keys"] == ["pytorch", "atlas", "atlas_ops"]
    assert math.isnan(rec["compiled_median_ms"]) and math.isnan(rec["speedup_vs_compile"])
    assert math.isnan(rec["compile_s"]) and rec["correct"]


def _record(name, size, shape, eager, jit, compiled, ops=None, kernels=1, compile_s=2.0):
    rec = dict.fromkeys(schema.NAMES, math.nan)
    rec.update(
        operation=name,
        size=size,
        shape=shape,
        group="fused",
        threads=1,
        correct=True,
        error=None,
        kernels=kernels,
        pytorch_median_ms=eager,
        atlas_median_ms=jit,
        atlas_ops_median_ms=ops if ops is not None else 2 * jit,
        compiled_median_ms=compiled,
        speedup=eager / jit,
        speedup_vs_compile=compiled / jit,
        compile_s=compile_s if compiled == compiled else math.nan,
    )
    return rec


RECORDS = [
    _record("fused_gelu_tanh", 1024, "1,024", 0.004, 0.001, 0.030),  # 4x, 30x
    _record("fused_gelu_tanh", 1_048_576, "1,048,576", 4.0, 1.0, 2.0),  # 4x, 2x
    _record("fused_layer_norm", 1024, "1x1024", 0.004, 0.002, 0.008),  # 2x, 4x: misses 5x
    _record("fused_layer_norm", 10_485_760, "10240x1024", 10.0, 5.0, 5.5, kernels=2),  # 2x, 1.1x
]


def test_fusion_section_from_a_results_object(tmp_path):
    df = pd.DataFrame(RECORDS + [{**RECORDS[0], "operation": "neg", "group": "elementwise"}])
    table = report.fusion_table(df)
    assert list(table.columns) == [
        "workload",
        "size",
        "kernels",
        "jit µs",
        "op-by-op µs",
        "eager µs",
        "compiled µs",
        "jit vs eager",
        "jit vs compile",
        "compile s",
    ]
    assert table["workload"].tolist() == ["gelu_tanh"] * 2 + ["layer_norm"] * 2
    assert table["jit µs"].tolist() == pytest.approx([1.0, 1000.0, 2.0, 5000.0])
    assert table["op-by-op µs"].tolist() == pytest.approx([2.0, 2000.0, 4.0, 10000.0])
    assert table["jit vs compile"].tolist() == pytest.approx([30.0, 2.0, 4.0, 1.1])
    targets = report.fusion_targets(df).set_index("target")
    assert targets["verdict"].tolist() == ["not held", "not held", "not held", "held"]
    assert targets["met"].tolist() == ["1/2", "1/2", "1/2", f"{(30 * 2 * 4 * 1.1) ** 0.25:.2f}x"]
    assert targets["misses"].iloc[0] == "fused_layer_norm 10240x1024 2.00x"
    assert targets["misses"].iloc[1] == "fused_layer_norm 10240x1024 1.10x"
    assert targets["misses"].iloc[2] == "fused_layer_norm 1x1024 4.00x"
    md = report.fusion_markdown(df)
    assert (
        "| gelu_tanh | 1,048,576 | 1 | 1,000.0 | 2,000.0 | 4,000.0 | 2,000.0 | 4.00x | 2.00x | 2.0 |"
        in md
    )
    assert f"jit vs torch.compile: **{(30 * 2 * 4 * 1.1) ** 0.25:.2f}x** over 4 rows" in md
    assert f"jit vs PyTorch eager: **{(4 * 4 * 2 * 2) ** 0.25:.2f}x**" in md
    assert "More than one kernel: fused_layer_norm 10240x1024 (2)." in md
    # report.md carries the section, fused.png is drawn
    paths = report.write_report(RECORDS, str(tmp_path), {"cpu": "test"}, {"quick": False})
    text = open(paths["md"], encoding="utf-8").read()
    assert "## Fusion\n\n" + md + "\n" in text
    assert open(paths["fused"], "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fusion_section_without_torch_compile_says_so():
    no_compile = [
        _record(r["operation"], r["size"], r["shape"], 1.0, 0.5, math.nan) for r in RECORDS
    ]
    df = pd.DataFrame(no_compile)
    md = report.fusion_markdown(df)
    assert "**torch.compile: not measured in this run**" in md
    assert "Geomean, jit vs torch.compile" not in md  # no ratio to it claimed
    assert "| gelu_tanh | 1,024 | 1 | 500.0 | 1,000.0 | 1,000.0 | n/m | 2.00x | n/m | n/m |" in md
    assert report.fusion_table(df)["compiled µs"].isna().all()
    assert report.fusion_targets(df)["verdict"].tolist() == [
        "not held",  # 2x eager at >= 1M: measured without torch.compile
        "not measured",
        "not measured",
        "not measured",
    ]
    assert report.fusion_markdown(pd.DataFrame([{**no_compile[0], "group": "x"}])) == (
        "_no fused rows in this run_"
    )
