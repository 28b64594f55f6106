"""The results schema: the one definition of every column of a benchmark record.

A record is one (operation, size) row of the benchmark, a flat dict; a results DataFrame
holds one record per row.  The suite writes exactly these columns in this order
(:func:`order_columns` refuses any other), results.json and results.csv carry them, the
plots and the report read them by these names, and the report's column table is
:func:`describe`.

Timed frameworks are the prefixes of :data:`FRAMEWORKS`; each has a mean, a standard
deviation and a median column of its per-call time.  The rows of the ``fused`` group
(:mod:`hologram.bench.fused`) fill the PyTorch columns with PyTorch eager and the Atlas
columns with the ``@hg.jit`` function, and add the same function run op by op on Buffers
(``atlas_ops``) and torch.compile (``compiled``, with its compile time); other rows leave
those columns empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Column:
    """One column of a results record."""

    name: str
    dtype: str  # "str", "int", "float" or "bool"
    unit: str  # "" for a dimensionless value
    meaning: str
    nullable: bool = False  # None (or NaN for a float) when the row has no value

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` fits this column (a missing value only where nullable)."""
        if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
            return self.nullable
        if self.dtype == "bool":
            return isinstance(value, (bool, np.bool_))
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.dtype == "int":
            return isinstance(value, (int, np.integer))
        if self.dtype == "float":
            return isinstance(value, (int, float, np.integer, np.floating))
        return isinstance(value, str)

    @property
    def axis_label(self) -> str:
        """The meaning with the unit, for a plot axis."""
        return f"{self.meaning} ({self.unit})" if self.unit else self.meaning


#: timed framework prefix -> label, in plotting order
FRAMEWORKS = {
    "pytorch": "PyTorch",
    "pytorch_out": "PyTorch (out=)",
    "numpy": "NumPy",
    "atlas": "Atlas",
    "atlas_ops": "Atlas op by op",
    "compiled": "torch.compile",
}
COLORS = {
    "pytorch": "tab:blue",
    "pytorch_out": "tab:cyan",
    "numpy": "tab:gray",
    "atlas": "tab:red",
    "atlas_ops": "tab:orange",
    "compiled": "tab:purple",
}
STATS = {"mean": "mean", "std": "standard deviation", "median": "median"}


def _times(fws: tuple[str, ...], stats: tuple[str, ...]) -> tuple[Column, ...]:
    """Per-call time statistics, framework by framework.  NaN where the framework is not
    timed on the row: PyTorch ``out=`` where the op has no such form, Atlas when its call
    raised."""
    return tuple(
        Column(
            f"{fw}_{stat}_ms",
            "float",
            "ms",
            f"{FRAMEWORKS[fw]} time per call, {STATS[stat]} over the samples",
            nullable=True,
        )
        for fw in fws
        for stat in stats
    )


def _number(name: str, meaning: str) -> Column:
    """A dimensionless value, NaN (or None) where the row has none."""
    return Column(name, "float", "", meaning, nullable=True)


