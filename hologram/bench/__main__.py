"""CLI: python -m hologram.bench --out results/ [--quick] [--threads N] [--ops a,b,...]"""

from __future__ import annotations

import argparse
import sys
import time


def _progress(total: int):
    """(advance(record), close()) using tqdm when importable, else a stderr status line."""
    try:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="row", file=sys.stderr)

        def advance(rec):
            bar.set_postfix_str(f"{rec['operation']} {rec['shape']}", refresh=False)
            bar.update()

        return advance, bar.close
    except ImportError:
        done = [0]

        def advance(rec):
            done[0] += 1
            sys.stderr.write(f"\r[{done[0]}/{total}] {rec['operation']} {rec['shape']}\033[K")
            sys.stderr.flush()

        return advance, lambda: sys.stderr.write("\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hologram.bench", description=__doc__)
    ap.add_argument("--out", default="results", help="output directory (default: results/)")
    ap.add_argument(
        "--quick", action="store_true", help="small sizes and fewer samples: a short run"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for both PyTorch and Atlas (default 1; 0 = all cores)",
    )
    ap.add_argument(
        "--ops",
        default=None,
        help="comma-separated op names, 'fused' for the fused group (default: all)",
    )
    ap.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure torch.compile on the fused rows (default: yes, no with --quick)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="list the ops and their sizes, then exit")
    ap.add_argument(
        "--no-limits",
        action="store_true",
        help="skip measuring the machine's peak and bandwidths (no percentage columns)",
    )
    args = ap.parse_args(argv)

    from . import roofline, suite
    from .report import write_report
    from .sysinfo import collect_system_info

    if args.list:
        for op in suite.table().values():
            print(f"{op.name:14} {op.group:15} full={list(op.sizes)} quick={list(op.quick)}")
        return 0
    names = [n.strip() for n in args.ops.split(",") if n.strip()] if args.ops else None
    try:
        rows = suite.plan(names, args.quick)
        executor = suite.make_executor(args.threads)
    except (KeyError, ValueError) as exc:
        ap.error(str(exc.args[0]) if exc.args else str(exc))
    settings = suite.timing_settings(args.quick, executor.threads)
    compile_fused = not args.quick if args.compile is None else args.compile
    t0 = time.perf_counter()
    limits = None if args.no_limits else roofline.measure(quick=args.quick)
    if limits:
        print("\n".join(roofline.format_limits(limits)), flush=True)
    advance, close = _progress(len(rows))
    try:
        records = suite.run_suite(
            names,
            quick=args.quick,
            executor=executor,
            seed=args.seed,
            progress=advance,
            limits=limits,
            compile=compile_fused,
            **settings,
        )
    finally:
        close()
    wall = time.perf_counter() - t0
    info = collect_system_info(executor)
    config = {
        "quick": args.quick,
        "threads": executor.threads,
        "ops": args.ops or "all",
        "seed": args.seed,
        "torch_compile": compile_fused,
        "rows": len(records),
        "wall_time_s": round(wall, 1),
        **settings,
    }
    paths = write_report(records, args.out, info, config, limits)

    failed = [r for r in records if not r["correct"]]
    for r in records:
        print(suite.format_row(r))
    print(f"\n{len(records)} rows in {wall:.1f} s; report: {paths['md']}")
    if failed:
        print(f"{len(failed)} correctness failure(s):", file=sys.stderr)
        for r in failed:
            print(f"  {r['operation']} {r['shape']}: {r['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
