"""The IR's NumPy evaluation, shared by the random-kernel tests (test_ir_lowering, test_ir_fuzz).

``evaluate(kernel, args, rows, cols)`` runs a verified kernel, read from its printed text, on NumPy
arrays.  It returns what a launch must leave in every buffer param and, per element, a bound on how
far Atlas may be from it:

* ``err == 0``: exactly this value (NaN where NaN).  A value computed from exact operands by an
  IEEE-exact op (add, sub, mul, div, sqrt; neg, abs, relu, min, max, select, compares, casts) is
  the correctly rounded float32 result: the op in float64, rounded to float32 (double rounding is
  innocuous for these, 53 >= 2*24 + 2).  A sum is exact when its terms are integers with
  sum|x| < 2**24: then every partial sum, in any order, is exact.
* ``0 < err < inf``: ``|Atlas - value| <= err``.  exp, log, tanh, sigmoid, erf, log1p, expm1 and pow of exact operands
  get the suite's tolerance against float64 (conftest RTOL, ATOL; an overflow to inf or a NaN is
  exact); a sum that is not exact gets the bound of float32 summation in any order (conftest
  ``sum_bound``); gemm gets test_ops' bound, max(RTOL, gamma_k) * |A| @ |B|.  An op whose operands
  carry an error propagates it: every op here is monotone in each operand on the box of its
  operands' possible values (div only where the divisor's box excludes 0, pow only for a positive
  base), so the box's corners bound the deviation, to which the op adds its own rounding
  (2**-24 relative, plus 2**-149 for the subnormal range) or its tolerance.
* ``err == inf``: unknown, not compared: a compare, cast, gather or select decided by an operand
  whose box straddles the decision, and a NaN or inf that an operand's error could make or unmake.

It also predicts the launch's exception: ValueError where a buffer's length does not fit its role
(rows*cols for load, rows for load.row, cols for load.col: check_args and launch_gemm in
src/core/interp.c), IndexError where a gather or check.range index
is outside its bounds ("maybe" where that index is unknown).
"""

import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np
from conftest import ATOL, FLT_MAX, RTOL, U32

SUBNORMAL_STEP = 2.0**-149
F64_SLACK = 2.0**-50  # relative error of the float64 evaluation itself, with room to spare
INT_DTYPES = {"i32": np.int32, "i64": np.int64}
SHORT = {"float32": "f32", "int32": "i32", "int64": "i64", "bool": "bool"}

# Monotone float ops, as float64 functions.  IEEE: Atlas rounds the exact result correctly.
IEEE_UNARY = {"neg": np.negative, "abs": np.abs, "relu": lambda v: np.maximum(v, 0.0)}
IEEE_UNARY["sqrt"] = np.sqrt
APPROX_UNARY = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "log1p": np.log1p,
    "expm1": np.expm1,
}
IEEE_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "min": np.minimum,  # NaN-propagating, as Atlas's min and max
    "max": np.maximum,
}
NO_ROUNDING = {"neg", "abs", "relu", "min", "max"}


def _int_power(b, e):
    """b ** e as PyTorch's integer pow: by squaring with wrapping (uint64), and for e < 0: 1 for
    b = 1, -1 or 1 for b = -1 by e's parity, else 0."""
    b, e = np.broadcast_arrays(np.asarray(b, np.int64), np.asarray(e, np.int64))
    r, base = np.ones(b.shape, np.uint64), b.astype(np.uint64)
    k = np.where(e < 0, 0, e).astype(np.uint64)
    while k.any():
        r = np.where(k & np.uint64(1), r * base, r)
        base, k = base * base, k >> np.uint64(1)
    negative = np.where(b == 1, 1, np.where(b == -1, 1 - 2 * (e & 1), 0))
    return np.where(e < 0, negative, r.view(np.int64))


INT_OPS = {
    "pow": _int_power,
    "neg": np.negative,
    "abs": np.abs,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "min": np.minimum,
    "max": np.maximum,
}
COMPARES = {"lt", "le", "gt", "ge", "eq", "ne"}
ELEM, ROW, UNIFORM = "elem", "row", "uniform"
LEVEL_ORDER = {UNIFORM: 0, ROW: 1, ELEM: 2}


@dataclass
class Value:
    ref: np.ndarray  # float64 (f32 values), int64 (i32/i64) or bool, shaped by level
    err: np.ndarray  # float64 bound per element: 0 exact, inf unknown
    level: str
    type: str  # "f32", "i32", "i64" or "bool"


