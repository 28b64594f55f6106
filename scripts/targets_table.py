"""Render issue 4's target rows from two benchmark runs as a Markdown table.

    .venv/bin/python scripts/targets_table.py docs/results/results.json \
        docs/results/threads-all/results.json

Prints one line per target row: the goal, the speedup with one thread and with all
cores (PyTorch median / Atlas median from the run's results.json), and a check mark
when the goal is met (judged on the ratio of medians).  A missed row also shows the run's
speedup_paired (median of per-round ratios, robust to drift of the machine's speed), where
the results have it.  Used to refresh docs/performance.md after a benchmark run.
"""

import json
import sys

# (label, operation, shape label, speedup column, goal 1 thread, goal all cores)
ROWS = [
    (f"{op} at 1,000", op, "1,000", "speedup", 5.0, 5.0)
    for op in (
        "vector_add",
        "vector_sub",
        "vector_mul",
        "vector_div",
        "neg",
        "abs",
        "relu",
        "sigmoid",
        "tanh",
        "exp",
        "log",
        "sqrt",
        "pow",
        "sum",
        "max",
        "min",
        "mse_loss",
    )
]
ROWS += [("softmax 1x1000", "softmax", "1x1000", "speedup", 5.0, 5.0)]
ROWS += [
    (f"{op} 10M, PyTorch allocating", op, "10,000,000", "speedup", 10.0, 10.0)
    for op in ("vector_add", "vector_mul", "vector_div")
]
ROWS += [
    (f"{op} 10M, PyTorch `out=`", op, "10,000,000", "speedup_vs_out", 1.0, 1.0)
    for op in ("vector_add", "vector_mul", "vector_div")
]
ROWS += [(f"{op} 1M", op, "1,000,000", "speedup", 1.5, 1.5) for op in ("exp", "log")]
ROWS += [(f"{op} 1M", op, "1,000,000", "speedup", 2.0, 1.5) for op in ("sigmoid", "tanh")]
ROWS += [
    (f"{op} 1M", op, "1,000,000", "speedup", 1.0, 1.0)
    for op in ("relu", "sqrt", "abs", "neg", "sum", "max", "min")
]
ROWS += [
    ("softmax 1000x1000", "softmax", "1000x1000", "speedup", 1.5, 1.5),
    ("mse_loss 1M", "mse_loss", "1,000,000", "speedup", 1.5, 1.5),
    ("cross_entropy 4096x1000", "cross_entropy", "4096x1000", "speedup", 1.5, 1.5),
]
ROWS += [(f"gemm {n}x{n}", "gemm", f"{n}x{n}", "speedup", 1.0, 1.0) for n in (64, 256, 1024)]


def load(path):
    with open(path) as f:
        return {(r["operation"], r["shape"]): r for r in json.load(f)}


def cell(run, op, shape, col, goal):
    r = run.get((op, shape))
    if r is None or r.get(col) is None:
        return "n/a"
    v = float(r[col])
    text = f"{v:.2f}x {'✓' if v >= goal else '✗'}"
    paired = r.get("speedup_paired") if col == "speedup" else None
    if v < goal and paired is not None:
        text += f" (paired {float(paired):.2f}x)"
    return text


def main(one_path, all_path):
    one, allc = load(one_path), load(all_path)
    print("| target row | goal | 1 thread | 2 threads (all cores) |")
    print("|---|---|---|---|")
    for label, op, shape, col, g1, ga in ROWS:
        goal = f"≥ {g1:g}x" if g1 == ga else f"≥ {g1:g}x / ≥ {ga:g}x"
        print(
            f"| {label} | {goal} | {cell(one, op, shape, col, g1)} | {cell(allc, op, shape, col, ga)} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
