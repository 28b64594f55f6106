"""The benchmark op table and its runner.

Every row: inputs are built once from ``np.random.default_rng``; Atlas is verified against
PyTorch (and NumPy against PyTorch, to catch a wrong reference) *before* timing; then
PyTorch as users call it, PyTorch with ``out=`` (where the op has it: the fairness control,
since Atlas reuses pool memory while PyTorch allocates a fresh result), NumPy and Atlas are
timed alternating by :func:`compare_frameworks`.  A row is a record of the columns of
:mod:`hologram.bench.schema`.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import verify_correctness
from .roofline import row_metrics
from .schema import FRAMEWORKS, order_columns, shape_label
from .timing import compare_frameworks, paired_speedup

F32 = np.float32
RTOL, ATOL = 1e-5, 1e-6


@dataclass(frozen=True)
class Op:
    name: str
    group: str
    sizes: tuple[int, ...]  # full run (the op's own size parameter, see ``inputs``)
    quick: tuple[int, ...]  # --quick / HOLOGRAM_BENCH_QUICK=1
    inputs: Callable[[np.random.Generator, int], tuple[np.ndarray, ...]]
    torch: Callable[..., Any]  # (*tensors) -> tensor, as users write it
    numpy: Callable[..., Any]  # (*arrays) -> array
    atlas: Callable[..., Any]  # (*buffers) -> Buffer
    torch_out: Callable[..., Any] | None = None  # (out, *tensors) -> out
    tol: Callable[[tuple[np.ndarray, ...]], tuple[float, float]] = lambda xs: (RTOL, ATOL)
    # what Atlas's result is checked against: PyTorch's, or the float64 NumPy reference
    # for an op whose float32 PyTorch result is itself outside the tolerance of float64
    reference: str = "pytorch"
    # nominal flops per call (GEMM rows); other rows count NOMINAL_FLOPS per element
    flops: Callable[[tuple[np.ndarray, ...]], float] | None = None


# ----------------------------------------------------------------------------- inputs


def _normal(k: int = 1, scale: float = 1.0):
    return lambda rng, n: tuple((rng.standard_normal(n, dtype=F32) * F32(scale)) for _ in range(k))


def _uniform(lo: float, hi: float):
    return lambda rng, n: (rng.uniform(lo, hi, n).astype(F32),)


def _div_inputs(rng, n):
    b = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    return rng.standard_normal(n, dtype=F32), b.astype(F32)


def _pow_inputs(rng, n):
    return rng.uniform(0.5, 2.0, n).astype(F32), rng.uniform(-2.0, 2.0, n).astype(F32)


def _rows(rng, rows):  # softmax: rows x 1000
    return (rng.standard_normal((rows, 1000), dtype=F32) * F32(3),)


def _ln_inputs(rng, rows, cols=1024):  # layer_norm: rows x 1024, weight and bias (1024,)
    return (
        rng.standard_normal((rows, cols), dtype=F32) * F32(3) + F32(1),
        rng.standard_normal(cols, dtype=F32),
        rng.standard_normal(cols, dtype=F32),
    )


def _bias_inputs(rng, rows, cols=1024):  # bias add: (rows, 1024) + (1024,), broadcast
    return rng.standard_normal((rows, cols), dtype=F32), rng.standard_normal(cols, dtype=F32)


def _mul(a, b):  # the operator itself: the same expression for every framework
    return a * b


def _axpb(a):
    return 2.0 * a + 1.0


def _add(a, b):
    return a + b


def _cols_inputs(rng, rows, cols=1024):  # sum over axis 0 of (rows, 1024)
    return (rng.standard_normal((rows, cols), dtype=F32),)


def _square(rng, n):  # gemm: two N x N
    return rng.standard_normal((n, n), dtype=F32), rng.standard_normal((n, n), dtype=F32)


def _ce_inputs(rng, n, classes=1000):  # cross-entropy: (N, C) logits, (N,) int64 targets
    return rng.standard_normal((n, classes), dtype=F32) * F32(2), rng.integers(
        0, classes, n, dtype=np.int64
    )


# ----------------------------------------------------------------------------- numpy references


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_cross_entropy(x, t):
    m = x.max(axis=1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(t)), t].mean()


def _np_log_softmax(x):
    d = x - x.max(axis=-1, keepdims=True)
    return d - np.log(np.exp(d).sum(axis=-1, keepdims=True))


def _np_layer_norm(x, w, b, eps=1e-5):
    """The float64 layer norm (biased variance), rounded to float32."""
    x64 = x.astype(np.float64)
    d = x64 - x64.mean(axis=-1, keepdims=True)
    n = d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
    return (n * w.astype(np.float64) + b.astype(np.float64)).astype(F32)


_ERF = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf: math.erf per element


def _np_gelu(x):
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _ERF(x64 / math.sqrt(2.0)).astype(np.float64))).astype(F32)


def _bce_inputs(rng, n):  # binary cross-entropy: probabilities, soft targets in [0, 1]
    return rng.uniform(0.0, 1.0, n).astype(F32), rng.uniform(0.0, 1.0, n).astype(F32)


def _np_bce(p, t):
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped at -100 below
        lp = np.maximum(np.log(p), F32(-100))
        lq = np.maximum(np.log1p(-p), F32(-100))
    return np.mean((t - F32(1)) * lq - t * lp, dtype=np.float64)


def _accumulation_tol(xs):
    """Sums over many float32 terms: different (equally valid) summation orders differ
    by ~eps * sqrt(n) * |terms|, so the absolute tolerance grows with the reduced length."""
    return RTOL, ATOL * max(1.0, math.sqrt(xs[0].size))


def _column_sum_tol(xs):
    return RTOL, ATOL * xs[0].shape[0]  # a column sum of `rows` terms: error ~ eps * rows


def _gemm_tol(xs):
    return RTOL, ATOL * xs[0].shape[-1]  # error of a length-k float32 dot product ~ eps * k


# GEMM-shaped rows: each row's size parameter is A's element count (b * m * k, also the
# row's size column), a key into the row's table of (b, m, k, n) shapes.  The operand
# forms: "mm" A (m, k) @ B (k, n); "mv" A (m, k) @ x (k,); "linear" x (m, k) and W stored
# (n, k), x @ W.T; "bmm" A (b, m, k) @ B (b, k, n).
_GEMM_OPERANDS = {
    "mm": lambda b, m, k, n: ((m, k), (k, n)),
    "mv": lambda b, m, k, n: ((m, k), (k,)),
    "linear": lambda b, m, k, n: ((m, k), (n, k)),
    "bmm": lambda b, m, k, n: ((b, m, k), (b, k, n)),
}


def _gemm_shapes(form: str, full, quick):
    """(sizes, quick sizes, inputs, flops) of a GEMM-shaped row of operand ``form``."""
    shapes = {b * m * k: (b, m, k, n) for b, m, k, n in (*full, *quick)}
    assert len(shapes) == len(set(full) | set(quick)), "two shapes share a size parameter"

    def inputs(rng, size):
        return tuple(rng.standard_normal(s, dtype=F32) for s in _GEMM_OPERANDS[form](*shapes[size]))

    def flops(xs):
        b, m, k, n = shapes[xs[0].size]
        return 2.0 * b * m * k * n

    key = lambda t: t[0] * t[1] * t[2]  # noqa: E731
    return tuple(map(key, full)), tuple(map(key, quick)), inputs, flops


def _square_flops(xs):
    return 2.0 * xs[0].size * xs[1].shape[1]


def _hg_mm(a, b):
    from hologram import ops as hgo

    return hgo.gemm(a, b, m=a.shape[0], n=b.shape[1], k=a.shape[1])


def _hg_linear(x, w):  # x @ W.T, W stored (out, in) as in nn.Linear
    from hologram import ops as hgo

    return hgo.gemm(x, w, m=x.shape[0], n=w.shape[0], k=x.shape[1], trans_b=True)


def _linalg_rows(torch, tf, hgo) -> list[Op]:
    """The GEMM rows: square, then the shapes of issue 14 (vector x matrix, matrix x
    vector, small m, tall-skinny, x @ W.T and batched)."""
    mm_out = lambda o, a, b: torch.matmul(a, b, out=o)  # noqa: E731

    def row(name, form, full, quick, fns):
        sizes, q, inputs, flops = _gemm_shapes(form, full, quick)
        return Op(name, "linalg", sizes, q, inputs, *fns, tol=_gemm_tol, flops=flops)

    mm = (torch.matmul, np.matmul, _hg_mm, mm_out)
    return [
        Op(
            "gemm",
            "linalg",
            (64, 128, 256, 512, 1024),
            (64, 128),
            _square,
            torch.matmul,
            np.matmul,
            _hg_mm,
            mm_out,
            _gemm_tol,
            flops=_square_flops,
        ),
        row("gemv", "mm", ((1, 1, 1000, 1000), (1, 1, 4096, 4096)), ((1, 1, 256, 256),), mm),
        row(
            "matvec",
            "mv",
            ((1, 1000, 1000, 1), (1, 4096, 4096, 1)),
            ((1, 256, 256, 1),),
            (torch.mv, np.matmul, hgo.matmul, lambda o, a, x: torch.mv(a, x, out=o)),
        ),
        row(
            "gemm_small_m",
            "mm",
            tuple((1, m, kn, kn) for kn in (1024, 4096) for m in (1, 8, 16)),
            ((1, 1, 1024, 1024), (1, 16, 1024, 1024)),
            mm,
        ),
        row(
            "gemm_tall_skinny",
            "mm",
            ((1, 10_000, 64, 64), (1, 100_000, 64, 64)),
            ((1, 1000, 64, 64),),
            mm,
        ),
        row(
            "linear",
            "linear",
            ((1, 1, 4096, 4096), (1, 16, 4096, 4096), (1, 128, 768, 3072)),
            ((1, 1, 1024, 1024), (1, 32, 256, 512)),
            (
                tf.linear,
                lambda x, w: x @ w.T,
                _hg_linear,
                lambda o, x, w: torch.mm(x, w.t(), out=o),
            ),
        ),
        row(
            "matmul_batched",
            "bmm",
            ((32, 64, 64, 64), (32, 128, 128, 128)),
            ((8, 32, 32, 32), (32, 64, 64, 64)),
            (torch.bmm, np.matmul, lambda a, b: a @ b, lambda o, a, b: torch.bmm(a, b, out=o)),
        ),
    ]


# ----------------------------------------------------------------------------- the table


def _build_ops() -> dict[str, Op]:
    import torch
    import torch.nn.functional as tf

    from hologram import ops as hgo

    ew = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
    red = (1_000, 10_000, 100_000, 1_000_000)
    q = (1_000, 10_000)
    table = [
        # elementwise
        Op(
            "vector_add",
            "elementwise",
            ew,
            q,
            _normal(2),
            torch.add,
            np.add,
            hgo.vector_add,
            lambda o, a, b: torch.add(a, b, out=o),
        ),
        Op(
            "vector_sub",
            "elementwise",
            ew,
            q,
            _normal(2),
            torch.sub,
            np.subtract,
            hgo.vector_sub,
            lambda o, a, b: torch.sub(a, b, out=o),
        ),
        Op(
            "vector_mul",
            "elementwise",
            ew,
            q,
            _normal(2),
            torch.mul,
            np.multiply,
            hgo.vector_mul,
            lambda o, a, b: torch.mul(a, b, out=o),
        ),
        Op(
            "vector_div",
            "elementwise",
            ew,
            q,
            _div_inputs,
            torch.div,
            np.divide,
            hgo.vector_div,
            lambda o, a, b: torch.div(a, b, out=o),
        ),
        Op(
            "neg",
            "elementwise",
            ew,
            q,
            _normal(),
            torch.neg,
            np.negative,
            hgo.neg,
            lambda o, a: torch.neg(a, out=o),
        ),
        Op(
            "abs",
            "elementwise",
            ew,
            q,
            _normal(),
            torch.abs,
            np.abs,
            hgo.abs,
            lambda o, a: torch.abs(a, out=o),
        ),
        # operators (the same Python expression for PyTorch, NumPy and Atlas) and a
        # broadcast operand read in place
        Op(
            "mul_operator",
            "elementwise",
            (1_000, 100_000, 1_000_000),
            q,
            _normal(2),
            _mul,
            _mul,
            _mul,
        ),
        Op(
            "axpb_operator",
            "elementwise",
            (1_000, 100_000, 1_000_000),
            q,
            _normal(),
            _axpb,
            _axpb,
            _axpb,
        ),
        Op(
            "bias_add",
            "elementwise",
            (64, 512, 4096),
            (64,),
            _bias_inputs,
            _add,
            _add,
            _add,
            lambda o, a, b: torch.add(a, b, out=o),
        ),
        # activations
        Op(
            "relu",
            "activation",
            ew,
            q,
            _normal(),
            torch.relu,
            lambda x: np.maximum(x, F32(0)),
            hgo.relu,
        ),
        Op(
            "sigmoid",
            "activation",
            ew,
            q,
            _normal(scale=3),
            torch.sigmoid,
            lambda x: F32(1) / (F32(1) + np.exp(-x)),
            hgo.sigmoid,
            lambda o, a: torch.sigmoid(a, out=o),
        ),
        Op(
            "tanh",
            "activation",
            ew,
            q,
            _normal(scale=3),
            torch.tanh,
            np.tanh,
            hgo.tanh,
            lambda o, a: torch.tanh(a, out=o),
        ),
        Op(
            "softmax",
            "activation",
            (1, 10, 100, 1000),
            (10,),
            _rows,
            lambda x: torch.softmax(x, dim=-1),
            _np_softmax,
            hgo.softmax,
        ),
        Op(
            "log_softmax",
            "activation",
            (1, 10, 100, 1000, 4096),
            (10,),
            _rows,
            lambda x: torch.log_softmax(x, dim=-1),
            _np_log_softmax,
            hgo.log_softmax,
        ),
        Op(
            "layer_norm",
            "activation",
            (1, 10, 100, 1000, 4096),
            (10,),
            _ln_inputs,
            lambda x, w, b: tf.layer_norm(x, (x.shape[-1],), w, b),
            _np_layer_norm,
            hgo.layer_norm,
        ),
        Op(
            "gelu",
            "activation",
            red,
            q,
            _normal(),
            tf.gelu,
            _np_gelu,
            hgo.gelu,
            # PyTorch's float32 gelu is off x Phi(x) by a little more than the tolerance
            # near |x| = 3.5 (its vectorised erf; tests/test_ops_new.py compares both
            # errors): Atlas is checked against float64 at the usual tolerance instead
            reference="float64",
        ),
        # transcendentals
        Op(
            "exp",
            "transcendental",
            ew,
            q,
            _normal(scale=3),
            torch.exp,
            np.exp,
            hgo.exp,
            lambda o, a: torch.exp(a, out=o),
        ),
        Op(
            "log",
            "transcendental",
            ew,
            q,
            _uniform(0.01, 100.0),
            torch.log,
            np.log,
            hgo.log,
            lambda o, a: torch.log(a, out=o),
        ),
        Op(
            "sqrt",
            "transcendental",
            ew,
            q,
            _uniform(0.0, 100.0),
            torch.sqrt,
            np.sqrt,
            hgo.sqrt,
            lambda o, a: torch.sqrt(a, out=o),
        ),
        Op(
            "pow",
            "transcendental",
            ew,
            q,
            _pow_inputs,
            torch.pow,
            np.power,
            hgo.pow,
            lambda o, a, b: torch.pow(a, b, out=o),
        ),
        # reductions (whole tensor -> scalar)
        Op(
            "sum",
            "reduction",
            red,
            q,
            _normal(),
            torch.sum,
            np.sum,
            hgo.sum,
            lambda o, a: torch.sum(a, dim=0, out=o),
            _accumulation_tol,
        ),
        Op(
            "max",
            "reduction",
            red,
            q,
            _normal(),
            torch.max,
            np.max,
            hgo.max,
            lambda o, a: torch.amax(a, dim=0, out=o),
        ),
        Op(
            "min",
            "reduction",
            red,
            q,
            _normal(),
            torch.min,
            np.min,
            hgo.min,
            lambda o, a: torch.amin(a, dim=0, out=o),
        ),
        # reductions over one axis of a (rows, 1024) buffer
        Op(
            "sum_axis0",
            "reduction",
            (1024, 4096),
            (64,),
            _cols_inputs,
            lambda x: torch.sum(x, dim=0),
            lambda x: x.sum(axis=0, dtype=np.float64),
            lambda x: hgo.sum(x, axis=0),
            lambda o, x: torch.sum(x, dim=0, out=o),
            _column_sum_tol,
        ),
        # linear algebra
        *_linalg_rows(torch, tf, hgo),
        # losses
        Op(
            "mse_loss",
            "loss",
            red,
            q,
            _normal(2),
            tf.mse_loss,
            lambda p, t: np.mean(np.square(p - t)),
            hgo.mse_loss,
            tol=_accumulation_tol,
        ),
        Op(
            "cross_entropy",
            "loss",
            (64, 512, 4096),
            (64,),
            _ce_inputs,
            tf.cross_entropy,
            _np_cross_entropy,
            hgo.cross_entropy,
        ),
        Op(
            "binary_cross_entropy",
            "loss",
            red,
            q,
            _bce_inputs,
            tf.binary_cross_entropy,
            _np_bce,
            hgo.binary_cross_entropy,
            tol=_accumulation_tol,
        ),
    ]
    return {op.name: op for op in table}


_OPS: dict[str, Op] | None = None


def ops() -> dict[str, Op]:
    """The op table, name -> Op (built on first use: it imports torch and hologram)."""
    global _OPS
    if _OPS is None:
        _OPS = _build_ops()
    return _OPS


def group_of(name: str) -> str:
    """The group of op ``name`` in the table; 'other' for a name the table lacks."""
    op = ops().get(name)
    return op.group if op is not None else "other"


def quick_mode() -> bool:
    return os.environ.get("HOLOGRAM_BENCH_QUICK", "") not in ("", "0")


# ----------------------------------------------------------------------------- runner

#: Nominal flops per element of the first input, for the rows without a ``flops`` function:
#: the op's arithmetic operations as defined (a transcendental function counts one, a
#: row reduction one per element).  A row missing here has no flops (NaN), only bytes.
NOMINAL_FLOPS = {
    "vector_add": 1,
    "vector_sub": 1,
    "vector_mul": 1,
    "vector_div": 1,
    "neg": 1,
    "abs": 1,
    "mul_operator": 1,
    "axpb_operator": 2,  # 2 * a + 1
    "bias_add": 1,
    "relu": 1,
    "sigmoid": 4,  # 1 / (1 + exp(-x))
    "tanh": 1,
    "softmax": 5,  # max, subtract, exp, sum, divide
    "log_softmax": 5,  # max, subtract, exp, sum, subtract
    "layer_norm": 7,  # mean, subtract, square, sum, scale, weight, bias
    "gelu": 5,  # x / sqrt(2), erf, + 1, * x, * 0.5
    "exp": 1,
    "log": 1,
    "sqrt": 1,
    "pow": 1,
    "sum": 1,
    "sum_axis0": 1,
    "max": 1,
    "min": 1,
    "mse_loss": 3,  # subtract, square, sum
    "cross_entropy": 4,  # max, subtract, exp, sum over each logit
    "binary_cross_entropy": 7,  # log p, 1 - p, log, two products, difference, sum
}


def row_work(op: Op, arrays: Sequence[np.ndarray], result_nbytes: int) -> tuple[float, int, int]:
    """(flops, bytes read plus written, bytes written) of one call of ``op`` on ``arrays``
    whose result has ``result_nbytes``: every input read once, the result written once."""
    if op.flops is not None:
        flops = op.flops(tuple(arrays))
    else:
        flops = NOMINAL_FLOPS.get(op.name, math.nan) * arrays[0].size
    return float(flops), sum(a.nbytes for a in arrays) + result_nbytes, result_nbytes


#: per-run timing settings; quick trades precision for a short run
FULL = dict(warmup_runs=5, timing_runs=25, min_sample_s=0.01)
QUICK = dict(warmup_runs=2, timing_runs=5, min_sample_s=0.001)

#: Pause (busy) before every sample when more than one thread runs.  PyTorch's OpenMP
#: workers spin after each parallel call and hold the other cores, which slows whichever
#: framework is timed next; the pause outlasts their spinning (docs/performance.md has the
#: measurements).  With one thread nothing spins and no pause is taken.
SETTLE_MULTI_S = 0.03


def timing_settings(quick: bool, threads: int) -> dict[str, Any]:
    """The timing settings of a run: FULL or QUICK plus the settle pause for ``threads``."""
    return {
        **(QUICK if quick else FULL),
        "settle_s": SETTLE_MULTI_S if resolve_threads(threads) > 1 else 0.0,
    }


def run_op(
    op: Op | str,
    size: int,
    executor: Any,
    seed: int = 0,
    strict: bool = False,
    warmup_runs: int = 5,
    timing_runs: int = 10,
    min_sample_s: float = 0.002,
    settle_s: float = 0.0,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Verify then time one (op, size); returns a flat record.

    A failed check (or an Atlas error) is recorded in ``correct``/``error`` and, with
    ``strict``, raised.  A row whose Atlas call raised is not timed.  ``limits``
    (:func:`hologram.bench.roofline.measure`) gives the row's percentages of the machine's
    peak and bandwidth; without them those columns are NaN.
    """
    import torch

    op = ops()[op] if isinstance(op, str) else op
    rng = np.random.default_rng([seed, zlib.crc32(op.name.encode()), size])
    arrays = op.inputs(rng, size)
    # PyTorch's own memory (64-byte aligned), as torch.randn or a model would give: a tensor
    # sharing NumPy's memory is only 16-byte aligned, which slows some of PyTorch's kernels
    tensors = [torch.from_numpy(a).clone() for a in arrays]
    buffers = [executor.from_numpy(a) for a in arrays]
    rec = start_record(op.name, op.group, arrays[0])
    rec["max_abs_diff"] = None
    fns: dict[str, Callable[[], Any]] = {
        "pytorch": lambda: op.torch(*tensors),
        "numpy": lambda: op.numpy(*arrays),
        "atlas": lambda: op.atlas(*buffers),
    }
    rtol, atol = op.tol(arrays)
    errors = []
    torch_result = op.torch(*tensors)
    expected = torch_result if op.reference == "pytorch" else op.numpy(*arrays)
    try:
        rec["max_abs_diff"] = verify_correctness(
            op.atlas(*buffers), expected, rtol, atol, name=op.name
        )
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        errors.append(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, AssertionError):
            fns.pop("atlas")
    try:
        if op.reference == "pytorch":
            verify_correctness(
                op.numpy(*arrays), expected, rtol, atol, name=f"{op.name} (numpy reference)"
            )
    except AssertionError as exc:
        errors.append(f"AssertionError: {exc}")
    if op.torch_out is not None:
        out = torch.empty_like(torch_result)
        fns["pytorch_out"] = lambda: op.torch_out(out, *tensors)
    end_checks(rec, errors, strict, f"{op.name} size={size}")
    time_row(rec, fns, f"{op.name}_{size}", warmup_runs, timing_runs, min_sample_s, settle_s)
    rec["speedup_vs_out"] = rec["pytorch_out_median_ms"] / rec["atlas_median_ms"]
    rec.update(speedup_vs_compile=math.nan, compile_s=math.nan, kernels=None)  # fused rows only
    written = int(torch_result.numel() * torch_result.element_size())
    flops, nbytes, written = row_work(op, arrays, written)
    rec.update(
        row_metrics(
            flops,
            nbytes,
            written,
            rec["atlas_median_ms"],
            op.group == "linalg",
            rec["threads"],
            limits,
        )
    )
    return order_columns(rec)