#: Every column, in record order.  The first seven are the record of the seed notebook's
#: section 3.1, so a row of the suite extends a row of that loop.
COLUMNS: tuple[Column, ...] = (
    Column("operation", "str", "", "op name, as in hg.ops"),
    Column("size", "int", "elements", "elements in the first input"),
    *_times(("pytorch", "atlas"), ("mean", "std")),
    _number("speedup", "PyTorch median / Atlas median (>1: Atlas faster)"),
    Column("shape", "str", "", "shape of the first input: '1,000' or '64x1000'"),
    Column("group", "str", "", "kind of op: elementwise, activation, reduction, ..."),
    Column("threads", "int", "threads", "threads of PyTorch and of Atlas on the row"),
    *_times(("pytorch", "atlas", "pytorch_out", "numpy"), ("median",)),
    _number(
        "speedup_vs_out",
        "PyTorch out= median / Atlas median: PyTorch without a fresh result per call",
    ),
    *_times(("pytorch_out", "numpy"), ("mean", "std")),
    _number(
        "max_abs_diff",
        "largest absolute difference of Atlas from PyTorch, over the elements finite in both",
    ),
    Column("correct", "bool", "", "Atlas and the NumPy reference both match PyTorch"),
    Column("error", "str", "", "what failed when correct is False", nullable=True),
    _number(
        "speedup_paired",
        "median over sample rounds of PyTorch / Atlas within the round (cancels drift)",
    ),
    # the roofline (hologram.bench.roofline): the row's nominal work and Atlas's rate
    _number(
        "flops",
        "nominal floating-point operations per call: 2mnk for a GEMM, per element the "
        "op's arithmetic operations (a transcendental function counts one); NaN where "
        "the op has no nominal count",
    ),
    Column("bytes", "int", "bytes", "bytes read (every input once) plus written per call"),
    Column("bytes_written", "int", "bytes", "bytes written per call (the result)"),
    Column("intensity", "float", "flop/byte", "arithmetic intensity: flops / bytes", nullable=True),
    Column("gflops", "float", "GFLOP/s", "flops / Atlas median", nullable=True),
    Column("gbs", "float", "GB/s", "bytes / Atlas median", nullable=True),
    Column(
        "pct_peak",
        "float",
        "%",
        "gflops / the FMA peak of the row's thread count (GEMM rows; the peak is "
        "the register-only FMA probe, see the run's limits)",
        nullable=True,
    ),
    Column(
        "pct_bandwidth",
        "float",
        "%",
        "gbs / the memory bandwidth of the row's thread count: read bandwidth where "
        "writes are under 10% of the bytes, else copy bandwidth (rows that fit in cache "
        "exceed 100%)",
        nullable=True,
    ),
    # the fused group (hologram.bench.fused): the same Python function op by op on Buffers,
    # and the PyTorch function under torch.compile; NaN on other rows
    *_times(("atlas_ops", "compiled"), ("mean", "std", "median")),
    _number(
        "speedup_vs_compile",
        "torch.compile median / Atlas median (fused rows; NaN where torch.compile is not measured)",
    ),
    Column(
        "compile_s",
        "float",
        "s",
        "torch.compile's first call on the row (Dynamo and Inductor, FX graph cache off; "
        "compiled C++ kernels may come from Inductor's disk cache), timed apart from the "
        "samples (fused rows)",
        nullable=True,
    ),
    Column(
        "kernels",
        "int",
        "",
        "kernel headers in the @hg.jit function's IR (f.ir), one per launch (fused rows)",
        nullable=True,
    ),
)

BY_NAME = {c.name: c for c in COLUMNS}
NAMES = tuple(BY_NAME)

#: the columns of a per-row table (the report's row tables, the notebook's displays)
ROW_VIEW = (
    "operation",
    "shape",
    "pytorch_median_ms",
    "pytorch_out_median_ms",
    "numpy_median_ms",
    "atlas_median_ms",
    "speedup",
    "speedup_vs_out",
    "speedup_paired",
    "gflops",
    "pct_peak",
    "gbs",
    "pct_bandwidth",
)


def order_columns(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` in schema order; a record with a column the schema lacks, or without one of
    the schema's columns, raises KeyError."""
    unknown = [k for k in rec if k not in BY_NAME]
    missing = [k for k in NAMES if k not in rec]
    if unknown or missing:
        raise KeyError(f"record does not match the schema: unknown {unknown}, missing {missing}")
    return {k: rec[k] for k in NAMES}


def problems(df, columns: tuple[str, ...] = NAMES) -> list[str]:
    """What in a results DataFrame does not fit the schema's ``columns``: a missing column,
    a value of the wrong type, a missing value where the column is not nullable."""
    out = []
    for name in columns:
        if name not in df.columns:
            out.append(f"missing column {name!r}")
            continue
        col = BY_NAME[name]
        bad = [v for v in df[name].tolist() if not col.accepts(v)]
        if bad:
            out.append(f"column {name!r} ({col.dtype}) holds {bad[:3]!r}")
    return out


def describe():
    """The schema as a DataFrame: column, dtype, unit, meaning."""
    import pandas as pd

    return pd.DataFrame(
        [
            {"column": c.name, "dtype": c.dtype, "unit": c.unit, "meaning": c.meaning}
            for c in COLUMNS
        ]
    )


def shape_label(shape: tuple[int, ...]) -> str:
    """The shape column: '1,000' for 1-D (never parses as a number, so CSV round-trips it
    as text), '64x1000' otherwise."""
    return f"{shape[0]:,}" if len(shape) == 1 else "x".join(map(str, shape))


def time_col(df, fw: str) -> str | None:
    """The time column of framework ``fw`` in ``df``: the median where measured, else the
    mean (rows of the seed's loop have only means)."""
    for col in (f"{fw}_median_ms", f"{fw}_mean_ms"):
        if col in df.columns and df[col].notna().any():
            return col
    return None


def size_labels(df) -> list[str]:
    """Each row's size as text: its shape column where present, else the element count."""
    shapes = df["shape"] if "shape" in df.columns else [None] * len(df)
    return [
        sh if isinstance(sh, str) else f"{int(n):,}"
        for sh, n in zip(shapes, df["size"], strict=True)
    ]


def row_labels(df) -> list[str]:
    """'operation size' for each row."""
    return [f"{o} {s}" for o, s in zip(df["operation"], size_labels(df), strict=True)]