@dataclass
class Evaluation:
    raises: object = None  # None, ValueError, IndexError or "maybe" (an unknown index)
    buffers: dict = field(default_factory=dict)  # param index -> (ref, err) of the whole buffer


@dataclass
class Instr:
    op: str
    result: int  # -1 for store, check.range, gemm
    operands: list  # value ids, or param indices for the params of load/gather/store/gemm
    imm: object = None


def parse(kernel):
    """The kernel's instructions, from its printed text (values %0, %1, ... in order)."""
    names = [p[0] for p in kernel.params]
    out = []
    for line in str(kernel).splitlines()[1:-1]:
        m = re.fullmatch(r"\s*(?:%(\d+) = )?(\S+)(?: (.*))?", line)
        result, op, rest = int(m[1]) if m[1] else -1, m[2], (m[3] or "").split(", ")
        if op.startswith("const."):
            out.append(Instr(op, result, [], rest[0]))
            continue
        refs = [names.index(w) if not w.startswith("%") else int(w[1:]) for w in rest if w]
        out.append(Instr(op, result, refs))
    return out


def roles(kernel):
    """Each buffer param's access, as the verifier records it: "elem", "row", "col" (load.col),
    "one" (a uniform store), "gather", "gemm", or None (unused)."""
    instrs, role, level = parse(kernel), {}, {}
    for ins in instrs:
        if ins.op in ("load", "load.row", "load.col", "gather", "store", "gemm"):
            params = ins.operands[:3] if ins.op == "gemm" else ins.operands[:1]
            if ins.op == "store":
                r = {ELEM: "elem", ROW: "row", UNIFORM: "one"}[level[ins.operands[1]]]
            else:
                r = {"load": "elem", "load.row": "row", "load.col": "col"}.get(ins.op, ins.op)
            for p in params:
                if role.get(p) in (None, "gather"):
                    role[p] = r
        if ins.result >= 0:
            level[ins.result] = _level_of(ins, level)
    return role


def _level_of(ins, level):
    if ins.op in ("load", "load.col"):
        return ELEM
    if ins.op in ("load.row", "row.index") or ins.op.endswith(".row"):
        return ROW
    if ins.op.endswith(".all") or ins.op in ("const.f32", "const.i64", "param"):
        return UNIFORM
    if ins.op in ("nrows", "ncols"):
        return UNIFORM
    ops = ins.operands[1:] if ins.op == "gather" else ins.operands
    return max((level[v] for v in ops), key=LEVEL_ORDER.get, default=UNIFORM)


def evaluate(kernel, args, rows, cols):
    """args: per param, a NumPy array (a buffer's contents) or a Python scalar."""
    params = [(n, SHORT[d], s) for n, d, s in kernel.params]
    instrs = parse(kernel)
    ev = Evaluation()
    for i, (_n, dt, scalar) in enumerate(params):
        if not scalar:
            a = np.asarray(args[i]).ravel()
            ev.buffers[i] = (a.astype(np.float64 if dt == "f32" else np.int64), np.zeros(a.size))
    if instrs[0].op == "gemm":
        _gemm(ev, instrs[0], args, rows, cols)
        return ev
    if _size_error(kernel, args, rows, cols):
        ev.raises = ValueError
        return ev
    shapes = {ELEM: (rows, cols), ROW: (rows, 1), UNIFORM: (1, 1)}
    vals = {}
    fails = []  # per gather/check.range: (certainly out of bounds, possibly)
    for ins in instrs:
        v = _instr(ins, vals, params, args, rows, cols, shapes, ev, fails)
        if ins.result >= 0:
            vals[ins.result] = v
    if any(certain.any() for certain, _ in fails):
        ev.raises = IndexError
    elif any(maybe.any() for _, maybe in fails):
        ev.raises = "maybe"
    return ev


def _size_error(kernel, args, rows, cols):
    need = {"elem": rows * cols, "row": rows, "col": cols}
    for p, r in roles(kernel).items():
        n = np.asarray(args[p]).size
        if (r in need and n != need[r]) or (r == "one" and n < 1):
            return True
    return False


def _f(ref, err, level):
    return Value(np.asarray(ref, np.float64), np.asarray(err, np.float64), level, "f32")


def _uniform(ref, typ):
    return Value(np.full((1, 1), ref), np.zeros((1, 1)), UNIFORM, typ)


# their first operand is a param
PARAM_FIRST = {"param", "load", "load.row", "load.col", "gather", "store"}