def start_record(name: str, group: str, first: np.ndarray) -> dict[str, Any]:
    """The first columns of a row's record: name, size and shape of its first input,
    group, and PyTorch's thread count."""
    import torch

    return {
        "operation": name,
        "size": int(first.size),
        "shape": shape_label(first.shape),
        "group": group,
        "threads": int(torch.get_num_threads()),
    }


def end_checks(rec: dict[str, Any], errors: list[str], strict: bool, what: str) -> None:
    """The correct and error columns from a row's failed checks; with ``strict`` a
    failure raises AssertionError naming ``what``."""
    rec["correct"] = not errors
    rec["error"] = "; ".join(errors) or None
    if errors and strict:
        raise AssertionError(f"{what}: {rec['error']}")


def time_row(
    rec: dict[str, Any],
    fns: dict[str, Callable[[], Any]],
    name: str,
    warmup_runs: int = 5,
    timing_runs: int = 10,
    min_sample_s: float = 0.002,
    settle_s: float = 0.0,
) -> None:
    """Time ``fns`` (framework -> call) alternating, in the order of FRAMEWORKS, and fill
    ``rec``'s time columns (:func:`fill_times`)."""
    results = compare_frameworks(
        {k: fns[k] for k in FRAMEWORKS if k in fns},
        warmup_runs,
        timing_runs,
        min_sample_s,
        name=name,
        settle_s=settle_s,
    )
    fill_times(rec, results)


