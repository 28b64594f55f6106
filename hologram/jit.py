"""``@hg.jit``: a Python function over Buffers traced into fused IR kernels.

The function is called once per signature (argument shapes and dtypes, which
arguments are Buffers and which Python numbers, the ``out=`` buffers and how
they alias the inputs) with :class:`Traced` values in place of its arguments.
Buffer operators return ``NotImplemented`` for a Traced operand and the
``hg.ops`` functions hand a Traced argument to ``Traced.__hg_function__``
(on their failure path only), so the same operators and ``hg.ops`` calls as
eager code record a graph instead of running.  The graph is cut into the
fewest launches (a matmul, or a whole-buffer reduction used elementwise,
starts a new one), each launch is emitted as IR text, parsed and verified by
:class:`hologram.Kernel` (compiled once per executor by the kernel itself)
and run with :meth:`Executor.launch`.  Python numbers passed as arguments
become float32 scalar params, so a new value does not retrace.

Every call runs in JitFunction's C base class (``_core._JitCall``,
src/py/jitcall.c): it computes the signature, finds the trace and runs its
launches, through the same core launch as :meth:`Executor.launch`.  A call
whose signature is not cached comes here to be traced, and the trace is
cached and run by the same C code (``_run_cached``).  The traces of one jitted function are kept in
that cache, of at most ``CACHE_SIZE`` (64) signatures; when it is full, a new
trace replaces the least recently used one (the one whose last call is the
oldest).
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import re
import sys

import numpy as np

from . import _core

__all__ = ["jit", "Traced", "CACHE_SIZE"]

CACHE_SIZE = 64
_HERE = os.path.dirname(os.path.abspath(__file__))
_F32 = np.dtype(np.float32)
_BOOL = np.dtype(np.bool_)


# ---- errors --------------------------------------------------------------------------------------


def _user_frame():
    """The innermost frame outside the hologram package (the user's line)."""
    f = sys._getframe(1)
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) == _HERE:
        f = f.f_back
    return f


def _fail(exc, fname, what, frame=None):
    frame = frame or _user_frame()
    where = f"{frame.f_code.co_filename}, line {frame.f_lineno}" if frame else "unknown line"
    return exc(f"jit({fname}): {what} ({where})")


# ---- the graph -----------------------------------------------------------------------------------


class _Node:
    __slots__ = ("id", "op", "args", "shape", "dtype", "imm")

    def __init__(self, nid, op, args, shape, dtype, imm=None):
        self.id, self.op, self.args, self.shape, self.dtype, self.imm = (
            nid,
            op,
            tuple(args),
            tuple(shape),
            dtype,
            imm,
        )


_COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
# hg.ops functions that are one IR op over one operand
_OPS_UNARY = ("neg", "abs", "relu", "sigmoid", "tanh", "exp", "log", "sqrt")
_OPS_BINARY = {
    "vector_add": "add",
    "vector_sub": "sub",
    "vector_mul": "mul",
    "vector_div": "div",
    "maximum": "max",
    "minimum": "min",
    "pow": "pow",
}
# hg.ops functions traced by inlining the stdlib kernel they run eagerly
# (hg.ops.kernel_ir), so that the fused kernel computes the same formula
_INLINED = (
    "softmax",
    "log_softmax",
    "gelu",
    "silu",
    "leaky_relu",
    "softplus",
    "clip",
    "layer_norm",
    "mse_loss",
)
_LINE = re.compile(r"^\s*(?:%(\d+)\s*=\s*)?([a-z0-9.]+)\s*(.*)$")


@functools.cache
def _stdlib_kernel(name):
    """(params, instructions) of a built-in kernel's text."""
    text = _core.kernel_ir(name)
    head, body = text.split("{", 1)
    params = []
    for p in head[head.index("(") + 1 : head.rindex(")")].split(","):
        pname, rest = p.split(":")
        params.append((pname.strip(), "scalar" in rest))
    instrs = []
    for line in body.splitlines():
        m = _LINE.match(line)
        if not m or m.group(2) == "}":
            continue
        res, op, rest = m.groups()
        ops = [t.strip() for t in rest.split(",")] if rest.strip() else []
        instrs.append((res, op, ops))
    return params, instrs


def _reduce_sig(a, axis=None, keepdims=False):
    """The reductions' parameters (keepdims as in the eager ops)."""


_REDUCE_SIG = inspect.signature(_reduce_sig)


