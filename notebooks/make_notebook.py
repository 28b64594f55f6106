"""Generate pytorch_vs_atlas_benchmarks.ipynb from the user's seed notebook text.

    /work/venv/bin/python notebooks/make_notebook.py      # writes notebooks/pytorch_vs_atlas_benchmarks.ipynb

The seed's text and cells are kept; its TODO cells are implemented with
hologram.bench (benchmark_utils + suite), so no benchmark logic lives in the notebook.
"""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = []


def md(src):
    CELLS.append(new_markdown_cell(src.strip("\n")))


def code(src):
    CELLS.append(new_code_cell(src.strip("\n")))


# --- cell 0
md(r'''
# PyTorch CPU vs Hologram Atlas: Performance Benchmarks

**Version:** 0.1.0  
**Date:** 2025-10-18  
**Objective:** Fair, apples-to-apples performance comparison between PyTorch CPU and Hologram Atlas

---

## Executive Summary

This notebook benchmarks identical operations on **PyTorch CPU** and **Hologram Atlas** (our CPU-based virtual GPU). 

### Benchmark Methodology

- **Warm Kernels**: All measurements exclude compilation/JIT overhead (5 warmup runs)
- **Fair Comparison**: Both frameworks use identical input data and run on same CPU cores
- **Statistical Rigor**: Report mean, median, std, and 95% confidence intervals
- **Correctness Verified**: All outputs validated to match within ε=1e-5
- **Synchronous Execution**: No async queuing (measure actual compute time)

### Operations Tested

1. **Elementwise Operations** (vector add, mul, div, neg, abs)
2. **Activation Functions** (ReLU, sigmoid, tanh, softmax)
3. **Transcendental Functions** (exp, log, sqrt, pow)
4. **Reductions** (sum, max, min)
5. **Linear Algebra** (GEMM/matrix multiply)
6. **Loss Functions** (MSE, cross-entropy)

### Expected Results

- **Atlas advantages**: Simple elementwise ops, transcendentals (no library overhead)
- **PyTorch advantages**: Large GEMM (optimized BLAS libraries like MKL)
- **Competitive**: Reductions, activations, loss functions

---

## 1. Setup & Environment

### 1.1 Imports
''')

# --- cell 1
md(r'''
> **Install note** (run in a terminal, not from the notebook): this notebook needs NumPy, PyTorch
> (`pip install torch==2.13.0`, the CPU wheel), matplotlib, pandas and seaborn, and `hologram`
> itself (`pip install --no-build-isolation .` from the repository root).
> Set `HOLOGRAM_BENCH_QUICK=1` before starting the kernel to run every section at small sizes in seconds.
''')

# --- cell 2
code(r'''
# Core libraries
import numpy as np
import torch
import hologram as hg  # Python bindings to hologram-stdlib

# Benchmarking utilities
import sys
sys.path.append('.')  # Add notebooks/ to path
from benchmark_utils import (
    benchmark_operation,
    verify_correctness,
    compare_frameworks,
    collect_system_info,
    BenchmarkResult,
)

# Visualization
import matplotlib.pyplot as plt
import seaborn as sns
import pandas as pd

# Utilities
import time
import statistics
import warnings
from typing import Callable, List, Dict, Tuple

# Notebook settings
sns.set_theme(style="whitegrid")
plt.rcParams['figure.figsize'] = (12, 6)
pd.set_option('display.precision', 3)

print("✅ Imports successful")
''')

# --- cell 3
md(r'''
### 1.2 Environment Information
''')

# --- cell 4
code(r'''
# Collect system information for reproducibility
system_info = collect_system_info()

print("=== System Information ===")
print(f"Platform: {system_info['platform']}")
print(f"Python: {system_info['python_version']}")
print(f"Interpreter: {sys.executable}")
print(f"\nCPU: {system_info['cpu_model']}")
print(f"  Physical Cores: {system_info['cpu_cores_physical']}")
print(f"  Logical Cores: {system_info['cpu_cores_logical']}")
print(f"  Frequency: {system_info['cpu_freq_mhz']:.0f} MHz")
print(f"\nMemory: {system_info['memory_total_gb']:.1f} GB total")
print(f"\nLibrary Versions:")
print(f"  NumPy: {system_info['numpy_version']}")
print(f"  PyTorch: {system_info['torch_version']}")
print(f"  PyTorch Threads: {system_info['torch_num_threads']}")
print(f"  Hologram: {system_info['hologram_version']}")
print(f"  Hologram threads / SIMD level: {system_info['hologram_threads']} / {system_info['hologram_isa']}")
print(f"\nTimestamp: {system_info['timestamp']}")
''')

