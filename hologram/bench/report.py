"""The report of a benchmark run: summary and findings computed from the results, and
report.md with results.json/.csv and the plots written next to it."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import io, plots, roofline, schema
from .timing import MIN_SAMPLE_S

TIE_BAND = 1.05  # speedups within [1/1.05, 1.05] count as a tie


def geomean(values) -> float:
    """Geometric mean of the finite positive values; NaN when there is none."""
    s = np.asarray(values, dtype=float)
    s = s[np.isfinite(s) & (s > 0)]
    return float(np.exp(np.log(s).mean())) if s.size else math.nan


def measured(df):
    """The rows with a finite speedup (a row whose Atlas call raised has none)."""
    return df[np.isfinite(df["speedup"].astype(float))]


def failed_checks(df):
    """The rows whose correctness check failed (rows without a check are not counted)."""
    if "correct" not in df:
        return df.iloc[:0]
    return df[df["correct"].eq(False)]


def groups(df):
    """Each row's group: its group column, else the op table's group of its operation."""
    from .suite import group_of

    given = df["group"] if "group" in df else df["operation"].map(lambda _: None)
    return given.where(given.notna(), df["operation"].map(group_of))


def create_summary_table(df):
    """One row per operation: sizes, median/min/max speedup (PyTorch time / Atlas time),
    how many sizes Atlas wins, and the winner by median speedup
    ('Atlas' above TIE_BAND, 'PyTorch' below 1/TIE_BAND, else 'tie')."""
    import pandas as pd

    rows = []
    for op, g in df.groupby("operation", sort=False):
        s = g["speedup"].astype(float)
        med = float(s.median())
        rows.append(
            {
                "operation": op,
                "sizes": ", ".join(schema.size_labels(g)),
                "median_speedup": med,
                "min_speedup": float(s.min()),
                "max_speedup": float(s.max()),
                "atlas_wins": f"{int((s > 1).sum())}/{len(s)}",
                "winner": "Atlas" if med > TIE_BAND else "PyTorch" if med < 1 / TIE_BAND else "tie",
            }
        )
    return pd.DataFrame(rows)


def expectations_table(df, expectations):
    """Compare claims about the speedup with the measured rows.

    Each expectation is a dict: ``text`` (the claim), ``ops`` (operation names), ``low`` and
    ``high`` (the speedup range the claim means) and optionally ``rows="largest"`` (only each
    op's largest size).  The verdict is 'held' when every row lies in the range, 'not held'
    when none does, else 'partly'.
    """
    import pandas as pd

    df = measured(df)
    out = []
    for e in expectations:
        rows = df[df["operation"].isin(e["ops"])]
        if e.get("rows") == "largest":
            rows = rows[rows["size"] == rows.groupby("operation")["size"].transform("max")]
        s = rows["speedup"].astype(float)
        inside = int(((s >= e["low"]) & (s <= e["high"])).sum())
        out.append(
            {
                "expectation": e["text"],
                "expected speedup": f"{e['low']:.2f}x - {e['high']:.2f}x",
                "measured": f"{s.min():.2f}x - {s.max():.2f}x" if len(s) else "no rows",
                "rows inside": f"{inside}/{len(s)}",
                "verdict": "no rows"
                if not len(s)
                else "held"
                if inside == len(s)
                else "not held"
                if inside == 0
                else "partly",
            }
        )
    return pd.DataFrame(out)


def _label(r) -> str:
    return schema.row_labels(r.to_frame().T)[0]


def _ratio_line(df, col: str, text: str) -> list[str]:
    """A bullet on a second speedup column: wins and geo-mean over the rows that have it."""
    if col not in df or not df[col].notna().any():
        return []
    o = df[df[col].notna()]
    return [
        f"- {text}: Atlas wins {int((o[col] > 1).sum())} of {len(o)} rows that have it "
        f"(against plain PyTorch: {int((o['speedup'] > 1).sum())}); geo-mean {geomean(o[col]):.2f}x."
    ]


def findings_markdown(df) -> str:
    """The findings of a results DataFrame, as Markdown: every figure is computed here."""
    ok = measured(df)
    lost = df[~df.index.isin(ok.index)]
    failed = failed_checks(df)
    lines = []
    if ok.empty:
        lines.append("_No successful measurements._")
    else:
        threads = (
            ", ".join(str(int(t)) for t in sorted(ok["threads"].dropna().unique()))
            if "threads" in ok
            else "?"
        )
        wins = int((ok["speedup"] > 1).sum())
        lines += [
            f"**Measured** ({len(ok)} rows, threads = {threads}): Atlas is faster than PyTorch in "
            f"**{wins} of {len(ok)}** rows; geometric-mean speedup "
            f"**{geomean(ok['speedup']):.2f}x** (>1 means Atlas faster).",
            "",
            "| group | rows | Atlas wins | geo-mean speedup | range |",
            "|---|---|---|---|---|",
        ]
        for g, sub in ok.groupby(groups(ok), sort=False):
            lines.append(
                f"| {g} | {len(sub)} | {int((sub['speedup'] > 1).sum())} "
                f"| {geomean(sub['speedup']):.2f}x "
                f"| {sub['speedup'].min():.2f}x - {sub['speedup'].max():.2f}x |"
            )
        best, worst = ok.loc[ok["speedup"].idxmax()], ok.loc[ok["speedup"].idxmin()]
        lines += ["", f"- Largest Atlas advantage: **{_label(best)}** at {best['speedup']:.2f}x."]
        lines.append(
            f"- Largest PyTorch advantage: **{_label(worst)}** at {1 / worst['speedup']:.2f}x "
            f"(speedup {worst['speedup']:.2f}x)."
            if worst["speedup"] < 1
            else f"- PyTorch wins no row; Atlas's narrowest lead: **{_label(worst)}** "
            f"at {worst['speedup']:.2f}x."
        )
        lines += _ratio_line(
            ok, "speedup_vs_out", "Fairness control, against PyTorch with `out=` (no allocation)"
        )
        lines += _ratio_line(
            ok, "speedup_paired", "Drift check, the speedup taken within each round of samples"
        )
        g = ok[ok["operation"] == "gemm"]
        if len(g):
            big = g.loc[g["size"].idxmax()]
            lines.append(f"- Largest GEMM (**{_label(big)}**): speedup {big['speedup']:.2f}x.")
    lines.append(
        f"- Rows without a measurement: {len(lost)}"
        + "".join(f"; {_label(r)}: {r.get('error')}" for _, r in lost.iterrows())
        + "."
    )
    lines.append(f"- Rows that failed the correctness check: {len(failed)}.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- fusion

#: item 8 of issue 13: the fused group's speed targets
BIG, SMALL = 1_000_000, 10_000  # rows of >= 1M elements; rows of <= 10K elements (the 1K rows)
TARGET_EAGER_BIG, TARGET_COMPILE_BIG, TARGET_COMPILE_SMALL, TARGET_GEOMEAN = 3.0, 1.2, 5.0, 1.5


def fused_rows(df):
    """The rows of the fused group."""
    if "group" not in df or not len(df):
        return df.iloc[:0]
    return df[df["group"].eq("fused")]


def _us(v) -> float:
    return float(v) * 1e3 if v is not None else math.nan


def fusion_table(df):
    """One row per fused (workload, size): times in microseconds, the jit's ratios to
    PyTorch eager and to torch.compile, torch.compile's compile time and the jit's
    launches (kernel headers of its IR)."""
    import pandas as pd

    f = fused_rows(df)
    return pd.DataFrame(
        {
            "workload": [o.removeprefix("fused_") for o in f["operation"]],
            "size": list(f["shape"]),
            "kernels": [None if k is None or k != k else int(k) for k in f["kernels"]],
            "jit µs": [_us(v) for v in f["atlas_median_ms"]],
            "op-by-op µs": [_us(v) for v in f["atlas_ops_median_ms"]],
            "eager µs": [_us(v) for v in f["pytorch_median_ms"]],
            "compiled µs": [_us(v) for v in f["compiled_median_ms"]],
            "jit vs eager": f["speedup"].astype(float).tolist(),
            "jit vs compile": f["speedup_vs_compile"].astype(float).tolist(),
            "compile s": f["compile_s"].astype(float).tolist(),
        }
    )


def _fusion_cells(table):
    """The Fusion table as text: microseconds to 0.1, ratios as 2.00x, seconds to 0.1;
    'n/m' (not measured) for an empty cell."""

    def fmt(col, v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/m"
        if col.endswith("µs"):
            return f"{v:,.1f}"
        if col.startswith("jit vs"):
            return f"{v:.2f}x"
        return f"{v:.1f}" if col == "compile s" else str(v)

    return table.apply(lambda c: [fmt(c.name, v) for v in c])


def fusion_targets(df):
    """Each target of the fused group against the measured rows: the rows it covers, how
    many meet it, the verdict ('held', 'not held', 'not measured') and the misses, each
    with its measured ratio."""
    import pandas as pd

    f = fused_rows(df)
    size = f["size"].astype(float)
    out = []
    for text, rows, col, target in (
        (f">= {TARGET_EAGER_BIG:g}x PyTorch eager at >= 1M elements", size >= BIG, "speedup",
         TARGET_EAGER_BIG),
        (f">= {TARGET_COMPILE_BIG:g}x torch.compile at >= 1M elements", size >= BIG,
         "speedup_vs_compile", TARGET_COMPILE_BIG),
        (f">= {TARGET_COMPILE_SMALL:g}x torch.compile at 1K elements", size <= SMALL,
         "speedup_vs_compile", TARGET_COMPILE_SMALL),
    ):  # fmt: skip
        r = f[rows]
        v = r[col].astype(float)
        have = v[np.isfinite(v)]
        miss = r[np.isfinite(v) & (v < target)]
        out.append(
            {
                "target": text,
                "rows": len(r),
                "met": f"{int((have >= target).sum())}/{len(have)}",
                "verdict": "no rows"
                if not len(r)
                else "not measured"
                if not len(have)
                else "held"
                if not len(miss)
                else "not held",
                "misses": ", ".join(f"{_label(m)} {m[col]:.2f}x" for _, m in miss.iterrows()),
            }
        )
    g = geomean(f["speedup_vs_compile"])
    out.append(
        {
            "target": f"geomean over the group >= {TARGET_GEOMEAN:g}x torch.compile",
            "rows": len(f),
            "met": "" if math.isnan(g) else f"{g:.2f}x",
            "verdict": "not measured"
            if math.isnan(g)
            else "held"
            if g >= TARGET_GEOMEAN
            else "not held",
            "misses": "" if math.isnan(g) or g >= TARGET_GEOMEAN else f"geomean {g:.2f}x",
        }
    )
    return pd.DataFrame(out)


def fusion_markdown(df) -> str:
    """The report's Fusion section body: the table, the geomeans, the targets."""
    f = fused_rows(df)
    if not len(f):
        return "_no fused rows in this run_"
    ok = f[np.isfinite(f["speedup"].astype(float))]
    threads = ", ".join(str(int(t)) for t in sorted(f["threads"].dropna().unique()))
    compiled = np.isfinite(f["speedup_vs_compile"].astype(float)).any()
    lines = [
        "Each workload is one Python function over Buffers: `@hg.jit` (jit), the same function "
        "called on Buffers op by op, PyTorch eager and torch.compile (default Inductor, "
        "`dynamic=False`, compiled afresh per row; its first call is `compile s`, never in "
        "the samples: Dynamo and Inductor in full with the FX graph cache off, though a C++ "
        "kernel Inductor built in an earlier run on this machine comes from its disk cache). Every column is verified against PyTorch eager before timing. "
        f"Threads: {threads}. `kernels`: launches of the jit (kernel headers of `f.ir`).",
        "",
        _md_table(_fusion_cells(fusion_table(df))),
        "",
        "n/m: not measured.",
        "",
        f"- Geomean, jit vs PyTorch eager: **{geomean(ok['speedup']):.2f}x** over {len(ok)} rows.",
    ]
    if compiled:
        c = f["speedup_vs_compile"].astype(float)
        lines.append(
            f"- Geomean, jit vs torch.compile: **{geomean(c):.2f}x** over "
            f"{int(np.isfinite(c).sum())} rows; jit faster in {int((c > 1).sum())}."
        )
    else:
        lines.append(
            "- **torch.compile: not measured in this run** (`--quick` or `--no-compile`); the "
            "compiled columns are empty, and no ratio to it is claimed."
        )
    several = f[f["kernels"].fillna(1).astype(float) > 1]
    lines.append(
        "- Every jit runs as one kernel."
        if not len(several)
        else "- More than one kernel: "
        + ", ".join(f"{_label(r)} ({int(r['kernels'])})" for _, r in several.iterrows())
        + "."
    )
    lines += ["", "Targets (issue 13, item 8):", "", _md_table(fusion_targets(df))]
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


FILES = {
    "json": "results.json",
    "csv": "results.csv",
    "comparison": "comparison.png",
    "scaling": "scaling.png",
    "speedup": "speedup.png",
    "heatmap": "heatmap.png",
    "roofline": "roofline.png",
    "fused": "fused.png",
    "limits": "limits.json",
    "md": "report.md",
}


def _write_plots(ok, p: dict[str, str], limits=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(ok["operation"]))
    figs = {
        "comparison": plots.plot_grid(ok, plots.plot_comparison, ops),
        "scaling": plots.plot_grid(ok, plots.plot_scaling, ops),
    }
    for kind, plot in (("speedup", plots.plot_speedup), ("heatmap", plots.plot_heatmap)):
        fig = plt.figure(figsize=(12, max(6, 0.22 * len(ok))) if kind == "speedup" else (14, 8))
        plot(ok, ax=fig.gca())
        fig.tight_layout()
        figs[kind] = fig
    fig = plt.figure(figsize=(9, 6))
    plots.plot_roofline(ok, limits, ax=fig.gca())
    fig.tight_layout()
    figs["roofline"] = fig
    fig = plt.figure(figsize=(10, 5))
    plots.plot_fused(fused_rows(ok), ax=fig.gca())
    fig.tight_layout()
    figs["fused"] = fig
    for kind, fig in figs.items():
        fig.savefig(p[kind], dpi=90)
        plt.close(fig)


def limits_markdown(limits: dict[str, Any] | None) -> list[str]:
    """The machine's limits as a Markdown table (one core, all cores) and how each was
    measured."""
    if not limits:
        return ["_not measured (--no-limits): the percentage columns are empty_"]
    n = limits.get("all_threads", "all")
    out = [f"| limit ({limits.get('isa', '?')}) | 1 thread | {n} threads |", "|---|---|---|"]
    for what, key, unit in roofline.LIMIT_ROWS:
        if key + "_1" in limits:
            out.append(
                f"| {what} ({unit}) | {limits[key + '_1']:.1f} | {limits[key + '_all']:.1f} |"
            )
    for isa, (one, alls) in limits.get("fma_peak_by_isa", {}).items():
        out.append(f"| FMA peak at {isa} (GFLOP/s) | {one:.1f} | {alls:.1f} |")
    out += [""] + [f"- {k.split('_')[0]}: {limits[k]}" for k in limits if k.endswith("_method")]
    return out


def _rows_section(title: str, rows, cols) -> list[str]:
    return [f"## {title} ({len(rows)})", "", _md_table(rows[cols]) if len(rows) else "_none_", ""]


def write_report(
    records: list[dict[str, Any]],
    out_dir: str,
    system_info: dict[str, Any],
    config: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write results.json, results.csv, comparison.png, scaling.png, speedup.png, heatmap.png,
    roofline.png, fused.png, limits.json (the run's metadata: the machine's limits, the system and the
    settings; results.json stays a list of records) and report.md into ``out_dir``; returns
    {kind: path}."""
    import json

    import pandas as pd

    os.makedirs(out_dir, exist_ok=True)
    p = {k: os.path.join(out_dir, f) for k, f in FILES.items()}
    io.save_results(records, p["json"], format="json")
    io.save_results(records, p["csv"], format="csv")
    with open(p["limits"], "w", encoding="utf-8") as f:
        meta = {"limits": limits, "system": system_info, "config": config}
        json.dump(io.plain(meta), f, indent=2, allow_nan=False)
        f.write("\n")
    df = pd.DataFrame(records)
    ok = measured(df)
    _write_plots(ok, p, limits)

    summary = create_summary_table(ok) if len(ok) else pd.DataFrame()
    cols = [c for c in schema.ROW_VIEW if c in ok]  # older results files lack speedup_paired
    failed = failed_checks(df)
    min_sample_ms = (config or {}).get("min_sample_s", MIN_SAMPLE_S) * 1e3
    md = [
        "# Hologram Atlas vs PyTorch (CPU) benchmark",
        "",
        "Times are per call (ms), the median of calibrated samples (each sample loops the op for "
        f">= {min_sample_ms:g} ms); the columns are listed at the end. "
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
        md += ["", "## Run", "", "| setting | value |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in config.items()]
    md += ["", "## Machine limits", ""] + limits_markdown(limits)
    md += [
        "",
        "## Findings",
        "",
        findings_markdown(df),
        "",
        "## Fusion",
        "",
        fusion_markdown(df),
        "",
        "## Summary by operation",
        "",
        _md_table(summary) if len(summary) else "_empty_",
        "",
        *_rows_section("Rows Atlas wins", ok[ok["speedup"] > 1], cols),
        *_rows_section("Rows PyTorch wins", ok[ok["speedup"] <= 1], cols),
        f"## Correctness failures ({len(failed)})",
        "",
    ]
    md += [f"- `{r['operation']} {r['shape']}`: {r['error']}" for _, r in failed.iterrows()] or [
        "_none_"
    ]
    md += ["", "## Plots", ""]
    md += [
        f"![{k}]({FILES[k]})"
        for k in ("roofline", "fused", "speedup", "heatmap", "comparison", "scaling")
    ]
    md += ["", "## Columns", "", _md_table(schema.describe()), ""]
    with open(p["md"], "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    return p