class Traced:
    """A value of a function being traced by ``hg.jit``: its shape and dtype
    are known, its contents are not."""

    __slots__ = ("_n", "_t")
    __array_priority__ = 1000

    def __init__(self, node, tracer):
        self._n = node
        self._t = tracer

    shape = property(lambda self: self._n.shape)
    ndim = property(lambda self: len(self._n.shape))
    size = property(lambda self: math.prod(self._n.shape))
    dtype = property(lambda self: self._n.dtype)

    def __repr__(self):
        return f"<hologram.jit.Traced shape={self.shape} dtype={self.dtype}>"

    # refusals: the contents of a traced value do not exist yet
    def _no(self, what):
        raise self._t.error(
            TypeError,
            f"{what} needs the contents of a traced value (shape {self.shape}), which a "
            "jitted function does not have while it is traced",
        )

    __hash__ = object.__hash__

    def __pow__(self, o, mod=None):
        if mod is not None:
            raise self._t.error(TypeError, "pow() with a modulus is not supported")
        return self._t.binary("pow", self, o)

    def __matmul__(self, o):
        return self._t.matmul(self, o)

    def __rmatmul__(self, o):
        return self._t.matmul(o, self)

    def __neg__(self):
        return self._t.unary("neg", self)

    def __abs__(self):
        return self._t.unary("abs", self)

    def __pos__(self):
        return self

    @staticmethod
    def __hg_function__(name, args, kwargs):
        """An ``hg.ops`` function called with a Traced argument."""
        tracer = next(a._t for a in (*args, *kwargs.values()) if isinstance(a, Traced))
        return tracer.op(name, args, kwargs)


def _install_methods():
    """Traced's operators (each records one node) and its refusals (each
    needs the contents a traced value does not have)."""

    def forward(op):
        return lambda self, o: self._t.binary(op, self, o)

    def reflected(op):
        return lambda self, o: self._t.binary(op, o, self)

    for name, op in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div")):
        setattr(Traced, f"__{name}__", forward(op))
        setattr(Traced, f"__r{name}__", reflected(op))
    Traced.__rpow__ = reflected("pow")
    for op in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(Traced, f"__{op}__", forward(op))

    def refuse(what):
        def method(self, *args, **kwargs):
            self._no(what)

        return method

    for name, what in (
        ("__bool__", "Python control flow (bool())"),
        ("item", ".item()"),
        ("to_numpy", ".to_numpy()"),
        ("__array__", "np.asarray (__array__)"),
        ("__float__", "float()"),
        ("__int__", "int()"),
        ("__index__", "an index (__index__)"),
        ("__len__", "len()"),
        ("__iter__", "iteration"),
    ):
        setattr(Traced, name, refuse(what))


_install_methods()