def fill_times(rec: dict[str, Any], results: dict[str, Any]) -> None:
    """The time columns of every framework in ``rec`` (NaN where ``results`` lacks it), the
    speedup (PyTorch / Atlas medians) and the paired speedup."""
    for fw in FRAMEWORKS:
        r = results.get(fw)
        for stat in ("mean", "std", "median"):
            rec[f"{fw}_{stat}_ms"] = getattr(r, f"{stat}_ms") if r else math.nan
    rec["speedup"] = rec["pytorch_median_ms"] / rec["atlas_median_ms"]
    both = "pytorch" in results and "atlas" in results
    rec["speedup_paired"] = (
        paired_speedup(results["pytorch"], results["atlas"]) if both else math.nan
    )


def format_row(rec: dict[str, Any]) -> str:
    """A short human-readable line for one record."""
    if rec["atlas_median_ms"] is None or math.isnan(rec["atlas_median_ms"]):
        return f"{rec['operation']:>14} {rec['shape']:>10}  FAILED: {rec['error']}"
    s = rec["speedup"]
    line = (
        f"{rec['operation']:>14} {rec['shape']:>10}  PyTorch {rec['pytorch_median_ms']:9.4f} ms"
        f"  Atlas {rec['atlas_median_ms']:9.4f} ms  speedup {s:6.2f}x "
        f"{'(Atlas faster)' if s > 1 else '(PyTorch faster)'}"
    )

    def pct(col: str, of: str) -> str:  # empty when the run measured no limits
        v = rec[col]
        return "" if v is None or math.isnan(v) else f", {v:.0f}% of {of}"

    rate = f"{rec['gbs']:.1f} GB/s{pct('pct_bandwidth', 'bandwidth')}"
    if rec["group"] == "linalg":
        rate = f"{rec['gflops']:.1f} GFLOP/s{pct('pct_peak', 'peak')}; {rate}"
    line = f"{line}  [{rate}]"
    if rec.get("group") == "fused":
        c = rec["speedup_vs_compile"]
        line += "  torch.compile " + (
            "not measured" if c is None or math.isnan(c) else f"{c:.2f}x ({rec['compile_s']:.1f} s)"
        )
    return line if rec["correct"] else f"{line}  CHECK FAILED: {rec['error']}"