# --- cell 5
md(r'''
### 1.3 Initialize Executors
''')

# --- cell 6
code(r'''
# Set random seeds for reproducibility
np.random.seed(42)
torch.manual_seed(42)

# Create Atlas executor
atlas_exec = hg.Executor()

# Set PyTorch to use single-threaded execution for fair comparison
# (hg.Executor() also runs each launch on 1 thread; hg.Executor(threads=N) for more)
torch.set_num_threads(1)

print(f"✅ Atlas executor created")
print(f"✅ PyTorch configured (threads={torch.get_num_threads()})")
''')

# --- cell 7
md(r'''
### 1.4 Configuration
''')

# --- cell 8
code(r'''
# Benchmark configuration
WARMUP_RUNS = 5     # Number of warmup iterations (excluded from timing)
TIMING_RUNS = 10    # Number of timed iterations
RTOL = 1e-5         # Relative tolerance for correctness verification
ATOL = 1e-8         # Absolute tolerance for correctness verification

# Test sizes for different operation types
SIZES_SMALL = [100, 1_000, 10_000]                    # For testing
SIZES_ELEMENTWISE = [1_000, 10_000, 100_000, 1_000_000, 10_000_000]  # Vector ops
SIZES_REDUCTION = [1_000, 10_000, 100_000, 1_000_000]  # Reductions
SIZES_GEMM = [64, 128, 256, 512, 1024]                # Matrix sizes (N×N)
SIZES_SOFTMAX_ROWS = [1, 10, 100, 1_000]              # softmax over rows × 1000
SIZES_CE_BATCH = [64, 512, 4_096]                     # cross-entropy (N, C=1000)

# HOLOGRAM_BENCH_QUICK=1: every section at small sizes (used by tests/test_notebook.py)
from hologram.bench.suite import benchmark_op, quick_mode
QUICK = quick_mode()
if QUICK:
    SIZES_ELEMENTWISE = SIZES_REDUCTION = [1_000, 10_000]
    SIZES_GEMM, SIZES_SOFTMAX_ROWS, SIZES_CE_BATCH = [64, 128], [10], [64]
    WARMUP_RUNS, TIMING_RUNS = 2, 5

SHOW = ['operation', 'shape', 'pytorch_median_ms', 'pytorch_out_median_ms', 'numpy_median_ms',
        'atlas_median_ms', 'speedup', 'speedup_vs_out']

def bench(op, sizes):
    """Verify Atlas against PyTorch, then time PyTorch, PyTorch(out=), NumPy and Atlas alternating."""
    df = benchmark_op(op, sizes, executor=atlas_exec, warmup_runs=WARMUP_RUNS, timing_runs=TIMING_RUNS)
    display(df[SHOW])
    return df

def plot_ops(dfs):
    """Time-per-call bars (top) and scaling (bottom) for several ops side by side."""
    fig, axes = plt.subplots(2, len(dfs), figsize=(5 * len(dfs), 9), squeeze=False)
    for i, df in enumerate(dfs):
        op = df['operation'].iloc[0]
        plot_comparison(df, op, ax=axes[0, i])
        plot_scaling(df, op, ax=axes[1, i])
    plt.tight_layout()
    plt.show()

print(f"Benchmark config:")
print(f"  Warmup runs: {WARMUP_RUNS}")
print(f"  Timing runs: {TIMING_RUNS}")
print(f"  Tolerance: rtol={RTOL}, atol={ATOL}")
print(f"  Quick mode: {QUICK}")
''')

# --- cell 9
md(r'''
---

## 2. Benchmark Methodology Demonstration

### 2.1 Warm Kernel Approach

To ensure fair comparison, we measure **warm kernels** only:

1. **Warmup Phase**: Run operation N times to compile/JIT/cache everything
2. **Timing Phase**: Measure M subsequent runs (compilation overhead excluded)
3. **Statistics**: Report min/max/mean/median/std over M runs

This eliminates first-run penalty and measures steady-state performance.
''')