def _instr(ins, vals, params, args, rows, cols, shapes, ev, fails):
    op = ins.op
    ops = [vals[v] for v in ins.operands[1 if op in PARAM_FIRST else 0 :]]
    if op == "const.f32":
        return _uniform(float(np.float32(float(ins.imm))), "f32")
    if op == "const.i64":
        return _uniform(np.int64(int(ins.imm)), "i64")
    if op == "param":
        p = ins.operands[0]
        dt = params[p][1]
        return _uniform(float(np.float32(args[p])) if dt == "f32" else np.int64(args[p]), dt)
    if op == "row.index":
        return Value(np.arange(rows, dtype=np.int64)[:, None], np.zeros((rows, 1)), ROW, "i64")
    if op in ("nrows", "ncols"):
        return _uniform(np.int64(rows if op == "nrows" else cols), "i64")
    if op in ("load", "load.row"):
        p = ins.operands[0]
        dt = params[p][1]
        level = ELEM if op == "load" else ROW
        ref = np.asarray(args[p]).ravel()[: rows * cols if level == ELEM else rows]
        ref = ref.reshape(shapes[level]).astype(np.float64 if dt == "f32" else np.int64)
        return Value(ref, np.zeros(shapes[level]), level, dt)
    if op == "load.col":
        # the same cols values in every row: an element-level value, spelled out per element
        dt = params[ins.operands[0]][1]
        ref = np.asarray(args[ins.operands[0]]).ravel()[:cols]
        ref = ref.astype(np.float64 if dt == "f32" else np.int64)
        return Value(np.tile(ref, (rows, 1)), np.zeros((rows, cols)), ELEM, dt)
    if op == "gather":
        return _gather(ins, ops[0], params, args, fails)
    if op == "store":
        _store(ev, ins.operands[0], ops[0], params, rows, cols)
        return None
    if op == "check.range":
        v, lo, hi = ops
        known = (v.err == 0) & (lo.err == 0) & (hi.err == 0)
        out = (v.ref < lo.ref) | (v.ref >= hi.ref)
        fails.append((known & out, ~known))
        return None
    if op.startswith("cast."):
        return _cast(ops[0], op[5:])
    if op.startswith("reduce."):
        return _reduce(op.split(".")[1], op.endswith(".row"), ops[0])
    if op == "select":
        c, a, b = ops
        ref = np.where(c.ref, a.ref, b.ref)
        err = np.where(c.err == 0, np.where(c.ref, a.err, b.err), np.inf)
        return Value(ref, err, _max_level(ops), a.type)
    if op in COMPARES:
        return _compare(op, *ops)
    if ops[0].type != "f32":
        return _int_op(INT_OPS[op], ops)
    if op in IEEE_UNARY or op in IEEE_BINARY:
        fn = IEEE_UNARY.get(op) or IEEE_BINARY[op]
        return _float_op(op, fn, ops, ieee=True)
    if op == "pow":
        return _float_op(op, np.power, ops, ieee=False)
    return _float_op(op, APPROX_UNARY[op], ops, ieee=False)


def _max_level(ops):
    return max((o.level for o in ops), key=LEVEL_ORDER.get)


def _int_op(fn, ops):
    with np.errstate(over="ignore"):
        ref = fn(*[o.ref for o in ops])  # int64 arrays wrap, as Atlas's uint64 arithmetic
    if ops[0].type == "i32":
        ref = ref.astype(np.int32).astype(np.int64)  # i32 results wrap at 32 bits
    errs = np.broadcast_arrays(*[o.err for o in ops])
    err = np.where(np.any([e != 0 for e in errs], axis=0), np.inf, 0.0)
    return Value(ref, err, _max_level(ops), ops[0].type)