class _Tracer:
    def __init__(self, fname, executor):
        self.fname = fname
        self.executor = executor
        self.nodes = []
        self.captured = {}  # id(Buffer) -> (Buffer, node)
        self.consts = {}

    def error(self, exc, what):
        return _fail(exc, self.fname, what)

    def node(self, op, args, shape, dtype=_F32, imm=None):
        n = _Node(len(self.nodes), op, args, shape, dtype, imm)
        self.nodes.append(n)
        return n

    def wrap(self, n):
        return Traced(n, self)

    def operand(self, x):
        """The node of an operand, or None for a type the tracer does not take."""
        if isinstance(x, Traced):
            if x._t is not self:
                raise self.error(ValueError, "a traced value of another jitted call")
            return x._n
        if isinstance(x, _core.Buffer):
            if x.executor is not self.executor:
                raise self.error(ValueError, "buffers belong to different executors")
            got = self.captured.get(id(x))
            if got is None:
                got = (x, self.node("input", (), x.shape, x.dtype, imm=("captured", x)))
                self.captured[id(x)] = got
            return got[1]
        if isinstance(x, (bool, int, float)) and not isinstance(x, np.ndarray):
            return self.const(float(x))
        return None

    def const(self, v):
        v = float(np.float32(v)) if math.isfinite(v) or math.isnan(v) else v
        key = ("f", repr(v))
        n = self.consts.get(key)
        if n is None:
            n = self.consts[key] = self.node("const", (), (), imm=v)
        return n

    def broadcast(self, opname, *nodes):
        try:
            return tuple(np.broadcast_shapes(*(n.shape for n in nodes)))
        except ValueError:
            shapes = " and ".join(str(n.shape) for n in nodes)
            raise self.error(
                ValueError, f"{opname}: shapes {shapes} cannot be broadcast together"
            ) from None

    def float_only(self, opname, *nodes):
        for n in nodes:
            if n.dtype != _F32:
                raise self.error(TypeError, f"{opname}: operands must be float32, got {n.dtype}")

    def unary(self, op, a):
        n = self.operand(a)
        self.float_only(op, n)
        return self.wrap(self.node(op, (n,), n.shape))

    def binary(self, op, a, b):
        na, nb = self.operand(a), self.operand(b)
        if na is None or nb is None:
            return NotImplemented
        shape = self.broadcast(op, na, nb)
        if op in _COMPARE:
            if na.dtype != nb.dtype:
                raise self.error(TypeError, f"{op}: operands of dtypes {na.dtype} and {nb.dtype}")
            return self.wrap(self.node(op, (na, nb), shape, _BOOL))
        self.float_only(op, na, nb)
        return self.wrap(self.node(op, (na, nb), shape))

    def select(self, c, a, b):
        nc, na, nb = self.operand(c), self.operand(a), self.operand(b)
        if nc is None or na is None or nb is None or nc.dtype != _BOOL:
            raise self.error(TypeError, "where: cond must be a bool traced value")
        self.float_only("where", na, nb)
        return self.wrap(self.node("select", (nc, na, nb), self.broadcast("where", nc, na, nb)))

    def matmul(self, a, b):
        na, nb = self.operand(a), self.operand(b)
        if na is None or nb is None:
            return NotImplemented
        if len(na.shape) != 2 or len(nb.shape) != 2 or na.shape[1] != nb.shape[0]:
            raise self.error(ValueError, f"matmul: shapes {na.shape} and {nb.shape} do not match")
        return self.gemm(na, nb, na.shape[0], nb.shape[1], na.shape[1])

    def gemm(self, na, nb, m, n, k):
        self.float_only("gemm", na, nb)
        if math.prod(na.shape) != m * k or math.prod(nb.shape) != k * n:
            raise self.error(
                ValueError,
                f"gemm: shapes {na.shape} and {nb.shape} do not hold ({m}, {k}) and ({k}, {n})",
            )
        return self.wrap(self.node("gemm", (na, nb), (m, n), imm=k))

    def reduce(self, kind, a, axis, keepdims):
        n = self.operand(a)
        self.float_only(kind, n)
        nd = len(n.shape)
        if axis is None:
            red = self.node(f"reduce.{'sum' if kind == 'mean' else kind}.all", (n,), ())
            if kind == "mean":
                red = self.node("div", (red, self.const(math.prod(n.shape))), ())
            shape = (1,) * nd if keepdims else ()
        else:
            if isinstance(axis, Traced):
                axis._no("an axis")
            ax = int(axis)
            if nd == 0 or ax not in (-1, nd - 1):
                raise self.error(
                    ValueError,
                    f"{kind}: axis {ax} of shape {n.shape}: a jitted "
                    "function reduces over the last axis or all axes (axis=None)",
                )
            red = self.node(
                f"reduce.{'sum' if kind == 'mean' else kind}.row", (n,), n.shape[:-1] + (1,)
            )
            if kind == "mean":
                red = self.node("div", (red, self.const(n.shape[-1])), red.shape)
            shape = n.shape[:-1] + (1,) if keepdims else n.shape[:-1]
        if red.shape != shape:
            red = self.node("reshape", (red,), shape)
        return self.wrap(red)

    def inline(self, kname, inputs, scalars):
        """The nodes of built-in kernel kname over input nodes and scalar nodes."""
        params, instrs = _stdlib_kernel(kname)
        env, vals, ins, scs = {}, {}, list(inputs), list(scalars)
        base = ins[0].shape
        cols = base[-1] if base else 1
        rows = math.prod(base) // cols if cols else 0
        for pname, is_scalar in params:
            if is_scalar:
                env[pname] = scs.pop(0)
            elif ins:
                env[pname] = ins.pop(0)
        result = None
        for res, op, ops in instrs:
            if op in ("load", "load.row", "load.col"):
                vals[res] = env[ops[0]]
            elif op == "param":
                vals[res] = env[ops[0]]
            elif op == "store":
                result = vals[ops[1][1:]]
            elif op in ("nrows", "ncols"):
                vals[res] = ("int", rows if op == "nrows" else cols)
            elif op == "cast.f32":
                v = vals[ops[0][1:]]
                vals[res] = self.const(v[1]) if isinstance(v, tuple) else v
            elif op.startswith("const."):
                vals[res] = self.const(float(ops[0]))
            else:
                args = [vals[o[1:]] for o in ops]
                if op == "mul" and all(isinstance(a, tuple) for a in args):
                    vals[res] = ("int", args[0][1] * args[1][1])
                    continue
                if op.startswith("reduce.") and op.endswith(".row"):
                    shape = args[0].shape[:-1] + (1,)
                elif op.startswith("reduce."):
                    shape = ()
                else:
                    shape = self.broadcast(kname, *args)
                dtype = _BOOL if op in _COMPARE else _F32
                vals[res] = self.node(op, args, shape, dtype)
        if result.shape != base and kname != "mse_loss":
            result = self.node("reshape", (result,), base)
        return self.wrap(result)

    def scalar_arg(self, v, name, default):
        if v is None:
            return self.const(default)
        n = self.operand(v)
        if n is None or n.shape != () and math.prod(n.shape) != 1:
            raise self.error(TypeError, f"'{name}' must be a Python number or a scalar argument")
        return n

    def op(self, name, args, kwargs):
        """An hg.ops function applied to traced values."""
        try:
            sig = _REDUCE_SIG if name in ("sum", "max", "min", "mean") else None
            sig = sig or inspect.signature(getattr(_core, name))
            bound = sig.bind(*args, **kwargs)
        except (AttributeError, ValueError):
            raise self.error(
                TypeError, f"hg.ops.{name} is not supported in a jitted function"
            ) from None
        except TypeError as e:
            raise self.error(TypeError, f"hg.ops.{name}: {e}") from None
        bound.apply_defaults()
        a = bound.arguments
        if name in _OPS_UNARY:
            return self.unary(name, a["a"])
        if name in _OPS_BINARY:
            r = self.binary(_OPS_BINARY[name], a["a"], a["b"])
            if r is NotImplemented:
                raise self.error(
                    TypeError,
                    f"hg.ops.{name}: operands must be traced values, Buffers or Python numbers",
                )
            return r
        if name == "where":
            return self.select(a["cond"], a["a"], a["b"])
        if name in ("sum", "max", "min", "mean"):
            return self.reduce(name, a["a"], a.get("axis"), a.get("keepdims", False))
        if name == "gemm":
            return self.gemm(
                self.operand(a["a"]), self.operand(a["b"]), int(a["m"]), int(a["n"]), int(a["k"])
            )
        if name in _INLINED:
            return self.inlined(name, a)
        raise self.error(TypeError, f"hg.ops.{name} is not supported in a jitted function")

    def inlined(self, name, a):
        first = next(iter(a.values()))
        x = self.operand(first)
        if x is None:
            raise self.error(
                TypeError, f"hg.ops.{name}: the input must be a traced value or Buffer"
            )
        self.float_only(name, x)
        if name in ("softmax", "log_softmax", "layer_norm") and x.shape == ():
            raise self.error(ValueError, f"{name}: a 0-d input has no last axis")
        if name == "gelu":
            kname = "gelu_tanh" if a["approximate"] == "tanh" else "gelu"
            return self.inline(kname, [x], [])
        if name == "leaky_relu":
            return self.inline(name, [x], [self.scalar_arg(a["negative_slope"], "slope", 0.01)])
        if name == "softplus":
            return self.inline(
                name,
                [x],
                [
                    self.scalar_arg(a["beta"], "beta", 1.0),
                    self.scalar_arg(a["threshold"], "threshold", 20.0),
                ],
            )
        if name == "clip":
            if a["min"] is None and a["max"] is None:
                raise self.error(
                    ValueError, "clip: at least one of 'min' or 'max' must not be None"
                )
            return self.inline(
                name,
                [x],
                [
                    self.scalar_arg(a["min"], "min", -math.inf),
                    self.scalar_arg(a["max"], "max", math.inf),
                ],
            )
        if name == "layer_norm":
            ins, kname = [x], "layer_norm"
            for key, suffix in (("weight", "w"), ("bias", "b")):
                if a[key] is not None:
                    n = self.operand(a[key])
                    if n is None or n.shape != x.shape[-1:]:
                        raise self.error(
                            ValueError, f"layer_norm: {key} must have shape {x.shape[-1:]}"
                        )
                    ins.append(n)
                    kname += "_" if kname == "layer_norm" else ""
                    kname += suffix
            return self.inline(kname, ins, [self.scalar_arg(a["eps"], "eps", 1e-5)])
        if name == "mse_loss":
            t = self.operand(a["target"])
            if t is None or t.shape != x.shape:
                raise self.error(ValueError, "mse_loss: pred and target must have one shape")
            return self.inline(name, [x, t], [])
        return self.inline(name, [x], [])