def resolve_threads(threads: int) -> int:
    """0 means every core."""
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    return threads or os.cpu_count() or 1


_BLAS_LIMIT: Any = None  # keeps NumPy's BLAS thread limit in force for the run


def make_executor(threads: int = 1):
    """Set PyTorch and NumPy's BLAS to ``threads`` and return a hologram Executor with the
    same count, so every column of a row runs on the same number of cores."""
    global _BLAS_LIMIT
    import torch

    import hologram as hg

    n = resolve_threads(threads)
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        _BLAS_LIMIT = threadpool_limits(limits=n, user_api="blas")
    except ImportError:  # NumPy's column then runs with its BLAS default
        _BLAS_LIMIT = None
    return hg.Executor(threads=threads)


def table() -> dict[str, Any]:
    """Every row kind of the benchmark, name -> Op or fused Workload: the op table, then
    the fused group (:mod:`hologram.bench.fused`)."""
    from .fused import workloads

    return {**ops(), **workloads()}


def plan(
    names: Sequence[str] | None = None,
    quick: bool = False,
    sizes: Iterable[int] | None = None,
) -> list[tuple[Any, int]]:
    """The (op, size) rows to run, in table order; the name ``fused`` stands for the whole
    fused group."""
    from .fused import GROUP, workloads

    full = table()
    names = [m for n in names for m in (workloads() if n == GROUP else (n,))] if names else None
    unknown = [n for n in names or () if n not in full]
    if unknown:
        raise KeyError(f"unknown op(s) {unknown}; known: {', '.join(full)}, {GROUP}")
    chosen = [full[n] for n in dict.fromkeys(names)] if names else list(full.values())
    return [(op, s) for op in chosen for s in (sizes or (op.quick if quick else op.sizes))]


