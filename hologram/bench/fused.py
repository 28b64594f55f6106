"""The ``fused`` group: functions written with Buffer operators and ``hg.ops``, run as one
``@hg.jit`` kernel, against the same function run op by op on Buffers, PyTorch eager and
torch.compile (default Inductor).

Each row builds its inputs once from ``np.random.default_rng``, then

1. compiles the PyTorch function with a fresh ``torch.compile(dynamic=False)`` after
   ``torch._dynamo.reset()``, timing its first call (the compile, FX graph cache off):
   the ``compile_s`` column, never part of a sample.  The process's one-time Inductor
   start-up is paid once before the first row (:func:`warm_inductor`);
2. verifies every column against PyTorch eager from the same starting values, the jit, the
   op-by-op and the compiled results alike (an in-place workload compares every updated
   buffer);
3. times the four alternating (:func:`hologram.bench.suite.time_row`).

A row without torch.compile (``compile=False``: the CLI's ``--quick``) leaves the compiled
columns NaN and the report says they were not measured.
"""

from __future__ import annotations

import functools
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import verify_correctness
from .roofline import row_metrics
from .schema import order_columns

F32 = np.float32
RTOL, ATOL = 1e-5, 1e-6
COLS = 1024  # the row length of the workloads that reduce along rows
GROUP = "fused"
EPS = 1e-5
ADAM = (1e-3, 0.9, 0.999, 1e-8)  # lr, beta1, beta2, eps


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, ...]  # elements, or rows of COLS for a row-reducing workload
    quick: tuple[int, ...]
    inputs: Callable[[np.random.Generator, int], tuple[np.ndarray, ...]]
    atlas: Callable[..., Any]  # over Buffers: jitted, and called as is (op by op)
    torch: Callable[..., Any]  # over tensors: eager, and under torch.compile
    flops: int  # nominal floating-point operations per element of the first input
    scalars: tuple[float, ...] = ()  # Python numbers passed after the arrays
    # indexes of the arrays updated in place, in the order of the function's results: the
    # jitted call gets them as out=, the PyTorch function updates them itself
    inplace: tuple[int, ...] = ()
    group: str = GROUP


# ----------------------------------------------------------------------------- the functions