# --- cell 10
code(r'''
# Example: Vector addition with warmup visualization
size = 10_000
a = np.random.randn(size).astype(np.float32)
b = np.random.randn(size).astype(np.float32)

# PyTorch tensors
a_torch = torch.from_numpy(a)
b_torch = torch.from_numpy(b)

# Measure first run vs warmed runs
def measure_single_run(op_fn, *args):
    start = time.perf_counter()
    result = op_fn(*args)
    end = time.perf_counter()
    return (end - start) * 1000  # ms

# First run (cold)
first_run_time = measure_single_run(torch.add, a_torch, b_torch)

# Warmup
for _ in range(5):
    _ = torch.add(a_torch, b_torch)

# Subsequent runs (warm)
warm_times = [measure_single_run(torch.add, a_torch, b_torch) for _ in range(10)]

print(f"First run (cold): {first_run_time:.4f} ms")
print(f"Warm runs: {statistics.mean(warm_times):.4f} ± {statistics.stdev(warm_times):.4f} ms")
print(f"\nSpeedup (cold → warm): {first_run_time / statistics.mean(warm_times):.2f}x")
print(f"\n✅ This demonstrates why warmup is critical for fair benchmarking")
''')

# --- cell 11
md(r'''
### 2.2 Correctness Verification

Every benchmark verifies that Atlas and PyTorch produce identical results.
''')

# --- cell 12
code(r'''
# Example: Verify vector addition
size = 1000
a = np.random.randn(size).astype(np.float32)
b = np.random.randn(size).astype(np.float32)

# PyTorch
result_torch = (torch.from_numpy(a) + torch.from_numpy(b)).numpy()

# Atlas
buf_a = atlas_exec.from_numpy(a)
buf_b = atlas_exec.from_numpy(b)
buf_c = hg.ops.vector_add(buf_a, buf_b)
result_atlas = buf_c.to_numpy()

# Verify
verify_correctness(result_atlas, result_torch, rtol=RTOL, atol=ATOL, name="vector_add")

# Show sample values
print("Sample results (first 5 elements):")
print(f"PyTorch: {result_torch[:5]}")
print(f"Atlas:   {result_atlas[:5]}")
print(f"Diff:    {np.abs(result_torch[:5] - result_atlas[:5])}")
print(f"\n✅ Correctness verified (max diff: {np.max(np.abs(result_torch - result_atlas)):.2e})")
''')

# --- cell 13
md(r'''
---

## 3. Elementwise Operations

Simple parallel operations where each output element depends on corresponding input elements.

**Expected**: Atlas should excel here due to minimal overhead and optimal parallel loops.

### 3.1 Vector Addition (C = A + B)
''')

# --- cell 14
code(r'''
results_vector_add = []

for size in SIZES_ELEMENTWISE:
    print(f"\nBenchmarking vector_add (size={size:,})...")
    
    # Generate data
    a = np.random.randn(size).astype(np.float32)
    b = np.random.randn(size).astype(np.float32)
    
    # PyTorch
    a_torch = torch.from_numpy(a)
    b_torch = torch.from_numpy(b)
    
    pytorch_result = benchmark_operation(
        lambda: torch.add(a_torch, b_torch),
        warmup_runs=WARMUP_RUNS,
        timing_runs=TIMING_RUNS,
        name=f"vector_add_pytorch_{size}"
    )
    
    # Atlas
    buf_a = atlas_exec.from_numpy(a)
    buf_b = atlas_exec.from_numpy(b)
    
    atlas_result = benchmark_operation(
        lambda: hg.ops.vector_add(buf_a, buf_b),
        warmup_runs=WARMUP_RUNS,
        timing_runs=TIMING_RUNS,
        name=f"vector_add_atlas_{size}"
    )
    
    # Verify correctness
    verify_correctness(
        atlas_result.output.to_numpy(),
        pytorch_result.output.numpy(),
        rtol=RTOL,
        name="vector_add"
    )
    
    # Collect results
    speedup = pytorch_result.mean_ms / atlas_result.mean_ms
    results_vector_add.append({
        'operation': 'vector_add',
        'size': size,
        'pytorch_mean_ms': pytorch_result.mean_ms,
        'pytorch_std_ms': pytorch_result.std_ms,
        'atlas_mean_ms': atlas_result.mean_ms,
        'atlas_std_ms': atlas_result.std_ms,
        'speedup': speedup,
    })
    
    print(f"  PyTorch: {pytorch_result.mean_ms:.4f} ± {pytorch_result.std_ms:.4f} ms")
    print(f"  Atlas:   {atlas_result.mean_ms:.4f} ± {atlas_result.std_ms:.4f} ms")
    print(f"  Speedup: {speedup:.2f}x {'(Atlas faster)' if speedup > 1 else '(PyTorch faster)'}")

df_vector_add = pd.DataFrame(results_vector_add)
display(df_vector_add)
''')

