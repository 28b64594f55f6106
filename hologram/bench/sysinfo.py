"""System information: the facts needed to reproduce a benchmark run."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from typing import Any

import numpy as np

#: thread settings of the other frameworks' runtimes, recorded as the process sees them
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "OPENBLAS_CORETYPE",
    "MKL_NUM_THREADS",
)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpuinfo(text: str | None = None) -> list[dict[str, str]]:
    """One dict per processor block of /proc/cpuinfo (or of ``text``)."""
    procs = []
    for block in (_read("/proc/cpuinfo") if text is None else text).split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, val = line.partition(":")
            if sep:
                entry[key.strip()] = val.strip()
        if entry:
            procs.append(entry)
    return procs


def physical_cores(procs: list[dict[str, str]], logical: int) -> int:
    """Distinct (socket, core) pairs; else 'cpu cores' times the sockets; else ``logical``."""
    cores = {(p.get("physical id", "0"), p["core id"]) for p in procs if "core id" in p}
    if not cores and procs and "cpu cores" in procs[0]:
        sockets = {p.get("physical id", "0") for p in procs}
        return int(procs[0]["cpu cores"]) * len(sockets)
    return len(cores) or logical


def _memory_total_gb() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return float("nan")


def collect_system_info(executor: Any = None) -> dict[str, Any]:
    """Facts needed to reproduce a run.  ``executor`` (a hologram.Executor) supplies the
    Atlas thread count and SIMD level; without one the defaults of ``hg.Executor()`` are used."""
    procs = cpuinfo()
    logical = os.cpu_count() or len(procs) or 1
    mhz = [float(p["cpu MHz"]) for p in procs if "cpu MHz" in p]

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_model": next((p["model name"] for p in procs if "model name" in p), None),
        "cpu_cores_physical": physical_cores(procs, logical),
        "cpu_cores_logical": logical,
        "cpu_freq_mhz": statistics.fmean(mhz) if mhz else float("nan"),
        "memory_total_gb": _memory_total_gb(),
        "numpy_version": np.__version__,
        "torch_version": None,
        "torch_num_threads": None,
        "hologram_version": None,
        "hologram_threads": None,
        "hologram_isa": None,
        "timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        "env_threading": " ".join(f"{k}={os.environ[k]}" for k in THREAD_ENV if k in os.environ)
        or "-",
    }
    try:
        import torch

        info["torch_version"] = torch.__version__
        info["torch_num_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import hologram as hg

        cpu = hg.cpu_info()
        ex = executor if executor is not None else hg.Executor()
        info.update(
            hologram_version=hg.__version__, hologram_threads=ex.threads, hologram_isa=ex.isa
        )
        info["cpu_model"] = info["cpu_model"] or cpu.get("brand")
    except ImportError:
        pass
    info["cpu_model"] = info["cpu_model"] or platform.processor() or "unknown"
    return info