# ---- cutting the graph into launches and emitting IR -------------------------------------------


def _plan(nodes, outputs, fname):
    """Stages (launches) for the nodes reachable from outputs.  Returns
    (order, stage, level) where level is 'u' (uniform), 'r' (row) or 'e'
    (element, column loads included) per node id."""
    live = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n.id in live:
            continue
        live.add(n.id)
        stack.extend(n.args)
    order = [n for n in nodes if n.id in live]
    stage, level, post = {}, {}, {}
    for n in order:
        if n.op == "input":
            level[n.id] = "u" if math.prod(n.shape) == 1 else "e"
            stage[n.id], post[n.id] = 0, False
            continue
        if n.op == "const":
            level[n.id], stage[n.id], post[n.id] = "u", 0, False
            continue
        if n.op == "scalar":
            level[n.id], stage[n.id], post[n.id] = "u", 0, False
            continue
        if n.op == "gemm":
            level[n.id] = "e"
            stage[n.id] = max(stage[a.id] + (a.op not in ("input",)) for a in n.args)
            post[n.id] = False
            continue
        lv = max((level[a.id] for a in n.args), key="ure".index)
        if n.op.endswith(".row"):
            lv = "r"
        elif n.op.endswith(".all"):
            lv = "u"
        # a whole-launch reduction's result meets element or row values
        # (a one-element input may be an element load) in the next launch
        elem = lv != "u" or any(a.op == "input" for a in n.args)
        s = 0
        for a in n.args:
            cut = a.op == "gemm" or (post[a.id] and elem)
            s = max(s, stage[a.id] + cut)
        stage[n.id], level[n.id] = s, lv
        post[n.id] = n.op.endswith(".all") or any(post[a.id] and stage[a.id] == s for a in n.args)
    return order, stage, level