# --- cell 15
code(r'''
# Visualize vector_add results
from benchmark_utils import plot_comparison, plot_speedup, plot_scaling

fig, axes = plt.subplots(1, 2, figsize=(16, 6))

# Comparison chart
plot_comparison(df_vector_add, 'vector_add', ax=axes[0])

# Scaling chart
plot_scaling(df_vector_add, 'vector_add', ax=axes[1])

plt.tight_layout()
plt.show()
''')

# --- cell 16
md(r'''
### 3.2 Additional Elementwise Operations

Following the same pattern for mul, div, neg, abs...

From here on each benchmark is one call of `bench(op, sizes)` (defined in 1.4), which uses the op
table of `hologram.bench.suite` (the same rows as `python -m hologram.bench`):

- inputs are built once from a seeded `np.random.default_rng`;
- Atlas is checked against PyTorch **before** timing (rtol 1e-5, atol 1e-6; for sums and GEMM the
  atol grows with the reduced length, since float32 summation order legitimately differs);
- PyTorch as users call it, PyTorch with `out=` (no per-call allocation, the fairness control:
  Atlas reuses pool memory), NumPy and Atlas are timed **alternating**, each sample a calibrated
  inner loop of at least 2 ms reported per call;
- `speedup` = PyTorch median / Atlas median (>1: Atlas faster). (Section 3.1 above keeps the
  original mean-based definition.)
''')

# --- cell 17
code(r'''
df_vector_sub = bench('vector_sub', SIZES_ELEMENTWISE)
df_vector_mul = bench('vector_mul', SIZES_ELEMENTWISE)
df_vector_div = bench('vector_div', SIZES_ELEMENTWISE)
df_neg = bench('neg', SIZES_ELEMENTWISE)
df_abs = bench('abs', SIZES_ELEMENTWISE)''')

code(r'''
plot_ops([df_vector_sub, df_vector_mul, df_vector_div, df_neg, df_abs])
''')

# --- cell 18
md(r'''
---

## 4. Activation Functions

Non-linear activation functions used in neural networks.

**Expected**: Competitive performance, slight edge to Atlas on simpler activations (ReLU).

### 4.1 ReLU
''')

# --- cell 19
code(r'''
# PyTorch: torch.relu(x)   (no out= variant)
# Atlas: hg.ops.relu(x)
df_relu = bench('relu', SIZES_ELEMENTWISE)
''')

# --- cell 20
md(r'''
### 4.2 Sigmoid
''')

# --- cell 21
code(r'''
# PyTorch: torch.sigmoid(x)
# Atlas: hg.ops.sigmoid(x)
df_sigmoid = bench('sigmoid', SIZES_ELEMENTWISE)
''')

md(r'''
### 4.3 Tanh
''')

code(r'''
# PyTorch: torch.tanh(x)
# Atlas: hg.ops.tanh(x)
df_tanh = bench('tanh', SIZES_ELEMENTWISE)
''')

md(r'''
### 4.4 Softmax (rows × 1000, over the last dimension)
''')

code(r'''
# PyTorch: torch.softmax(x, dim=-1)   (no out= variant)
# Atlas: hg.ops.softmax(x)   (2-D: each row)
df_softmax = bench('softmax', SIZES_SOFTMAX_ROWS)
''')

code(r'''
plot_ops([df_relu, df_sigmoid, df_tanh, df_softmax])
''')

# --- cell 22
md(r'''
---

## 5. Transcendental Functions

Mathematical functions (exp, log, sqrt, pow).

**Expected**: Atlas should excel here - no libm overhead, inline execution.

### 5.1 Exponential (exp)
''')

# --- cell 23
code(r'''
# PyTorch: torch.exp(x)
# Atlas: hg.ops.exp(x)
df_exp = bench('exp', SIZES_ELEMENTWISE)
''')

md(r'''
### 5.2 Natural logarithm (log, positive inputs)
''')

code(r'''
df_log = bench('log', SIZES_ELEMENTWISE)
''')

md(r'''
### 5.3 Square root (sqrt, non-negative inputs)
''')

code(r'''
df_sqrt = bench('sqrt', SIZES_ELEMENTWISE)
''')