def _float_op(op, fn, ops, ieee):
    refs = np.broadcast_arrays(*[o.ref for o in ops])
    errs = np.broadcast_arrays(*[o.err for o in ops])
    level = _max_level(ops)
    with np.errstate(all="ignore"):
        r = fn(*refs)
        exact_in = np.all([e == 0 for e in errs], axis=0)
        r32 = r.astype(np.float32).astype(np.float64)
        if ieee:
            ref_x, err_x = r32, np.zeros(r.shape)
        else:
            special = ~np.isfinite(r32)  # overflow to inf, or NaN: exact
            ref_x = np.where(special, r32, r)
            err_x = np.where(special, 0.0, RTOL * np.abs(r) + ATOL)
        if exact_in.all():
            return _f(ref_x, err_x, level)
        # operands with an error: the corners of their box bound the result
        boxes = [(x - e, x + e) for x, e in zip(refs, errs, strict=True)]
        corners = np.array([fn(*c) for c in itertools.product(*boxes)])
        nan = np.isnan(corners)
        inf = np.isinf(corners)
        all_nan = nan.all(axis=0)
        same_inf = inf.all(axis=0) & (corners == corners[0]).all(axis=0)
        dev = np.max(np.abs(corners - r), axis=0)
        if op in NO_ROUNDING:
            own = 0.0
        elif ieee:
            own = U32 * (np.abs(r) + dev) + SUBNORMAL_STEP
        else:
            own = RTOL * (np.abs(r) + dev) + ATOL
        err_e = dev + own + F64_SLACK * np.abs(r)
        unknown = (nan.any(axis=0) | inf.any(axis=0)) & ~all_nan & ~same_inf
        unknown |= np.abs(r) + err_e >= FLT_MAX
        if op == "div":
            lo, hi = boxes[1]
            unknown |= (errs[1] > 0) & (lo <= 0) & (hi >= 0)
        if op == "pow":
            unknown |= (boxes[0][0] <= 0) & ~exact_in
        ref_e = np.where(all_nan, np.nan, np.where(same_inf, corners[0], r))
        err_e = np.where(all_nan | same_inf, 0.0, np.where(unknown, np.inf, err_e))
    return _f(np.where(exact_in, ref_x, ref_e), np.where(exact_in, err_x, err_e), level)


def _compare(op, a, b):
    if op in ("gt", "ge"):
        a, b, op = b, a, {"gt": "lt", "ge": "le"}[op]
    a_ref, b_ref = np.broadcast_arrays(a.ref, b.ref)
    a_err, b_err = np.broadcast_arrays(a.err, b.err)
    level = _max_level([a, b])
    exact = (a_err == 0) & (b_err == 0)
    if a.type != "f32":
        fn = {"lt": np.less, "le": np.less_equal, "eq": np.equal, "ne": np.not_equal}[op]
        return Value(fn(a_ref, b_ref), np.where(exact, 0.0, np.inf), level, "bool")
    with np.errstate(invalid="ignore"):
        lo_a, hi_a, lo_b, hi_b = a_ref - a_err, a_ref + a_err, b_ref - b_err, b_ref + b_err
        if op == "lt":
            yes, no = hi_a < lo_b, lo_a >= hi_b
        elif op == "le":
            yes, no = hi_a <= lo_b, lo_a > hi_b
        else:
            yes, no = exact & (a_ref == b_ref), (lo_a > hi_b) | (hi_a < lo_b)
            if op == "ne":
                yes, no = no, yes
    nan = exact & (np.isnan(a_ref) | np.isnan(b_ref))  # every compare but ne is false
    ref = np.where(nan, op == "ne", yes)
    return Value(ref, np.where(nan | yes | no, 0.0, np.inf), level, "bool")


def _cast(a, to):
    if to == "bool":
        # true where nonzero, NaN included; known where the bound excludes or is zero
        with np.errstate(invalid="ignore"):
            known = (a.err == 0) | (np.abs(a.ref) > a.err)
        return Value(a.ref != 0, np.where(known, 0.0, np.inf), a.level, to)
    if to == "f32":
        ref = a.ref if a.type == "f32" else a.ref.astype(np.float32).astype(np.float64)
        return Value(
            ref, np.where(a.err == 0, 0.0, np.inf) if a.type != "f32" else a.err, a.level, to
        )
    if a.type == "f32":
        with np.errstate(invalid="ignore"):
            lo, hi = _f32_to_int(a.ref - a.err, to), _f32_to_int(a.ref + a.err, to)
        ref = _f32_to_int(a.ref, to)
        known = (a.err == 0) | ((lo == hi) & np.isfinite(a.err) & ~np.isnan(a.ref))
        err = np.where(known, 0.0, np.inf)
    else:
        ref, err = a.ref.astype(np.int64), a.err
    if to == "i32":
        ref = ref.astype(np.int32).astype(np.int64)  # wraps, as Atlas's (int32_t)(uint32_t)
    return Value(ref, err, a.level, to)


def _f32_to_int(x, to):
    """Atlas's f32 to i32/i64 (PyTorch's on x86): truncation; NaN, inf and values out of the
    type's range give its minimum."""
    big = 2.0 ** (31 if to == "i32" else 63)
    with np.errstate(invalid="ignore"):
        inside = (x >= -big) & (x < big)
    return np.where(inside, np.trunc(np.where(inside, x, 0.0)).astype(np.int64), -int(big))


