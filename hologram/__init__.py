"""Hologram Atlas: a CPU virtual GPU.

SSA-IR kernels are lowered to SIMD block programs and run on an
:class:`Executor` (a memory pool, a worker pool and one ISA level's kernel
table).  Data lives in :class:`Buffer` objects allocated from the executor's
pool; the standard operations are in :mod:`hologram.ops`.

>>> import numpy as np, hologram as hg
>>> ex = hg.Executor()
>>> a = ex.from_numpy(np.arange(4, dtype=np.float32))
>>> hg.ops.vector_add(a, a).to_numpy()
array([0., 2., 4., 6.], dtype=float32)
"""

from . import ops
from ._core import Buffer, Executor, Kernel, __version__, cpu_info
from .jit import jit

__all__ = [
    "__version__",
    "Executor",
    "Buffer",
    "Kernel",
    "cpu_info",
    "ops",
    "jit",
]
