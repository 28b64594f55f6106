"""``@hg.jit`` on dask arrays: the fused kernel run chunk by chunk.

A jitted function called with a ``dask.array.Array`` argument returns lazy
dask arrays.  On the caller side the function is traced once on the shapes
of the first blocks (the trace tells the results' shapes and whether the
kernel reduces rows); each task then wraps its NumPy chunks as Buffers of
its process's executor, runs the jitted function and returns NumPy copies, so
no pool memory leaves the task.  The jitted function travels to the workers
by its Python function (``JitFunction.__reduce__``) and retraces there.

Dask is imported only here, and this module only when a dask array is
passed, so ``import hologram`` never imports dask.
"""

from __future__ import annotations

import os
import re
import threading

import numpy as np

from . import _core

__all__ = ["executor", "call"]

_EXECUTORS: dict[int, _core.Executor] = {}
_LOCK = threading.Lock()
_IDX = "abcdefghijklmnop"
_ROW_REDUCE = re.compile(r"\breduce\.\w+\.row\b")
_WHOLE = re.compile(r"\breduce\.\w+\.all\b|\bgemm\b")


def executor():
    """The executor of this process, created on first use.  It is keyed by
    the process id, so a forked worker creates its own rather than using the
    parent's (whose worker threads do not exist in the child)."""
    pid = os.getpid()
    ex = _EXECUTORS.get(pid)
    if ex is None:
        with _LOCK:
            ex = _EXECUTORS.get(pid)
            if ex is None:
                ex = _EXECUTORS[pid] = _core.Executor()
    return ex


def _block_args(blocks):
    ex = executor()
    return [ex.from_numpy(b) if isinstance(b, np.ndarray) else b for b in blocks]


def _run_one(jf, *blocks):
    """One task: the jitted function on one block of each argument."""
    return jf(*_block_args(blocks)).to_numpy()


def _run_many(jf, *blocks):
    """One task of a function with several results: a tuple of NumPy arrays."""
    return tuple(r.to_numpy() for r in jf(*_block_args(blocks)))


def _pick(results, i):
    return results[i]


def _fail(exc, jf, what):
    return exc(f"jit({jf.fname}): {what}")


def _operands(jf, args, da):
    """The arguments as dask arrays (Buffers and NumPy arrays as one chunk,
    a Buffer copied to NumPy once here) and Python numbers."""
    out = []
    for a in args:
        if isinstance(a, da.Array):
            out.append(a)
        elif isinstance(a, _core.Buffer):
            out.append(da.from_array(a.to_numpy(), chunks=-1, name=False))
        elif isinstance(a, np.ndarray):
            out.append(da.from_array(a, chunks=-1, name=False))
        elif isinstance(a, (bool, int, float)):
            out.append(a)
        else:
            raise _fail(
                TypeError,
                jf,
                "with dask arrays, the other arguments must be dask arrays, Buffers, "
                f"NumPy arrays or Python numbers, got {type(a).__name__}",
            )
    return out


def _align(jf, dargs, da):
    """Chunks unified across the arguments (broadcast from the right, as
    NumPy does), the broadcast chunks per axis, and the trace of the
    function on the first block of each argument."""
    from dask.array.core import unify_chunks

    shapes = [a.shape for a in dargs if isinstance(a, da.Array)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise _fail(
            ValueError,
            jf,
            f"arrays of shapes {' and '.join(map(str, shapes))} do not broadcast together: "
            "chunks of them are elementwise operands, and a matmul is not supported on dask arrays",
        ) from None
    nd = max(len(s) for s in shapes)
    pairs = []
    for a in dargs:
        if isinstance(a, da.Array):
            pairs += [a, _IDX[nd - a.ndim : nd]]
    chunkss, arrays = unify_chunks(*pairs)
    it = iter(arrays)
    dargs = [next(it) if isinstance(a, da.Array) else a for a in dargs]
    sample = [_sample(jf, a) if isinstance(a, da.Array) else a for a in dargs]
    entry, _ = jf._entry(sample, None)
    return dargs, [chunkss[_IDX[d]] for d in range(nd)], entry


def _sample(jf, a):
    """A Buffer of the shape and dtype of the first block of a (not written:
    the trace reads shapes and dtypes only)."""
    try:
        return executor().empty(tuple(c[0] if c else 0 for c in a.chunks), a.dtype)
    except TypeError as e:
        raise _fail(
            TypeError, jf, f"a dask array of dtype {a.dtype} cannot be chunks of Buffers ({e})"
        ) from None


def _out_chunks(jf, shape, chunks):
    """The chunks of a result whose blocks have this shape, and the axis it
    drops (a row reduction without keepdims), from the broadcast chunks."""
    first = tuple(c[0] if c else 0 for c in chunks)
    if len(shape) == len(chunks):
        got = []
        for d, (n, c) in enumerate(zip(shape, chunks, strict=True)):
            if n == first[d]:
                got.append(c)
            elif n == 1 and len(c) == 1:
                got.append((1,))
            else:
                break
        else:
            return tuple(got), None
    elif shape == first[:-1]:
        return tuple(chunks[:-1]), len(chunks) - 1
    raise _fail(
        ValueError,
        jf,
        f"a result of shape {shape} from blocks of shape {first} is not supported on dask arrays",
    )


def call(jf, args, out=None):
    """``jf(*args)`` with at least one dask array among args: lazy dask arrays."""
    import dask.array as da
    from dask.base import tokenize

    if out is not None:
        raise _fail(TypeError, jf, "out= is not supported on dask arrays")
    dargs, chunks, entry = _align(jf, _operands(jf, args, da), da)
    text = entry.plan.ir()
    if _WHOLE.search(text) or len(entry.plan.launches) > 1:
        raise _fail(
            ValueError,
            jf,
            "a matmul or a whole-array reduction is not supported on dask arrays (each "
            "chunk would compute its own); compute it with dask and pass the result as an "
            "argument",
        )
    if _ROW_REDUCE.search(text) and len(chunks[-1]) > 1:
        # the kernel reduces along the last axis: every block holds whole rows
        dargs = [a.rechunk({-1: -1}) if isinstance(a, da.Array) and a.ndim else a for a in dargs]
        dargs, chunks, entry = _align(jf, dargs, da)
    name = f"jit-{re.sub(r'[^A-Za-z0-9_]+', '_', jf.fname)}-{tokenize(jf.fn, *dargs)}"
    outs = [(_out_chunks(jf, s, chunks), np.dtype(d)) for s, d in entry.out_shapes]
    if entry.single:
        (c, drop), dtype = outs[0]
        return da.map_blocks(
            _run_one,
            jf,
            *dargs,
            name=name,
            chunks=c,
            drop_axis=drop if drop is not None else [],
            dtype=dtype,
            meta=np.empty((0,) * len(c), dtype),
        )
    packed = da.map_blocks(
        _run_many,
        jf,
        *dargs,
        name=name,
        chunks=tuple(chunks),
        dtype=object,
        meta=np.empty((0,) * len(chunks), object),
    )
    return tuple(
        packed.map_blocks(
            _pick,
            i,
            name=f"{name}-{i}",
            chunks=c,
            drop_axis=drop if drop is not None else [],
            dtype=dtype,
            meta=np.empty((0,) * len(c), dtype),
        )
        for i, ((c, drop), dtype) in enumerate(outs)
    )