def run_suite(
    names: Sequence[str] | None = None,
    quick: bool = False,
    threads: int = 1,
    seed: int = 0,
    executor: Any = None,
    sizes: Iterable[int] | None = None,
    progress: Any = None,
    verbose: bool = False,
    strict: bool = False,
    limits: dict[str, Any] | None = None,
    compile: bool | None = None,
    **timing,
) -> list[dict[str, Any]]:
    """Run every (op, size) of :func:`plan`; returns the records.

    ``progress``: a callable given each finished record (e.g. to advance a bar).
    ``compile``: whether the fused rows measure torch.compile (default: not with
    ``quick``).  ``timing`` overrides :func:`timing_settings` (warmup_runs, timing_runs,
    min_sample_s, settle_s).
    """
    from .fused import Row, Workload, run_workload, warm_inductor

    executor = executor if executor is not None else make_executor(threads)
    settings = {**timing_settings(quick, executor.threads), **timing}
    compile = not quick if compile is None else compile
    rows = plan(names, quick, sizes)
    if compile and any(isinstance(op, Workload) for op, _ in rows):
        warm_inductor()
    records = []
    for op, size in rows:
        if isinstance(op, Workload):
            row = Row(op, size, executor, seed)
            rec = run_workload(row, strict, compile, limits, **settings)
        else:
            rec = run_op(op, size, executor, seed=seed, strict=strict, limits=limits, **settings)
        records.append(rec)
        if verbose:
            print(format_row(rec), flush=True)
        if progress is not None:
            progress(rec)
    return records


def benchmark_op(
    name: str,
    sizes: Iterable[int] | None = None,
    executor: Any = None,
    warmup_runs: int = 5,
    timing_runs: int = 10,
    verbose: bool = True,
):
    """Notebook helper: one op over ``sizes`` (default: the op's full or quick sizes), strict
    correctness, returned as a DataFrame."""
    import pandas as pd

    recs = run_suite(
        [name],
        quick=quick_mode(),
        executor=executor,
        sizes=sizes,
        verbose=verbose,
        strict=True,
        warmup_runs=warmup_runs,
        timing_runs=timing_runs,
    )
    return pd.DataFrame(recs)