def _reduce(kind, row, v):
    axis = 1 if row else None
    level = ROW if row else UNIFORM
    x, e = v.ref, v.err
    n = x.shape[1] if row else x.size
    keep = {"axis": axis, "keepdims": True}
    unknown = np.any(np.isinf(e), **keep)
    with np.errstate(invalid="ignore", over="ignore"):
        if kind in ("max", "min"):
            ref = (np.max if kind == "max" else np.min)(x, **keep)
            nan = np.any(np.isnan(x) & (e == 0), **keep)  # a NaN term decides (sticky NaN)
            err = np.where(nan, 0.0, np.where(unknown, np.inf, np.max(e, **keep)))
            return _f(np.where(nan, np.nan, ref).reshape(-1, 1), err.reshape(-1, 1), level)
        finite = np.isfinite(x)
        s = np.sum(x, **keep)
        e_sum = np.sum(e, **keep)
        a_sum = np.sum(np.where(finite, np.abs(x), 0.0), **keep) + e_sum
        gamma = (n - 1) * U32 / (1 - (n - 1) * U32) if n > 1 else 0.0
        exact = np.all((e == 0) & (x == np.round(x)), **keep) & (a_sum < 2.0**24)
        err = np.where(exact, 0.0, e_sum + gamma * a_sum + U32 * (np.abs(s) + e_sum))
        special = np.any(~finite, **keep)  # NaN or inf terms decide the sum
        err = np.where(special, 0.0, err)
        unknown |= a_sum >= FLT_MAX / 2
    return _f(s.reshape(-1, 1), np.where(unknown, np.inf, err).reshape(-1, 1), level)


def _gather(ins, idx, params, args, fails):
    p = ins.operands[0]
    buf = np.asarray(args[p]).ravel()
    known = idx.err == 0
    outside = (idx.ref < 0) | (idx.ref >= buf.size)
    fails.append((known & outside, ~known))
    safe = np.where(outside | ~known, 0, idx.ref)
    dt = params[p][1]
    ref = buf[safe] if buf.size else np.zeros(idx.ref.shape)
    ref = ref.astype(np.float64 if dt == "f32" else np.int64)
    return Value(ref, np.where(known & ~outside, 0.0, np.inf), idx.level, dt)


def _store(ev, p, v, params, rows, cols):
    ref, err = ev.buffers[p]
    n = {ELEM: rows * cols, ROW: rows, UNIFORM: 1}[v.level]
    shape = {ELEM: (rows, cols), ROW: (rows, 1), UNIFORM: (1, 1)}[v.level]
    vref, verr = np.broadcast_to(v.ref, shape).ravel(), np.broadcast_to(v.err, shape).ravel()
    if params[p][1] == "i32":
        vref = vref.astype(np.int32).astype(np.int64)
    ref[:n], err[:n] = vref, verr


def _gemm(ev, ins, args, m, n):
    a, b, c, kp = ins.operands
    k = int(args[kp])
    sizes = [np.asarray(args[p]).size for p in (a, b, c)]
    if k < 0 or sizes != [m * k, k * n, m * n]:
        ev.raises = ValueError
        return
    A = np.asarray(args[a], np.float64).reshape(m, k)
    B = np.asarray(args[b], np.float64).reshape(k, n)
    scale = np.abs(A) @ np.abs(B)
    gamma = k * U32 / (1 - k * U32)
    exact = np.all(A == np.round(A)) and np.all(B == np.round(B)) and np.all(scale < 2.0**24)
    err = np.zeros((m, n)) if exact else max(RTOL, gamma) * scale
    ev.buffers[c] = ((A @ B).ravel(), err.ravel())


def assert_matches(got, ref, err, what):
    """got against an evaluation: equal where err == 0, within err where finite."""
    got = np.asarray(got).ravel()
    if got.dtype.kind in "iu":
        bad = (err == 0) & (got.astype(np.int64) != ref)
    else:
        g = got.astype(np.float64)
        with np.errstate(invalid="ignore"):
            same = (g == ref) | (np.isnan(g) & np.isnan(ref))
            within = np.abs(g - ref) <= err
        bad = np.where(err == 0, ~same, np.isfinite(err) & ~within)
    if bad.any():
        idx = np.flatnonzero(bad)[:5]
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ from the IR's evaluation, at "
            f"{idx.tolist()}: got {got[idx].tolist()} want {ref[idx].tolist()} (bound "
            f"{err[idx].tolist()}); {what}"
        )