def gelu_tanh(x):
    return 0.5 * x * (1.0 + _ops().tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def sigmoid_fma(a, b, c):
    return _ops().sigmoid(a * b + c)


def layer_norm(x, w, b):
    hgo = _ops()
    d = x - hgo.mean(x, axis=-1, keepdims=True)
    var = hgo.mean(d * d, axis=-1, keepdims=True)
    return d / hgo.sqrt(var + EPS) * w + b


def rms_norm(x, w):
    hgo = _ops()
    return x / hgo.sqrt(hgo.mean(x * x, axis=-1, keepdims=True) + EPS) * w


def logsumexp(x):
    hgo = _ops()
    m = hgo.max(x, axis=-1, keepdims=True)
    return hgo.log(hgo.sum(hgo.exp(x - m), axis=-1, keepdims=True)) + m


def adam(p, g, m, v, lr, b1, b2, eps):
    """One Adam step without bias correction: the new parameter and both moments."""
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    return p - lr * m2 / (_ops().sqrt(v2) + eps), m2, v2


def _ops():
    from hologram import ops

    return ops


def _torch_gelu(x):
    import torch.nn.functional as tf

    return tf.gelu(x, approximate="tanh")


def _torch_sigmoid_fma(a, b, c):
    import torch

    return torch.sigmoid(a * b + c)


def _torch_layer_norm(x, w, b):
    import torch.nn.functional as tf

    return tf.layer_norm(x, (x.shape[-1],), w, b, EPS)


def _torch_rms_norm(x, w):
    import torch.nn.functional as tf

    return tf.rms_norm(x, (x.shape[-1],), w, EPS)


def _torch_logsumexp(x):
    import torch

    return torch.logsumexp(x, dim=-1, keepdim=True)


def _torch_adam(p, g, m, v, lr, b1, b2, eps):
    """torch.optim.Adam's single-tensor update (without bias correction), in place."""
    m.mul_(b1).add_(g, alpha=1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)
    return p, m, v


# ----------------------------------------------------------------------------- inputs


def _normal(k: int, scale: float = 1.0):
    return lambda rng, n: tuple(rng.standard_normal(n, dtype=F32) * F32(scale) for _ in range(k))


def _rows(rng, rows):
    return (rng.standard_normal((rows, COLS), dtype=F32) * F32(3) + F32(1),)


def _rows_weight(k: int):
    def inputs(rng, rows):
        return _rows(rng, rows) + tuple(rng.standard_normal(COLS, dtype=F32) for _ in range(k))

    return inputs


def _adam_inputs(rng, n):
    p, g, m = (rng.standard_normal(n, dtype=F32) for _ in range(3))
    v = np.abs(rng.standard_normal(n, dtype=F32)) * F32(0.01)
    return p, g, m * F32(0.1), v


ELEMENTS = (1_024, 1_048_576, 10_485_760)  # 1K, 1M, 10M elements
ROWS = (1, 1_024, 10_240)  # the same element counts as rows of COLS


@functools.cache
def workloads() -> dict[str, Workload]:
    """The fused group, name -> Workload."""
    table = [
        Workload(
            "fused_gelu_tanh", ELEMENTS, ELEMENTS[:1], _normal(1, 3), gelu_tanh, _torch_gelu, 9
        ),
        Workload(
            "fused_sigmoid_fma",
            ELEMENTS,
            ELEMENTS[:1],
            _normal(3),
            sigmoid_fma,
            _torch_sigmoid_fma,
            6,  # multiply, add, sigmoid (four)
        ),
        Workload(
            "fused_layer_norm",
            ROWS,
            ROWS[:1],
            _rows_weight(2),
            layer_norm,
            _torch_layer_norm,
            7,  # mean, subtract, square, mean, scale, weight, bias
        ),
        Workload("fused_rms_norm", ROWS, ROWS[:1], _rows_weight(1), rms_norm, _torch_rms_norm, 4),
        Workload(
            "fused_logsumexp", ROWS, ROWS[:1], _rows, logsumexp, _torch_logsumexp, 4
        ),  # max, subtract, exp, sum
        Workload(
            "fused_adam",
            ELEMENTS,
            ELEMENTS[:1],
            _adam_inputs,
            adam,
            _torch_adam,
            12,  # moments 3 + 4, parameter 5
            scalars=ADAM,
            inplace=(0, 2, 3),
        ),
    ]
    return {w.name: w for w in table}


# ----------------------------------------------------------------------------- running


def _tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class Row:
    """One workload at one size: its arrays and fresh copies of them for each framework
    (an in-place workload changes the copies it is given)."""

    def __init__(self, w: Workload | str, size: int, executor: Any, seed: int = 0):
        w = workloads()[w] if isinstance(w, str) else w
        self.w, self.size, self.ex = w, size, executor
        rng = np.random.default_rng([seed, zlib.crc32(w.name.encode()), size])
        self.arrays = w.inputs(rng, size)
        import hologram as hg

        self.jitted = hg.jit(w.atlas)

    def tensors(self):
        """PyTorch's own (64-byte aligned) copies of the arrays."""
        import torch

        return [torch.from_numpy(a).clone() for a in self.arrays]

    def buffers(self):
        return [self.ex.from_numpy(a) for a in self.arrays]

    def calls(self, compiled: Callable[..., Any] | None = None) -> dict[str, Callable[[], Any]]:
        """Zero-argument calls of each framework on its own copies of the arrays."""
        w, sc = self.w, self.w.scalars
        tp, ta, to = self.tensors(), self.buffers(), self.buffers()
        out = tuple(ta[i] for i in w.inplace) or None
        fns = {
            "pytorch": lambda: w.torch(*tp, *sc),
            "atlas": lambda: self.jitted(*ta, *sc, out=out),
            "atlas_ops": lambda: w.atlas(*to, *sc),
        }
        if compiled is not None:
            tc = self.tensors()
            fns["compiled"] = lambda: compiled(*tc, *sc)
        return fns

    def ir(self) -> str:
        ta = self.buffers()
        out = tuple(ta[i] for i in self.w.inplace) or None
        return self.jitted.ir(*ta, *self.w.scalars, out=out)


def kernel_count(ir: str) -> int:
    """The ``kernel`` headers of an IR text: one per launch."""
    return sum(1 for line in ir.splitlines() if line.startswith("kernel "))


def verify(
    fns: dict[str, Callable[[], Any]], name: str = ""
) -> tuple[float | None, list[str], int]:
    """One call of each framework of :meth:`Row.calls` (all from the same starting
    arrays), every result against PyTorch eager's: (largest absolute difference of the
    jit's results, the failures as text, bytes PyTorch's results hold).  A framework whose
    call raised (rather than returned a wrong value) is removed from ``fns``: it is not
    timed."""
    expected = [t.numpy() for t in _tuple(fns["pytorch"]())]
    errors, worst = [], None
    for key, label in LABELS.items():
        if key not in fns:
            continue
        try:
            got = _tuple(fns[key]())
            if len(got) != len(expected):
                raise ValueError(f"{len(got)} results, PyTorch {len(expected)}")
            diffs = [
                verify_correctness(g, e, RTOL, ATOL, name=f"{name} {label} result {i}")
                for i, (g, e) in enumerate(zip(got, expected, strict=True))
            ]
            if key == "atlas":
                worst = max(diffs)
        except AssertionError as exc:
            errors.append(f"{label}: {exc}")
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            errors.append(f"{label}: {type(exc).__name__}: {exc}")
            del fns[key]
    return worst, errors, sum(e.nbytes for e in expected)


#: the verified frameworks and their labels in the error text
LABELS = {"atlas": "jit", "atlas_ops": "op by op", "compiled": "torch.compile"}


_WARM = False


def _no_graph_cache():
    """torch.compile with Inductor's FX graph cache off: Dynamo, AOTAutograd and Inductor's
    lowering and code generation run in full on every row.  The C++ compile of a kernel
    source Inductor built before (an earlier run on this machine) still comes from its
    on-disk cache: a fresh cache directory would make every row cold, but its one-time
    toolchain set-up would dominate the group's run time."""
    import torch

    return torch._inductor.config.patch(fx_graph_cache=False)


def warm_inductor() -> None:
    """Pay the process's one-time torch.compile start-up (imports, the C++ toolchain
    probe) on a throw-away function, so no row's compile time includes it; once per
    process."""
    global _WARM
    import torch

    if _WARM:
        return
    _WARM = True
    torch._dynamo.reset()
    with _no_graph_cache():
        torch.compile(lambda x: x * 2.0 + 1.0, dynamic=False)(torch.ones(8))
    torch._dynamo.reset()


def compile_torch(row: Row) -> tuple[Callable[..., Any], float]:
    """A fresh torch.compile of the row's PyTorch function and the seconds of its first
    call (the compile, see :func:`_no_graph_cache`), on copies of the arrays so the timed
    copies are untouched."""
    import torch

    torch._dynamo.reset()  # every row compiles from scratch, no recompile limit is reached
    compiled = torch.compile(row.w.torch, dynamic=False)
    with _no_graph_cache():
        t0 = time.perf_counter()
        compiled(*row.tensors(), *row.w.scalars)
        seconds = time.perf_counter() - t0
    return compiled, seconds


def run_workload(
    row: Row,
    strict: bool = False,
    compile: bool = True,
    limits: dict[str, Any] | None = None,
    **timing,
) -> dict[str, Any]:
    """Compile, verify, then time one workload at one size (a :class:`Row`); returns a
    record of the schema.  ``timing``: warmup_runs, timing_runs, min_sample_s, settle_s of
    :func:`hologram.bench.suite.time_row`."""
    from .suite import end_checks, start_record, time_row

    w, size = row.w, row.size
    first = row.arrays[0]
    rec = start_record(w.name, w.group, first)
    rec.update(compile_s=math.nan, kernels=None)
    errors, compiled = [], None
    if compile:
        try:
            compiled, rec["compile_s"] = compile_torch(row)
        except Exception as exc:  # noqa: BLE001 - recorded, the row goes on without it
            errors.append(f"torch.compile: {type(exc).__name__}: {exc}")
    fns = row.calls(compiled)
    rec["max_abs_diff"], failed, written = verify(fns, w.name)
    errors += failed
    try:
        rec["kernels"] = kernel_count(row.ir())
    except Exception as exc:  # noqa: BLE001
        errors.append(f"jit ir: {type(exc).__name__}: {exc}")
    end_checks(rec, errors, strict, f"{w.name} size={size}")
    time_row(rec, fns, f"{w.name}_{size}", **timing)
    rec["speedup_vs_out"] = math.nan
    rec["speedup_vs_compile"] = rec["compiled_median_ms"] / rec["atlas_median_ms"]
    read = sum(a.nbytes for a in row.arrays)
    rec.update(
        row_metrics(
            float(w.flops * first.size),
            read + written,
            written,
            rec["atlas_median_ms"],
            False,
            rec["threads"],
            limits,
        )
    )
    return order_columns(rec)


def benchmark_fused(
    executor: Any,
    count: int | None = None,
    quick: bool = False,
    compile: bool = True,
    verbose: bool = True,
    **timing,
):
    """Notebook helper: every workload at its quick sizes (``quick``) or its first
    ``count`` sizes (all when None), strict correctness, as a DataFrame.  ``timing``
    overrides the run's timing settings (warmup_runs, timing_runs, ...)."""
    import pandas as pd

    from .suite import run_suite

    recs = []
    for name, w in workloads().items():
        recs += run_suite(
            [name],
            quick=quick,
            executor=executor,
            sizes=w.quick if quick else w.sizes[:count],
            verbose=verbose,
            strict=True,
            compile=compile,
            **timing,
        )
    return pd.DataFrame(recs)