def _align(t, s):
    return (1,) * (len(s) - len(t)) + tuple(t) if len(t) <= len(s) else None


def _fmt(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.9g}"


class _Launch:
    __slots__ = ("kernel", "text", "args", "rows", "cols")


class _Plan:
    """The launches of one signature and how to fill their arguments."""

    def __init__(self, fname, tracer, arg_nodes, outputs, out_alias):
        self.fname = fname
        order, stage, level = _plan(tracer.nodes, outputs, fname)
        nstages = max(stage[n.id] for n in order) + 1 if order else 1
        # nodes read in a later stage than their own are materialised
        used_in = {}
        for n in order:
            for a in n.args:
                used_in.setdefault(a.id, set()).add(stage[n.id])
        out_ids = {n.id: i for i, n in enumerate(outputs)}
        self.temps = []  # shapes of temporaries
        home = {}  # node id -> ("arg", i) | ("cap", buf) | ("temp", i) | ("out", i)
        for i, n in enumerate(arg_nodes):
            if n is not None:
                home[n.id] = ("arg", i)
        for buf, n in tracer.captured.values():
            home[n.id] = ("cap", buf)
        for n in order:
            if n.id in home:
                continue
            later = any(s > stage[n.id] for s in used_in.get(n.id, ()))
            if n.id in out_ids:
                home[n.id] = ("out", out_ids[n.id])
            elif later or n.op == "gemm":
                home[n.id] = ("temp", len(self.temps))
                self.temps.append(n.shape)
        # an out buffer that is an input must not be read after its stage
        for oi, ai in enumerate(out_alias):
            if ai < 0:
                continue
            src = arg_nodes[ai]
            st = stage[outputs[oi].id]
            if any(s > st for s in used_in.get(src.id, ())):
                raise _fail(
                    ValueError,
                    fname,
                    f"out buffer {oi} is argument {ai}, which is read "
                    "after it is written (in a later launch)",
                )
        self.launches = []
        self.texts = []
        for s in range(nstages):
            self._emit_stage(s, order, stage, level, home, outputs, out_alias, arg_nodes)

    def _emit_stage(self, s, order, stage, level, home, outputs, out_alias, arg_nodes):
        fname = self.fname
        members = [n for n in order if stage[n.id] == s and n.op not in ("input",)]
        if not members:
            return
        gemms = [n for n in members if n.op == "gemm"]
        if gemms:
            for g in gemms:
                a, b = g.args
                L = _Launch()
                L.text = (
                    f"kernel {_kname(fname)}_{s}_gemm(a: f32, b: f32, c: f32, k: i64 scalar) "
                    "{\n  gemm a, b, c, k\n}\n"
                )
                L.kernel = _core.Kernel(L.text)
                L.args = [home[a.id], home[b.id], home[g.id], ("int", g.imm)]
                L.rows, L.cols = g.shape[0], g.shape[1]
                self.launches.append(L)
                self.texts.append(L.text)
            members = [n for n in members if n.op != "gemm"]
            if not members:
                return
        # launch shape: every element-level value broadcasts to it
        shapes = [n.shape for n in members if level[n.id] == "e"]
        shapes += [n.shape for n in members if level[n.id] == "r" and n.op != "reshape"]
        shapes += [
            a.shape
            for n in members
            for a in n.args
            if a.op in ("input", "gemm") or stage[a.id] != s and a.op not in ("const", "scalar")
        ]
        stores = [n for n in members if home.get(n.id, ("",))[0] in ("out", "temp")]
        shapes += [n.shape for n in stores if level[n.id] == "e"]
        try:
            S = tuple(np.broadcast_shapes(*shapes)) if shapes else ()
        except ValueError:
            raise _fail(
                ValueError, fname, f"values of shapes {sorted(set(shapes))} cannot share one launch"
            ) from None
        cols = S[-1] if S else 1
        rows = math.prod(S[:-1]) if S else 1
        params, body, ids, pindex = [], [], {}, {}

        def param(key, decl):
            if key not in pindex:
                pindex[key] = len(params)
                params.append(decl)
            return pindex[key]

        def pname(key):
            return f"p{pindex[key]}"

        fill = []  # per param: where its value comes from

        def emit(line):
            body.append(f"%{len(body)} = {line}")
            return len(body) - 1

        def buffer_param(n):
            loc = home[n.id]
            if loc in aliased:
                key = ("out", aliased[loc])
                loc = key
            else:
                key = ("buf",) + (loc if loc[0] != "cap" else ("cap", id(loc[1])))
            if key not in pindex:
                param(key, n.dtype)
                fill.append(loc)
            return pname(key)

        def value(n):
            if n.id in ids:
                return ids[n.id]
            if n.op == "const":
                v = emit(f"const.f32 {_fmt(n.imm)}")
            elif n.op == "scalar":
                key = ("scalar", n.imm)
                if key not in pindex:
                    param(key, None)
                    fill.append(key)
                v = emit(f"param {pname(key)}")
            elif stage[n.id] != s or n.op in ("input", "gemm"):
                p = buffer_param(n)
                t = _align(n.shape, S)
                if t == S:
                    v = emit(f"load {p}")
                elif math.prod(n.shape) == 1:
                    v = emit(f"gather {p}, %{emit('const.i64 0')}")
                elif t is not None and t[-1] == 1 and t[:-1] == S[:-1]:
                    v = emit(f"load.row {p}")
                elif t is not None and t[-1] == S[-1] and all(d == 1 for d in t[:-1]):
                    v = emit(f"load.col {p}")
                else:
                    raise _fail(
                        ValueError,
                        fname,
                        f"an operand of shape {n.shape} cannot be "
                        f"read in a launch of shape {S} (only full, (rows, 1), (cols,) "
                        "and one-element operands broadcast in one kernel)",
                    )
            elif n.op == "reshape":
                v = value(n.args[0])
            else:
                for a in n.args:
                    if level[a.id] == "r" and stage[a.id] == s:
                        t = _align(a.shape, S)
                        if t is None or t[-1] != 1 or t[:-1] != S[:-1]:
                            raise _fail(
                                ValueError,
                                fname,
                                f"a row reduction of shape {a.shape} "
                                f"meets a value of shape {S}; reduce with keepdims=True",
                            )
                v = emit(f"{n.op} " + ", ".join(f"%{value(a)}" for a in n.args))
            ids[n.id] = v
            return v

        aliased = {("arg", ai): oi for oi, ai in enumerate(out_alias) if ai >= 0}
        for n in members:
            value(n)
        for n in stores:
            loc = home[n.id]
            key = loc if loc[0] == "out" else ("buf",) + loc
            if key not in pindex:
                param(key, n.dtype)
                fill.append(loc)
            t = _align(n.shape, S)
            row = t is not None and t[-1] == 1 and t[:-1] == S[:-1]
            numel = math.prod(n.shape)
            if t != S and not row and numel != 1 and (level[n.id] != "r" or numel != rows):
                raise _fail(
                    ValueError,
                    fname,
                    f"a result of shape {n.shape} cannot be written by a launch of shape {S}",
                )
            body.append(f"store {pname(key)}, %{ids[n.id]}")
        decls = []
        for i, d in enumerate(params):
            if d is None:
                decls.append(f"p{i}: f32 scalar")
            else:
                decls.append(f"p{i}: {'bool' if d == _BOOL else 'f32'}")
        text = f"kernel {_kname(fname)}_{s}({', '.join(decls)}) {{\n"
        text += "".join(f"  {line}\n" for line in body) + "}\n"
        L = _Launch()
        L.text, L.args, L.rows, L.cols = text, fill, rows, cols
        try:
            L.kernel = _core.Kernel(text)
        except ValueError as e:
            raise _fail(ValueError, fname, f"the traced kernel does not verify: {e}") from None
        self.launches.append(L)
        self.texts.append(text)

    def ir(self):
        if len(self.texts) == 1:
            return self.texts[0]
        parts = []
        for i, t in enumerate(self.texts):
            parts.append(
                f"// launch {i + 1} of {len(self.texts)}"
                + (": split here (its input is computed by the launch before)" if i else "")
                + "\n"
                + t
            )
        return "\n".join(parts)


