"""The standard operations of Hologram Atlas.

Every op takes :class:`hologram.Buffer` objects of one executor and returns a
new ``Buffer`` on that executor.  The functions are the extension's own
vectorcall functions, re-exported as-is (no Python-level wrapper).
"""

from ._core import (
    abs,
    cross_entropy,
    exp,
    gemm,
    kernel_ir,
    log,
    max,
    mean,
    min,
    mse_loss,
    neg,
    pow,
    relu,
    sigmoid,
    softmax,
    sqrt,
    sum,
    tanh,
    vector_add,
    vector_div,
    vector_mul,
    vector_sub,
)

__all__ = [
    "vector_add",
    "vector_sub",
    "vector_mul",
    "vector_div",
    "neg",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "exp",
    "log",
    "sqrt",
    "pow",
    "sum",
    "max",
    "min",
    "mean",
    "gemm",
    "mse_loss",
    "cross_entropy",
    "kernel_ir",
]
