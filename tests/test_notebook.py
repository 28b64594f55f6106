"""Execute notebooks/pytorch_vs_atlas_benchmarks.ipynb at quick sizes; no cell may error."""

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK = NOTEBOOKS / "pytorch_vs_atlas_benchmarks.ipynb"


def test_notebook_runs_quick(monkeypatch, tmp_path):
    # Kernel "python3" = this interpreter: a kernelspec first on JUPYTER_PATH beats any installed one.
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (bench test)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("HOLOGRAM_BENCH_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")

    before = set(NOTEBOOKS.glob("benchmark_results_*"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=900,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        for f in set(NOTEBOOKS.glob("benchmark_results_*")) - before:  # section 11 writes these
            f.unlink()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in outputs)
    assert sys.executable in text  # the kernel ran this interpreter
    assert "Quick mode: True" in text
    assert "TODO" not in text
