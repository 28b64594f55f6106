"""The benchmark notebook: its source (notebooks/pytorch_vs_atlas_benchmarks.py) executed
at quick sizes, the values its cells compute, and the committed executed copy in step
with the source."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hologram.bench import io, report, schema

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("jupytext")
pd = pytest.importorskip("pandas")
pytest.importorskip("seaborn")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# The test's own last cell: what the notebook computed, written where the test reads it.
PROBE = """
import json
json.dump(
    {
        "executable": sys.executable,
        "quick": QUICK,
        "findings": findings,
        "expectations": expectations.to_dict("records"),
        "schema_problems": schema_problems,
        "seed_columns": list(df_vector_add.columns),
        "seed_sizes": [int(s) for s in df_vector_add["size"]],
        "result_atlas": result_atlas.tolist(),
        "result_torch": result_torch.tolist(),
        "results_file": results_file,
        "summary": summary.to_dict("records"),
        "ln_kernels": ln_kernels,
        "fusion_findings": fusion_findings,
        "fused_records": df_fused.to_dict("records"),
    },
    open("probe.json", "w"),
)
"""


def _load_execute_notebook():
    spec = importlib.util.spec_from_file_location(
        "execute_notebook", NOTEBOOKS / "execute_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The source run at quick sizes in a fresh directory: (notebook, probe, records)."""
    ex = _load_execute_notebook()
    work = tmp_path_factory.mktemp("notebook")
    nb = ex.read_source()
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env = dict(os.environ)
    env["HOLOGRAM_BENCH_QUICK"] = "1"
    # The kernel runs in `work`; notebooks/ on the path stands in for the seed's sys.path.append('.')
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NOTEBOOKS), env.get("PYTHONPATH")]))
    ex.execute(nb, str(work), env, timeout=600)  # the first failing cell raises
    probe = json.loads((work / "probe.json").read_text())
    records = io.load_results(work / probe["results_file"])
    return nb, probe, records


def test_every_cell_runs_without_error(executed):
    nb, probe, _ = executed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    assert probe["executable"] == sys.executable and probe["quick"] is True


def test_results_frame_has_the_schema_and_every_check_passed(executed):
    _, probe, records = executed
    from hologram.bench import suite

    table = suite.ops()
    assert probe["schema_problems"] == []
    # one row per (op, quick size), in the op table's order, every column of the schema
    assert [(r["operation"], r["size"]) for r in records] == [
        (name, int(np.prod(op.inputs(np.random.default_rng(0), n)[0].shape)))
        for name, op in table.items()
        for n in op.quick
    ]
    df = pd.DataFrame(records)
    assert tuple(df.columns) == schema.NAMES
    assert schema.problems(df) == []
    assert [r["correct"] for r in records] == [True] * len(records)
    assert [r["error"] for r in records] == [None] * len(records)
    for r in records:
        assert r["speedup"] == r["pytorch_median_ms"] / r["atlas_median_ms"], r["operation"]
        assert r["group"] == table[r["operation"]].group
    # the seed's section 2.2: float32 addition is exact, so Atlas and PyTorch agree bit for bit
    assert probe["result_atlas"] == probe["result_torch"] and len(probe["result_atlas"]) == 1000
    # the seed's section 3.1 builds the schema's first seven columns at every elementwise size
    assert tuple(probe["seed_columns"]) == schema.NAMES[:7]
    assert probe["seed_sizes"] == list(table["vector_add"].quick)


def test_findings_are_computed_from_the_results(executed):
    _, probe, records = executed
    s = np.array([r["speedup"] for r in records])
    wins = int((s > 1).sum())
    geo = float(np.exp(np.log(s).mean()))
    text = probe["findings"]
    assert f"Atlas is faster than PyTorch in **{wins} of {len(s)}** rows" in text
    assert f"geometric-mean speedup **{geo:.2f}x**" in text
    assert "Rows without a measurement: 0." in text
    assert "Rows that failed the correctness check: 0." in text
    assert text == report.findings_markdown(pd.DataFrame(records))
    # the summary: one row per op with its min and max speedup
    by_op = {}
    for r in records:
        by_op.setdefault(r["operation"], []).append(r["speedup"])
    assert [(t["operation"], t["min_speedup"], t["max_speedup"]) for t in probe["summary"]] == [
        (op, min(v), max(v)) for op, v in by_op.items()
    ]
    # each of the seed's expectations is judged on the rows of its ops
    sizes = {op: len(v) for op, v in by_op.items()}
    assert [e["rows inside"].split("/")[1] for e in probe["expectations"]] == [
        str(n)
        for n in (
            sizes["vector_add"] + sizes["vector_mul"] + sizes["vector_div"],
            sizes["exp"] + sizes["log"],
            sizes["relu"],
            1,  # the largest GEMM
            sizes["sum"] + sizes["max"] + sizes["min"],
            sizes["sigmoid"] + sizes["tanh"],
            sizes["mse_loss"] + sizes["cross_entropy"],
        )
    ]


def test_fusion_section(executed):
    """Section 12: the jitted layer norm is one kernel; the fused group ran every workload
    at its quick size, checked, with torch.compile measured; the findings are the report's."""
    from hologram.bench import fused

    _, probe, _ = executed
    assert probe["ln_kernels"] == 1
    recs = probe["fused_records"]
    assert [(r["operation"], r["group"]) for r in recs] == [
        (name, "fused") for name in fused.workloads()
    ]
    assert all(r["correct"] and r["error"] is None and r["kernels"] == 1 for r in recs)
    for r in recs:
        assert r["compile_s"] > 0 and r["compiled_median_ms"] > 0, r["operation"]
        assert r["speedup_vs_compile"] == r["compiled_median_ms"] / r["atlas_median_ms"]
    assert probe["fusion_findings"] == report.fusion_markdown(pd.DataFrame(recs))
    assert "torch.compile: not measured" not in probe["fusion_findings"]


def test_committed_notebook_is_the_executed_source():
    """The .ipynb a reader opens holds the source's cells, executed without error."""
    ex = _load_execute_notebook()
    source = ex.read_source()
    committed = nbformat.read(NOTEBOOKS / "pytorch_vs_atlas_benchmarks.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in source.cells
    ]
    assert committed.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    outputs = [o for c in code for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