md(r'''
### 5.4 Power (x ** y, elementwise exponent buffer, positive base)
''')

code(r'''
# PyTorch: torch.pow(x, y)
# Atlas: hg.ops.pow(x, y)
df_pow = bench('pow', SIZES_ELEMENTWISE)
''')

code(r'''
plot_ops([df_exp, df_log, df_sqrt, df_pow])
''')

# --- cell 24
md(r'''
---

## 6. Reduction Operations

Operations that reduce a vector to a scalar (sum, max, min).

**Expected**: Competitive - both frameworks have optimized tree reductions.

### 6.1 Sum Reduction
''')

# --- cell 25
code(r'''
# PyTorch: torch.sum(x)
# Atlas: hg.ops.sum(x)
df_sum = bench('sum', SIZES_REDUCTION)
''')

md(r'''
### 6.2 Max / 6.3 Min Reduction
''')

code(r'''
# PyTorch: torch.max(x), torch.min(x)   (out= control: torch.amax / torch.amin with dim=0)
# Atlas: hg.ops.max(x), hg.ops.min(x)
df_max = bench('max', SIZES_REDUCTION)
df_min = bench('min', SIZES_REDUCTION)
''')

code(r'''
plot_ops([df_sum, df_max, df_min])
''')

# --- cell 26
md(r'''
---

## 7. Linear Algebra (GEMM)

General matrix multiply: C = A × B

**Expected**: PyTorch will likely win on large matrices (uses optimized BLAS like MKL). Atlas may be competitive on small matrices.

### 7.1 Square Matrix Multiply (N×N)
''')

# --- cell 27
code(r'''
# PyTorch: torch.matmul(A, B)
# Atlas: hg.ops.gemm(A, B, m=N, n=N, k=N)
print("Test sizes:", ", ".join(f"{n}×{n}" for n in SIZES_GEMM))
df_gemm = bench('gemm', SIZES_GEMM)

# Throughput: 2·N³ floating-point operations per multiply
n = np.sqrt(df_gemm['size'])
for fw in ['pytorch', 'pytorch_out', 'numpy', 'atlas']:
    df_gemm[f'{fw}_gflops'] = 2 * n**3 / (df_gemm[f'{fw}_median_ms'] * 1e6)
display(df_gemm[['shape', 'pytorch_gflops', 'numpy_gflops', 'atlas_gflops']])
''')

code(r'''
plot_ops([df_gemm])
''')

# --- cell 28
md(r'''
---

## 8. Loss Functions

Loss functions used in neural network training.

**Expected**: Competitive performance.

### 8.1 Mean Squared Error (MSE)
''')

# --- cell 29
code(r'''
# PyTorch: torch.nn.functional.mse_loss(pred, target)
# Atlas: hg.ops.mse_loss(pred, target)
df_mse = bench('mse_loss', SIZES_REDUCTION)
''')

md(r'''
### 8.2 Cross-Entropy (N × 1000 logits, int64 targets)
''')

code(r'''
# PyTorch: torch.nn.functional.cross_entropy(logits, target)
# Atlas: hg.ops.cross_entropy(logits, target)
df_cross_entropy = bench('cross_entropy', SIZES_CE_BATCH)
''')

code(r'''
plot_ops([df_mse, df_cross_entropy])
''')

# --- cell 30
md(r'''
---

## 9. Results Summary

### 9.1 Aggregate All Results
''')

# --- cell 31
code(r'''
# Combine all results into single DataFrame
all_results = pd.concat([
    df_vector_add,
    df_vector_sub, df_vector_mul, df_vector_div, df_neg, df_abs,
    df_relu, df_sigmoid, df_tanh, df_softmax,
    df_exp, df_log, df_sqrt, df_pow,
    df_sum, df_max, df_min,
    df_gemm,
    df_mse, df_cross_entropy,
], ignore_index=True)

print(f"Total benchmarks: {len(all_results)}")
display(all_results)
''')

# --- cell 32
md(r'''
### 9.2 Summary Table
''')

# --- cell 33
code(r'''
from benchmark_utils import create_summary_table

summary = create_summary_table(all_results)
display(summary)
''')

# --- cell 34
md(r'''
### 9.3 Overall Speedup Chart
''')

# --- cell 35
code(r'''
fig, ax = plt.subplots(figsize=(12, 8))
plot_speedup(all_results, ax=ax)
plt.show()
''')