def _kname(fname):
    s = re.sub(r"[^A-Za-z0-9_]+", "_", fname.rsplit(".", 1)[-1]).strip("_")
    return s if s[:1].isalpha() else "f_" + s


# ---- the jitted function -------------------------------------------------------------------------


class _Entry:
    __slots__ = ("plan", "out_shapes", "single", "allocs", "steps")

    def prepare(self):
        """What a call does, precomputed: the results to allocate (shape, and
        the dtype unless float32) and per launch its kernel, where each
        argument comes from (0 the call's arguments, 1 the results, 2 the
        temporaries, 3 a value held here), rows and cols.  The cached call
        (src/py/jitcall.c) runs this plan."""
        self.allocs = [(s, None if d == _F32 else d) for s, d in self.out_shapes]
        code = {"arg": 0, "scalar": 0, "out": 1, "temp": 2}
        self.steps = [
            (
                L.kernel,
                tuple((code.get(loc[0], 3), loc[1]) for loc in L.args),
                L.rows,
                L.cols,
            )
            for L in self.plan.launches
        ]


def _has_dask_array(args):
    """Whether an argument is a dask array (dask is looked up, never imported)."""
    da = sys.modules.get("dask.array")
    return da is not None and any(isinstance(a, da.Array) for a in args)


class JitFunction(_core._JitCall):
    """A function traced into fused kernels on first call per signature.

    A call is handled by the C base class (src/py/jitcall.c): it computes the
    signature, finds the trace in the cache and runs it.  Calls it does not
    find go to :meth:`_call`, which checks the arguments, traces, caches and
    has the C base class run the new entry."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fname = getattr(fn, "__qualname__", getattr(fn, "__name__", "function"))
        self.traces = 0  # how many times fn was traced

    def __reduce__(self):
        return (jit, (self.fn,))

    def _call(self, *args, out=None):
        """A call the C base class did not find in the cache."""
        if _has_dask_array(args):
            from . import jit_dask

            return jit_dask.call(self, args, out)
        entry, ex = self._entry(args, out)
        result = self._run_cached(args, out)
        if result is None:
            self._refuse(entry, ex, out)
        return result

    def _check(self, args, out):
        """The executor of a call's buffers and, with out=, how the out
        buffers alias the arguments (per out buffer the argument it is, or
        -1, then whether out is a tuple); raises for arguments no signature
        takes."""
        ex = None
        outs = () if out is None else out if isinstance(out, tuple) else (out,)
        for i, a in enumerate((*args, *outs)):
            if isinstance(a, _core.Buffer):
                if ex is None:
                    ex = a.executor
                elif a.executor is not ex:
                    raise _fail(ValueError, self.fname, "buffers belong to different executors")
            elif i >= len(args) or not isinstance(a, (bool, int, float)):
                what = (
                    "arguments must be hologram.Buffer or Python numbers"
                    if i < len(args)
                    else "out must be a Buffer or a tuple of Buffers"
                )
                raise _fail(TypeError, self.fname, f"{what}, got {type(a).__name__}")
        alias = ()
        if out is not None:
            alias = tuple(next((i for i, a in enumerate(args) if a is o), -1) for o in outs) + (
                isinstance(out, tuple),
            )
        if ex is None:
            raise _fail(TypeError, self.fname, "needs at least one Buffer argument", _user_frame())
        return alias, ex

    def _trace(self, args, ex, alias, nouts_given):
        tr = _Tracer(self.fname, ex)
        targs, arg_nodes = [], []
        for i, a in enumerate(args):
            if isinstance(a, _core.Buffer):
                n = tr.node("input", (), a.shape, a.dtype, imm=("arg", i))
                arg_nodes.append(n)
                targs.append(Traced(n, tr))
            else:
                n = tr.node("scalar", (), (), imm=i)
                arg_nodes.append(None)
                targs.append(Traced(n, tr))
        self.traces += 1
        res = self.fn(*targs)
        single = not isinstance(res, tuple)
        results = (res,) if single else res
        outputs = []
        for r in results:
            if isinstance(r, Traced) and r._t is tr:
                outputs.append(r._n)
            else:
                raise _fail(
                    TypeError,
                    self.fname,
                    "must return traced values (a result of "
                    f"operations on its arguments), got {type(r).__name__}",
                    _user_frame(),
                )
        if nouts_given is not None and nouts_given != len(outputs):
            raise _fail(
                ValueError,
                self.fname,
                f"returns {len(outputs)} result(s) but out has {nouts_given} buffer(s)",
                _user_frame(),
            )
        out_alias = list(alias[:-1]) if alias else [-1] * len(outputs)
        # a result that is an argument itself, or appears twice, is copied (x * 1)
        seen = set()
        for i, n in enumerate(outputs):
            if n.op in ("input", "const", "scalar") or n.id in seen:
                if n.dtype != _F32:
                    raise _fail(TypeError, self.fname, "returns a bool argument unchanged")
                outputs[i] = tr.node("mul", (n, tr.const(1.0)), n.shape)
            seen.add(outputs[i].id)
        entry = _Entry()
        entry.plan = _Plan(self.fname, tr, arg_nodes, outputs, out_alias)
        entry.out_shapes = [(n.shape, n.dtype) for n in outputs]
        entry.single = single
        entry.prepare()
        return entry

    def _entry(self, args, out):
        args = tuple(args)
        alias, ex = self._check(args, out)
        entry = self._cache_get(args, out)
        if entry is None:
            nouts = None if out is None else (len(out) if isinstance(out, tuple) else 1)
            entry = self._trace(args, ex, alias, nouts)
            self._cache_put(
                args,
                out,
                entry,
                entry.steps,
                entry.allocs,
                entry.plan.temps,
                entry.single,
                CACHE_SIZE,
            )
        return entry, ex

    def _refuse(self, entry, ex, out):
        """Raise the error of a plan the C runner refused (see entry_plan in
        src/py/jitcall.c): out= buffers unlike the results, or a result or
        temporary the executor cannot allocate."""
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            for o, (shape, dtype) in zip(outs, entry.out_shapes, strict=True):
                if o.shape != shape or o.dtype != dtype:
                    raise _fail(
                        ValueError,
                        self.fname,
                        f"out buffer of shape {o.shape} "
                        f"({o.dtype}) for a result of shape {shape} ({dtype})",
                    )
        for s, d in (*entry.allocs, *((t, None) for t in entry.plan.temps)):
            ex.empty(s) if d is None else ex.empty(s, d)
        raise _fail(RuntimeError, self.fname, "its plan cannot run (an internal error)")

    def ir(self, *args, out=None):
        """The IR text of the kernel (or kernels, in launch order) for these arguments."""
        entry, _ = self._entry(args, out)
        return entry.plan.ir()

    def cache_info(self):
        return {"traces": self.traces, "size": self._cache_size(), "maxsize": CACHE_SIZE}


def jit(fn=None):
    """Trace ``fn`` into fused IR kernels (decorator or call); see the module doc."""
    if fn is None:
        return jit
    if isinstance(fn, JitFunction):
        return fn
    return JitFunction(fn)


jit.CACHE_SIZE = CACHE_SIZE
