"""The environment the benchmark is timed in: the one definition.

``scripts/bench.sh`` runs the benchmark through ``python -m
hologram.bench.environment CMD ...`` (which replaces itself with CMD in this
environment, as ``env`` does), and ``notebooks/execute_notebook.py`` applies
:func:`benchmark_environ` to the notebook's kernel.  It is applied only to
benchmark commands, never to the tests.

- ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are set on some of the
  development machines and slow NumPy's BLAS; the NumPy column would be
  unfair, so they are removed.
- ``OPENBLAS_THREAD_TIMEOUT=4``: NumPy's OpenBLAS workers otherwise keep
  spinning after each call and, with ``--threads 0``, sit on the cores
  PyTorch and Atlas are timed on (docs/performance.md has the measurements).

OpenBLAS reads these when NumPy is first imported, so they must be in place
before the benchmark's process starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SET = {"OPENBLAS_THREAD_TIMEOUT": "4"}


def benchmark_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: ``os.environ``) with the benchmark's settings applied."""
    env = dict(os.environ if environ is None else environ)
    for name in UNSET:
        env.pop(name, None)
    env.update(SET)
    return env


def main(argv: list[str] | None = None) -> int:
    """``python -m hologram.bench.environment CMD [ARG ...]``: exec CMD in the benchmark's environment."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m hologram.bench.environment CMD [ARG ...]\n")
        return 2
    try:
        os.execvpe(argv[0], argv, benchmark_environ())
    except OSError as e:
        sys.stderr.write(
            f"python -m hologram.bench.environment: cannot run {argv[0]!r}: {e.strerror}\n"
        )
    return 127


if __name__ == "__main__":
    sys.exit(main())