# --- cell 36
md(r'''
### 9.4 Performance Heatmap
''')

# --- cell 37
code(r'''
from benchmark_utils import plot_heatmap

fig, ax = plt.subplots(figsize=(14, 10))
plot_heatmap(all_results, metric='speedup', ax=ax)
plt.show()
''')

# --- cell 38
md(r'''
---

## 10. Analysis & Conclusions

### 10.1 Key Findings

Written from the full run committed with this notebook (AMD EPYC Zen 3, 2 vCPUs under KVM, AVX2+FMA, one
thread for both frameworks; the same run's report is `docs/results/report.md`). The table computed below from
this notebook's own numbers is the authority; the prose summarises it.

- **Atlas wins every row.** In the committed report it is faster than PyTorch in 93 of 93 rows
  (geometric-mean speedup 3.46x). Small inputs gain most: at 1,000 elements a call into Atlas costs
  ~0.25-1.2 µs against PyTorch's 1.4-5 µs, so elementwise ops, reductions and `mse_loss` run ~4-35x faster.
- **GEMM did not lose.** The seed expected PyTorch (MKL) to win large GEMM by 2-5x. Atlas's BLIS-style
  packed GEMM (6x16 AVX2 micro-kernel, 86-92% of this core's measured FMA peak) is 1.06-1.37x faster than
  PyTorch from 64 to 1024, single-threaded. That expectation was wrong on this machine.
- **Transcendentals**: exp 4.4-8.4x, tanh 7.6-10.9x, sqrt 3.4-9.7x, log 3.0-6.9x, sigmoid 2.5-6.8x, pow
  4.1-5.8x (pow computes in double precision for accuracy; per element it is the slowest of them).
- **Activations and losses**: softmax 2.1-4.3x (a lowering pass fuses `exp(x - max)` with its sum, and the
  exponentials wait in the output until the scale overwrites them), cross-entropy 1.9-2.4x, `mse_loss` 2-35x.
- **Where the margin is thin**: reductions at 1,000,000 elements (sum 1.1x, min 1.4x: both frameworks are
  memory-bound) and GEMM (1.06-1.37x). Binary ops at 1,000,000 elements sit at the edge of this VM's share of
  the L3 (inputs, output and the previous result: 16 MB). Atlas now measures, per op, whether streaming the
  output past the cache or writing it through the cache is faster at the time, and here ran them in ~0.23 ms
  (1.9-3.6x PyTorch allocating, 1.0-1.4x PyTorch with `out=`). With two threads the same rows swing with the
  machine: PyTorch's cached writes took 0.19-0.29 ms, and it won `vector_div` (0.82x) in the committed
  all-cores run.
- **At 10,000,000 elements** PyTorch's per-call allocation page-faults 40 MB each time; Atlas's pool reuses
  memory and streams the output past the cache, so elementwise ops run ~6-11x faster than PyTorch as users
  call it, and 1.4-6.5x faster than PyTorch with `out=`.
''')

code(r'''
from IPython.display import Markdown
from hologram.bench.report import findings_markdown

display(Markdown(findings_markdown(all_results)))
''')

