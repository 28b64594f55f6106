"""Execute notebooks/pytorch_vs_atlas_benchmarks.ipynb at quick sizes; no cell may error."""
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK = NOTEBOOKS / "pytorch_vs_atlas_benchmarks.ipynb"


def test_notebook_runs_quick(monkeypatch, tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager, NATIVE_KERNEL_NAME

    # Kernel = this interpreter, whatever other kernelspecs the machine has installed.
    spec_dir = tmp_path / "kernels" / NATIVE_KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        '{"argv": [%r, "-m", "ipykernel_launcher", "-f", "{connection_file}"], '
        '"display_name": "bench test", "language": "python"}' % sys.executable)
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    monkeypatch.setenv("HOLOGRAM_BENCH_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")

    before = set(NOTEBOOKS.glob("benchmark_results_*"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name=NATIVE_KERNEL_NAME,
                                     kernel_manager_class=_km_class(ksm),
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        for f in set(NOTEBOOKS.glob("benchmark_results_*")) - before:  # section 11 writes these
            f.unlink()

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Quick mode: True" in text
    assert "TODO" not in text


def _km_class(ksm):
    from jupyter_client.manager import KernelManager

    class _KM(KernelManager):
        def _kernel_spec_manager_default(self):
            return ksm
    return _KM
