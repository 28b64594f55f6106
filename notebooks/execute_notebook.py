"""Execute the benchmark notebook from its source into the committed .ipynb.

Usage (from the repository root, with hologram importable by .venv's Python):
    .venv/bin/python -P notebooks/execute_notebook.py           # full sizes
    .venv/bin/python -P notebooks/execute_notebook.py --quick   # every section at quick sizes

The source is notebooks/pytorch_vs_atlas_benchmarks.py (jupytext percent format, paired
with the .ipynb).  The kernel is this interpreter, runs in notebooks/ and gets the
benchmark's environment (hologram/bench/environment.py).  Figures are stored as
palette PNGs (:func:`shrink_images`) so the committed file stays small.
tests/test_notebook.py uses :func:`read_source` and :func:`execute` on the same source.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping

import jupytext
import nbclient
import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "pytorch_vs_atlas_benchmarks.py")
NOTEBOOK = os.path.join(HERE, "pytorch_vs_atlas_benchmarks.ipynb")


def read_source(path: str = SOURCE) -> nbformat.NotebookNode:
    """The notebook of the percent-format source, with stable cell ids (cell-00, ...)."""
    nb = jupytext.read(path)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


@contextlib.contextmanager
def this_interpreter_kernel() -> Iterator[str]:
    """A kernelspec "python3" that runs this interpreter, first on JUPYTER_PATH while in use."""
    old = os.environ.get("JUPYTER_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "kernels", "python3")
        os.makedirs(spec)
        with open(os.path.join(spec, "kernel.json"), "w") as f:
            json.dump(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3",
                    "language": "python",
                },
                f,
            )
        os.environ["JUPYTER_PATH"] = tmp + os.pathsep + (old or "")
        try:
            yield "python3"
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def execute(
    nb: nbformat.NotebookNode, cwd: str, env: Mapping[str, str], timeout: int = 1800
) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in place, in a kernel started in ``cwd`` with environment
    ``env``; the first failing cell raises ``nbclient.exceptions.CellExecutionError``."""
    with this_interpreter_kernel() as kernel_name:
        client = nbclient.NotebookClient(
            nb,
            timeout=timeout,
            startup_timeout=120,
            kernel_name=kernel_name,
            resources={"metadata": {"path": cwd}},
        )
        client.execute(env=dict(env))
    return nb


def shrink_images(nb: nbformat.NotebookNode, colors: int = 64) -> None:
    """Re-encode every PNG output of ``nb`` with a ``colors``-entry palette: plots use few
    colours, and a palette PNG is a fraction of the size of the RGBA one."""
    from PIL import Image

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" not in data:
                continue
            img = Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).convert("RGB")
            buf = io.BytesIO()
            img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
                buf, format="PNG", optimize=True
            )
            data["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every section at the quick sizes")
    args = ap.parse_args(argv)

    from hologram.bench.environment import benchmark_environ

    env = benchmark_environ()
    env.pop("HOLOGRAM_BENCH_QUICK", None)
    if args.quick:
        env["HOLOGRAM_BENCH_QUICK"] = "1"
    before = set(os.listdir(HERE))
    nb = execute(read_source(), HERE, env)
    for name in set(os.listdir(HERE)) - before:  # section 11's saved results are not committed
        if name.startswith("benchmark_results_"):
            os.remove(os.path.join(HERE, name))
    shrink_images(nb)
    nbformat.write(nb, NOTEBOOK)
    return NOTEBOOK


if __name__ == "__main__":
    print(main())