md(r'''
Expected findings (written **before** measuring; compare with the measured table above):

1. **Atlas Strengths**:
   - Elementwise operations (vector add, mul, div): 1.5-3x faster
   - Transcendental functions (exp, log): 2-4x faster
   - Simple activations (ReLU): 1.2-2x faster

2. **PyTorch Strengths**:
   - Large GEMM (1024×1024): 2-5x faster (optimized BLAS)

3. **Competitive**:
   - Reductions (sum, max, min): Within 20%
   - Complex activations (sigmoid, tanh): Within 20%
   - Loss functions: Within 20%

### 10.2 Why Atlas Performs Well

1. **Zero Runtime Overhead**: Direct execution without library calls
2. **Optimal Parallel Loops**: SSA-based IR with efficient loop constructs
3. **No JIT Compilation**: Pre-compiled kernels (after warmup)
4. **Memory Efficiency**: Linear pool grows on demand, no fragmentation

### 10.3 Why PyTorch Wins on GEMM

*(The seed's expectation; on this machine PyTorch did not win GEMM: see 10.1.)* What made Atlas competitive is
exactly this list: cache blocking (KC=384, MC=144, NC=3072), packed panels, a register-tiled 6x16 AVX2
micro-kernel chosen at run time, and no packing of A for small matrices.

1. **Highly Optimized BLAS**: Intel MKL, OpenBLAS (decades of optimization)
2. **Cache Blocking**: Sophisticated tiling strategies
3. **SIMD Utilization**: Full AVX2/AVX512 vector instructions
4. **Assembly-Level Tuning**: Hand-optimized kernels

### 10.4 Use Case Recommendations

**Use Hologram Atlas when**:
- Elementwise operations dominate workload
- Transcendental functions are critical
- Want predictable, low-latency execution
- Developing novel algorithms without framework lock-in

**Use PyTorch when**:
- Large matrix multiplications dominate
- Using pre-built neural network models
- Need GPU acceleration (future)

### 10.5 Future Optimizations for Atlas

1. **SIMD Codegen**: Generate AVX2/AVX512 instructions for vectorizable ops
2. **Cache-Friendly GEMM**: Implement blocked matrix multiply
3. **Multi-threading**: Parallel execution across cores
4. **Fusion**: Combine multiple operations to reduce memory traffic

> **Status update:** items 1-4 exist now (fusion as a lowering pass, `fuse_exp_sum`; every op is an IR
> kernel, so further fusions are passes over the same programs). The kernels are compiled once per SIMD level
> (baseline / AVX2 / AVX-512) and the best level this CPU supports is picked at run time
> (`hg.cpu_info()['isa']`, printed in 1.2); `hg.Executor(threads=N)` runs each launch on N threads
> (this notebook uses 1 thread for both frameworks; `python -m hologram.bench --threads N` compares
> at other counts).

---

## 11. Save Results

Persist benchmark results for future comparison.
''')

# --- cell 39
code(r'''
from benchmark_utils import save_results
import datetime

# Save results
timestamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
results_file = f"benchmark_results_{timestamp}.json"

save_results(all_results.to_dict('records'), results_file, format='json')

print(f"✅ Results saved to: {results_file}")

# Also save as CSV
csv_file = results_file.replace('.json', '.csv')
all_results.to_csv(csv_file, index=False)
print(f"✅ Results saved to: {csv_file}")
''')

# --- cell 40
md(r'''
---

## Appendix A: Implementation Status

### Completed
- ✅ Benchmark methodology
- ✅ System information collection
- ✅ Correctness verification
- ✅ Vector addition benchmark (example)

### Status (Implement in Order)

**Phase 1: Python Bindings** (Required first)
- [x] ~~Create `hologram-py` crate with PyO3~~: the bindings are a hand-written CPython extension in C
  (`hologram._core`, sources in `src/py/`), built with meson-python; there is no Rust/PyO3 crate
- [x] `hg.Executor` (threads, SIMD level, pool memory stats)
- [x] `hg.Buffer` with the NumPy buffer protocol (`np.asarray(buf)` is a zero-copy view) and `to_numpy()`
- [x] All standard-library operations wrapped in `hg.ops` (see `docs/python-api.md`)
- [x] Build and install locally: `pip install --no-build-isolation .`

**Phase 2: Benchmark Utilities**
- [x] `benchmark_utils.py` module (`hologram/bench/benchmark_utils.py`; `notebooks/benchmark_utils.py` re-exports it)
- [x] `benchmark_operation()` (calibrated inner loops, per-call times) and `compare_frameworks()` (alternating samples)
- [x] `verify_correctness()`
- [x] Visualization functions (`plot_comparison`, `plot_scaling`, `plot_speedup`, `plot_heatmap`)
- [x] `collect_system_info()`

**Phase 3: Complete Benchmarks**
- [x] Elementwise ops (sub, mul, div, neg, abs)
- [x] Activations (ReLU, sigmoid, tanh, softmax)
- [x] Transcendentals (exp, log, sqrt, pow)
- [x] Reductions (sum, max, min)
- [x] GEMM (multiple sizes)
- [x] Loss functions (MSE, cross-entropy)

**Phase 4: Analysis**
- [x] Run all benchmarks (this notebook; `python -m hologram.bench --out results/` writes the same rows as a report)
- [x] Generate all visualizations
- [x] Write analysis section (10.1: prose from the committed full run, table computed from this run)
- [x] Document conclusions (`docs/results/report.md`, `docs/performance.md`)

---

**End of Benchmark Notebook**
''')


def main(path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_vs_atlas_benchmarks.ipynb")):
    for i, cell in enumerate(CELLS):
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating gives an identical file
    nb = new_notebook(cells=CELLS, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(main())
