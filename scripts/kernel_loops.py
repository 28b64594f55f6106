"""Instructions per element of the kernels' compiled main loops, two levels side by side.

Reads the disassembly (objdump -d) of two kernel libraries, e.g. the AArch64 NEON one from
scripts/test-arm64.sh and the x86-64 AVX2 one of a native build:

    aarch64-linux-gnu-objdump -d --no-show-raw-insn build-arm64/libatlas_kernels_neon.a > neon.s
    objdump -d --no-show-raw-insn build-rel/libatlas_kernels_avx2.a > avx2.s
    python3 scripts/kernel_loops.py neon.s avx2.s

For each kernel function it finds the loops (a backward branch to an address in the same
function), follows the shortest path through one iteration (the fast path: the special-value
checks not taken, no call) and keeps the loops whose path moves the floats of one group of the
kernel's main loop (its G vectors; the table KERNELS below), the shortest of them: vector stores
for the elementwise and vector-math kernels, vector loads for the reductions, vector FMAs for
the gemm micro-kernel (the most of them).  It prints that path's
instructions, the floats per iteration and their ratio, the instructions per element, and the
vector instructions per element (register-to-register vector operations, which the core's
vector pipes execute: the bound a core with P such pipes puts at vec/elem / P cycles per
element): the cost of the path that large inputs of ordinary values run.
"""

import re
import sys

# (function, what its loop moves, vectors per iteration of its main loop: the group size G of
# src/kernels/loops.h and vmath.c, None for the gemm micro-kernel's unrolled depth steps).
# sigmoid, log1p and pow are left out: the compiler lays their group loop out around other
# loops or special-exponent paths, and the shortest path through it is not the main one.
KERNELS = [
    ("k_add", "store", 4),
    ("k_mul_s", "store", 4),
    ("k_relu", "store", 4),
    ("k_cmp_lt", "store", 1),
    ("k_select", "store", 1),
    ("k_exp", "store", 4),
    ("k_log", "store", 8),
    ("k_tanh", "store", 4),
    ("k_sqrt", "store", 4),
    ("k_erf", "store", 8),
    ("k_expm1", "store", 2),
    ("k_exp_sub_sum", "store", 4),
    ("k_rsum", "load", 4),
    ("k_rmax", "load", 4),
    ("gemm_ukr_packed", "fma", None),
]

CALL_COST = 1 << 20
LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
FUNC = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
TARGET = re.compile(r"\b([0-9a-f]+) <([^>+]+)(?:\+0x[0-9a-f]+)?>")


def functions(path):
    """{name: [(address, mnemonic, operands)]} from objdump -d output."""
    out, cur = {}, None
    with open(path) as f:
        for line in f:
            m = FUNC.match(line.strip())
            if m:
                cur = out.setdefault(m.group(1), [])
                continue
            m = LINE.match(line)
            if m and cur is not None:
                # drop objdump's comments (AArch64 "//", x86 "#" after a gap)
                ops = re.split(r"//|\s{2,}#|\t#", m.group(3))[0]
                cur.append((int(m.group(1), 16), m.group(2), ops.strip()))
    return out


def lanes(ops):
    """Floats in one vector operand of the instruction, 0 for none."""
    if "%zmm" in ops:
        return 16
    if "%ymm" in ops:
        return 8
    if "%xmm" in ops or re.search(r"\bq\d+\b|\bv\d+\.", ops):
        return 4
    return 0


def vector_op(mnem, ops):
    """1 for an instruction the vector pipes execute: an operation on vector registers (an x86
    one may take a memory operand too), not a load, store or prefetch."""
    if lanes(ops) == 0 or mnem.startswith(
        ("ld", "st", "prf", "prefetch", "vmaskmov", "vbroadcast")
    ):
        return 0
    return int(not (mnem.startswith(("vmov", "mov")) and is_mem(ops)))


def is_mem(ops):
    """A memory operand other than the stack (spills and reloads are not the data)."""
    return ("(" in ops or re.search(r"\[(x\d+|sp)\b", ops)) and not re.search(
        r"\[(sp|x29)\b|%rsp|%rbp", ops
    )


