"""Turn benchmark records into results.json/.csv, plots and report.md, and findings text."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import benchmark_utils as bu
from .suite import GROUPS


def _geomean(s) -> float:
    s = np.asarray(s, dtype=float)
    s = s[np.isfinite(s) & (s > 0)]
    return float(np.exp(np.log(s).mean())) if s.size else math.nan


def _label(r) -> str:
    return f"{r['operation']} {r['shape'] if isinstance(r.get('shape'), str) else int(r['size'])}"


def findings_markdown(df) -> str:
    """A findings paragraph computed from a results DataFrame (speedup = PyTorch time / Atlas time)."""
    df = df[np.isfinite(df["speedup"].astype(float))]
    if df.empty:
        return "_No successful measurements._"
    groups = df["operation"].map(lambda o: GROUPS.get(o, "other"))
    wins = df["speedup"] > 1
    best, worst = df.loc[df["speedup"].idxmax()], df.loc[df["speedup"].idxmin()]
    threads = (
        ", ".join(str(int(t)) for t in sorted(df["threads"].dropna().unique()))
        if "threads" in df
        else "?"
    )
    lines = [
        f"**Measured** ({len(df)} rows, threads = {threads}): Atlas is faster than PyTorch in "
        f"**{int(wins.sum())} of {len(df)}** rows; geometric-mean speedup **{_geomean(df['speedup']):.2f}x** "
        "(>1 means Atlas faster).",
        "",
        "| group | rows | Atlas wins | geo-mean speedup | range |",
        "|---|---|---|---|---|",
    ]
    for g, sub in df.groupby(groups, sort=False):
        lines.append(
            f"| {g} | {len(sub)} | {int((sub['speedup'] > 1).sum())} | {_geomean(sub['speedup']):.2f}x "
            f"| {sub['speedup'].min():.2f}x - {sub['speedup'].max():.2f}x |"
        )
    lines += [
        "",
        f"- Largest Atlas advantage: **{_label(best)}** at {best['speedup']:.2f}x.",
        f"- Largest PyTorch advantage: **{_label(worst)}** at {1 / worst['speedup']:.2f}x "
        f"(speedup {worst['speedup']:.2f}x)."
        if worst["speedup"] < 1
        else f"- PyTorch wins no row; Atlas's narrowest lead: **{_label(worst)}** at {worst['speedup']:.2f}x.",
    ]
    if "speedup_vs_out" in df and df["speedup_vs_out"].notna().any():
        o = df[df["speedup_vs_out"].notna()]
        lines.append(
            f"- Fairness control: against PyTorch with `out=` (no allocation per call) Atlas wins "
            f"{int((o['speedup_vs_out'] > 1).sum())} of {len(o)} rows that have it "
            f"(vs {int((o['speedup'] > 1).sum())} against plain PyTorch); geo-mean "
            f"{_geomean(o['speedup_vs_out']):.2f}x."
        )
    if "speedup_paired" in df and df["speedup_paired"].notna().any():
        pr = df[df["speedup_paired"].notna()]
        lines.append(
            f"- Drift check: with the speedup taken within each round of alternating samples "
            f"(speedup_paired) Atlas wins {int((pr['speedup_paired'] > 1).sum())} of {len(pr)} rows; "
            f"geo-mean {_geomean(pr['speedup_paired']):.2f}x."
        )
    g = df[df["operation"] == "gemm"]
    if len(g):
        big = g.loc[g["size"].idxmax()]
        lines.append(f"- Largest GEMM (**{_label(big)}**): speedup {big['speedup']:.2f}x.")
    if "correct" in df and not df["correct"].fillna(True).astype(bool).all():
        lines.append(
            f"- **{int((~df['correct'].fillna(True).astype(bool)).sum())} row(s) failed the correctness check.**"
        )
    return "\n".join(lines)


def _md_table(df, floatfmt: str = ".3g") -> str:
    def cell(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else format(v, floatfmt)
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def write_report(
    records: list[dict[str, Any]],
    out_dir: str,
    system_info: dict[str, Any],
    config: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write results.json, results.csv, comparison.png, scaling.png, speedup.png, heatmap.png
    and report.md into ``out_dir``; returns {kind: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    os.makedirs(out_dir, exist_ok=True)
    p = {
        k: os.path.join(out_dir, f)
        for k, f in [
            ("json", "results.json"),
            ("csv", "results.csv"),
            ("comparison", "comparison.png"),
            ("scaling", "scaling.png"),
            ("speedup", "speedup.png"),
            ("heatmap", "heatmap.png"),
            ("md", "report.md"),
        ]
    }
    bu.save_results(records, p["json"], format="json")
    bu.save_results(records, p["csv"], format="csv")
    df = pd.DataFrame(records)
    ok = df[np.isfinite(df["speedup"].astype(float))]
    ops = list(dict.fromkeys(ok["operation"]))

    ncol = 4
    nrow = max(1, math.ceil(len(ops) / ncol))
    for kind, plot in (("comparison", bu.plot_comparison), ("scaling", bu.plot_scaling)):
        fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.8 * nrow), squeeze=False)
        for ax, op in zip(axes.flat, ops, strict=False):
            plot(ok, op, ax=ax)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(ops) :]:
            ax.set_visible(False)
        fig.tight_layout()
        fig.savefig(p[kind], dpi=90)
        plt.close(fig)
    for kind, plot in (("speedup", bu.plot_speedup), ("heatmap", bu.plot_heatmap)):
        fig = plt.figure(figsize=(12, max(6, 0.22 * len(ok))) if kind == "speedup" else (14, 8))
        plot(ok, ax=fig.gca())
        fig.tight_layout()
        fig.savefig(p[kind], dpi=90)
        plt.close(fig)

    summary = bu.create_summary_table(ok) if len(ok) else pd.DataFrame()
    cols = [
        "operation",
        "shape",
        "pytorch_median_ms",
        "pytorch_out_median_ms",
        "numpy_median_ms",
        "atlas_median_ms",
        "speedup",
        "speedup_vs_out",
        "speedup_paired",
    ]
    cols = [c for c in cols if c in ok]  # older results files lack speedup_paired
    atlas_rows = ok[ok["speedup"] > 1]
    torch_rows = ok[ok["speedup"] <= 1]
    failed = df[~df["correct"].fillna(False).astype(bool)]
    md = [
        "# Hologram Atlas vs PyTorch (CPU) benchmark",
        "",
        "Times are per call (ms), the median of calibrated samples (each sample loops the op for >= "
        f"{(config or {}).get('min_sample_s', bu.MIN_SAMPLE_S) * 1e3:g} ms). speedup = PyTorch median / "
        "Atlas median (>1: Atlas faster); speedup_vs_out uses PyTorch with `out=` (no per-call allocation); "
        "speedup_paired is the median over rounds of PyTorch / Atlas within the round (samples alternate "
        "framework by framework, so a round's samples are milliseconds apart and drift of the machine's speed "
        "cancels). "
        "PyTorch and Atlas run with the same thread count; NumPy keeps its own BLAS threading (GEMM). "
        "With threads > 1 the numbers are sensitive to other load on the machine (see load_average_1m).",
        "",
        "## System",
        "",
        "| key | value |",
        "|---|---|",
    ]
    md += [
        f"| {k} | {v:.1f} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in system_info.items()
    ]
    if config:
        md += [
            "",
            "## Run",
            "",
            "| setting | value |",
            "|---|---|",
            *[f"| {k} | {v} |" for k, v in config.items()],
        ]
    md += [
        "",
        "## Findings",
        "",
        findings_markdown(ok) if len(ok) else "_No successful rows._",
        "",
        "## Summary by operation",
        "",
        _md_table(summary) if len(summary) else "_empty_",
        "",
        f"## Rows Atlas wins ({len(atlas_rows)})",
        "",
        _md_table(atlas_rows[cols]) if len(atlas_rows) else "_none_",
        "",
        f"## Rows PyTorch wins ({len(torch_rows)})",
        "",
        _md_table(torch_rows[cols]) if len(torch_rows) else "_none_",
        "",
        f"## Correctness failures ({len(failed)})",
        "",
    ]
    md += [f"- `{r['operation']} {r['shape']}`: {r['error']}" for _, r in failed.iterrows()] or [
        "_none_"
    ]
    md += [
        "",
        "## Plots",
        "",
        *[
            f"![{k}]({os.path.basename(p[k])})"
            for k in ("speedup", "heatmap", "comparison", "scaling")
        ],
        "",
    ]
    with open(p["md"], "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    return p
