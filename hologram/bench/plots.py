"""Plots of a results DataFrame (columns as defined in :mod:`hologram.bench.schema`).

Every function draws into ``ax`` (a new figure when None) and returns the axes.
matplotlib and seaborn are imported by the functions that draw.
"""

from __future__ import annotations

import math

import numpy as np

from .schema import BY_NAME, COLORS, FRAMEWORKS, row_labels, size_labels, time_col

_TIME_LABEL = "time per call (ms)"


def _ax(ax, figsize=(8, 5)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_comparison(df, op: str, ax=None):
    """Grouped bars: time per call of every measured framework at each size of ``op`` (log y)."""
    ax = _ax(ax)
    g = df[df["operation"] == op].sort_values("size")
    cols = [(fw, time_col(g, fw)) for fw in FRAMEWORKS]
    cols = [(fw, c) for fw, c in cols if c]
    x = np.arange(len(g))
    width = 0.8 / max(len(cols), 1)
    for i, (fw, col) in enumerate(cols):
        std = g.get(f"{fw}_std_ms")
        ax.bar(
            x + (i - (len(cols) - 1) / 2) * width,
            g[col],
            width,
            label=FRAMEWORKS[fw],
            color=COLORS[fw],
            yerr=std if std is not None and col.endswith("mean_ms") else None,
            capsize=3,
        )
    ax.set_xticks(x, size_labels(g), rotation=30)
    ax.set_yscale("log")
    ax.set_xlabel("size")
    ax.set_ylabel(_TIME_LABEL)
    ax.set_title(f"{op}: time per call (lower is better)")
    ax.legend()
    return ax


def plot_scaling(df, op: str, ax=None):
    """Log-log time per call against problem size for every framework measured on ``op``."""
    ax = _ax(ax)
    g = df[df["operation"] == op].sort_values("size")
    for fw, label in FRAMEWORKS.items():
        col = time_col(g, fw)
        if col:
            ax.plot(g["size"], g[col], marker="o", label=label, color=COLORS[fw])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(BY_NAME["size"].meaning)
    ax.set_ylabel(_TIME_LABEL)
    ax.set_title(f"{op}: scaling")
    ax.legend()
    return ax


def plot_speedup(df, ax=None):
    """Horizontal bars of the speedup of every row (log x; right of 1 = Atlas faster)."""
    ax = _ax(ax, (10, max(4, 0.22 * len(df))))
    s = df["speedup"].astype(float).to_numpy()
    y = np.arange(len(df))
    ax.barh(y, s, color=np.where(s > 1, "tab:green", "tab:red"))
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(y, row_labels(df), fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"speedup = {BY_NAME['speedup'].meaning}")
    ax.set_title("Atlas speedup over PyTorch")
    return ax


def plot_heatmap(df, metric: str = "speedup", ax=None):
    """Operation x size heatmap of ``metric``; the colour is log2 so that 0.5x and 2x are symmetric."""
    import seaborn as sns

    ax = _ax(ax, (12, 8))
    table = df.pivot_table(
        index="operation", columns="size", values=metric, aggfunc="median", sort=False
    )
    table = table.reindex(columns=sorted(table.columns))
    ratio = metric.startswith("speedup")
    sns.heatmap(
        np.log2(table.astype(float)) if ratio else table,
        annot=table,
        fmt=".2g",
        cmap="RdYlGn" if ratio else "viridis",
        center=0 if ratio else None,
        cbar_kws={"label": f"log2 {metric}" if ratio else metric},
        xticklabels=[f"{int(c):.0e}" for c in table.columns],
        ax=ax,
    )
    ax.set_xlabel(BY_NAME["size"].meaning)
    ax.set_title(f"{metric} by operation and size")
    return ax


def plot_grid(df, plot, ops: list[str], ncol: int = 4):
    """One panel of ``plot(df, op, ax=...)`` per op, ``ncol`` panels a row; returns the figure."""
    import matplotlib.pyplot as plt

    nrow = max(1, math.ceil(len(ops) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.8 * nrow), squeeze=False)
    for ax, op in zip(axes.flat, ops, strict=False):
        plot(df, op, ax=ax)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(ops) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_ops(dfs, width: float = 5, height: float = 9):
    """Time-per-call bars (top) and scaling (bottom) for several one-op frames side by side;
    returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(dfs), figsize=(width * len(dfs), height), squeeze=False)
    for i, df in enumerate(dfs):
        op = df["operation"].iloc[0]
        plot_comparison(df, op, ax=axes[0, i])
        plot_scaling(df, op, ax=axes[1, i])
    fig.tight_layout()
    return fig


def plot_roofline(df, limits=None, ax=None):
    """Roofline: Atlas's GFLOP/s against arithmetic intensity (flop/byte), log-log, one
    point per row with a nominal flop count, coloured by group; with ``limits``
    (:func:`hologram.bench.roofline.measure`), the roofs of the rows' thread count: the
    FMA peak (register-only probe) and the read and copy bandwidths."""
    ax = _ax(ax, (9, 6))
    d = df[np.isfinite(df["gflops"].astype(float)) & np.isfinite(df["intensity"].astype(float))]
    d = d[(d["gflops"] > 0) & (d["intensity"] > 0)]
    for g, sub in d.groupby("group", sort=False):
        ax.scatter(sub["intensity"], sub["gflops"], s=18, label=g)
    if limits:
        from .roofline import limits_for

        threads = int(d["threads"].max()) if len(d) else 1
        lim = limits_for(threads, limits)
        lo = min([0.01, *d["intensity"].tolist()]) / 2
        hi = max([100.0, *d["intensity"].tolist()]) * 2
        x = np.geomspace(lo, hi, 200)
        ax.plot(
            x,
            np.full_like(x, lim["peak_gflops"]),
            "k-",
            lw=1.5,
            label="FMA peak (register-only probe)",
        )
        for kind, style in (("read", "--"), ("copy", ":")):
            bw = lim[f"{kind}_gbs"]
            ax.plot(
                x,
                np.minimum(bw * x, lim["peak_gflops"]),
                "k" + style,
                lw=1,
                label=f"{kind} bandwidth {bw:.1f} GB/s",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(BY_NAME["intensity"].axis_label)
    ax.set_ylabel(f"Atlas {BY_NAME['gflops'].unit}")
    ax.set_title("Roofline: Atlas rate against arithmetic intensity")
    ax.legend(fontsize=7)
    return ax


def plot_fused(df, ax=None):
    """The fused rows' speedups of the jit over PyTorch eager and over torch.compile, two
    bars a row (log y; above 1 = the jit faster); a row without torch.compile has only
    the first bar."""
    ax = _ax(ax, (10, 5))
    if not len(df):
        ax.text(0.5, 0.5, "no fused rows in this run", ha="center", va="center")
        ax.set_axis_off()
        return ax
    x = np.arange(len(df))
    for i, (col, label, color) in enumerate(
        (("speedup", "vs PyTorch eager", COLORS["pytorch"]),
         ("speedup_vs_compile", "vs torch.compile", COLORS["compiled"]))
    ):  # fmt: skip
        v = df[col].astype(float).to_numpy()
        ax.bar(x + (i - 0.5) * 0.4, v, 0.4, label=label, color=color)
    ax.axhline(1.0, color="black", lw=1)
    ax.set_xticks(
        x, [lbl.removeprefix("fused_") for lbl in row_labels(df)], rotation=45, ha="right"
    )
    ax.set_yscale("log")
    ax.set_ylabel("jit speedup (other time / jit time)")
    ax.set_title("@hg.jit: speedup over PyTorch eager and torch.compile")
    ax.legend()
    return ax