def moved(mnem, ops, kind):
    """Floats the instruction stores, loads or multiply-adds, for the loop's measure."""
    n = lanes(ops)
    if n == 0:
        return 0
    if kind == "fma":
        return n if mnem.startswith(("fmla", "vfmadd", "vfnmadd")) else 0
    if not is_mem(ops):
        return 0
    pair = 2 if mnem in ("stp", "ldp", "stnp", "ldnp") else 1
    if mnem.startswith(("st", "vmovntps")) or (
        mnem.startswith(("vmov", "vmaskmov")) and re.search(r",\s*-?\w*\(", ops)
    ):
        return n * pair if kind == "store" else 0
    if kind == "load" and not mnem.startswith(("st", "prfm", "prefetch")):
        return n * pair
    return 0


def branch_target(mnem, ops):
    """The address a branch instruction goes to, or None for other instructions."""
    if not mnem.startswith(("b", "j", "cb", "tb")):
        return None
    m = TARGET.search(ops)
    return int(m.group(1), 16) if m else None


def fast_path(body, kind):
    """(instructions, floats) of the shortest path through one loop iteration.

    body runs from the loop head to its backward branch; forward branches inside it may be
    taken or not, branches out of it (an out-of-line slow path) are taken as not taken.  The
    fewest instructions from head to back-edge is the fast path."""
    index = {a: i for i, (a, _, _) in enumerate(body)}
    inf = (1 << 40, 0, 0)
    best = [inf] * len(body)
    best[0] = (1, moved(body[0][1], body[0][2], kind), vector_op(body[0][1], body[0][2]))
    for i, (_a, mnem, ops) in enumerate(body[:-1]):
        if best[i] == inf:
            continue
        t = branch_target(mnem, ops)
        succ = []
        if mnem not in ("b", "jmp"):
            succ.append(i + 1)
        if t is not None and t in index and index[t] > i:
            succ.append(index[t])
        for j in succ:
            # a call (the full per-vector path of some kernels) is never the fast path
            step = CALL_COST if body[j][1] in ("bl", "call") else 1
            cand = (
                best[i][0] + step,
                best[i][1] + moved(body[j][1], body[j][2], kind),
                best[i][2] + vector_op(body[j][1], body[j][2]),
            )
            if cand[0] < best[j][0]:
                best[j] = cand
    return best[-1] if best[-1][0] < CALL_COST else None


def main_loop(insns, kind, floats):
    """(instructions, floats) of the fastest iteration among the function's loops that move
    `floats` floats per iteration (the most, when floats is None), or None."""
    addrs = {a: i for i, (a, _, _) in enumerate(insns)}
    best = None
    for i, (a, mnem, ops) in enumerate(insns):
        t = branch_target(mnem, ops)
        if t is None or t >= a or t not in addrs:
            continue
        r = fast_path(insns[addrs[t] : i + 1], kind)
        if not r or not r[1] or (floats is not None and r[1] != floats):
            continue
        if best is None or (r[1], -r[0]) > (best[1], -best[0]):
            best = r
    return best


def vector_floats(path):
    """Floats per vector register of the level a disassembly is of."""
    text = open(path).read()
    return 16 if "%zmm" in text else 8 if "%ymm" in text else 4


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    levels = [(functions(p), vector_floats(p)) for p in argv[1:]]
    names = [p.rsplit("/", 1)[-1] for p in argv[1:]]
    print(
        f"{'kernel':<16}"
        + "".join(
            f"{n + ' insns/iter':>20}{'elems':>7}{'insns/elem':>11}{'vec/elem':>9}" for n in names
        )
    )
    for fn, kind, group in KERNELS:
        row = f"{fn:<16}"
        for lv, vl in levels:
            insns = lv.get(fn)
            r = main_loop(insns, kind, group and group * vl) if insns else None
            row += (
                f"{r[0]:>20}{r[1]:>7}{r[0] / r[1]:>11.2f}{r[2] / r[1]:>9.2f}"
                if r
                else f"{'-':>20}{'-':>7}{'-':>11}{'-':>9}"
            )
        print(row)


if __name__ == "__main__":
    main(sys.argv)
