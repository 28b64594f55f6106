"""The hologram calls of the user's notebook
(/work/shared/seed/pytorch_vs_atlas_benchmarks.md), sections 2.2 and 3.1,
run as tests.  benchmark_utils is deliberately not imported: a minimal inline
warm-up/timing helper stands in for benchmark_operation."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import hologram as hg

RTOL = 1e-5  # notebook section 1.4
ATOL = 1e-8
WARMUP_RUNS = 5
TIMING_RUNS = 10


@pytest.fixture(scope="module")
def atlas_exec():
    # notebook 1.3: default executor, seeds, single-threaded torch
    np.random.seed(42)
    torch.manual_seed(42)
    torch.set_num_threads(1)
    return hg.Executor()


@dataclass
class _Result:
    output: Any
    times_ms: list[float]

    @property
    def mean_ms(self):
        return statistics.mean(self.times_ms)

    @property
    def std_ms(self):
        return statistics.stdev(self.times_ms) if len(self.times_ms) > 1 else 0.0


def _bench(fn: Callable[[], Any], warmup_runs: int, timing_runs: int) -> _Result:
    out = None
    for _ in range(warmup_runs):
        out = fn()
    times = []
    for _ in range(timing_runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return _Result(out, times)


def test_section_2_2_correctness_verification(atlas_exec):
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

    # verify_correctness(result_atlas, result_torch, rtol=RTOL, atol=ATOL)
    assert result_atlas.shape == result_torch.shape == (size,)
    assert result_atlas.dtype == np.float32
    np.testing.assert_allclose(result_atlas, result_torch, rtol=RTOL, atol=ATOL)
    # float32 addition is exact IEEE: also bitwise, and right vs float64
    np.testing.assert_array_equal(result_atlas, a + b)
    np.testing.assert_allclose(result_atlas, a.astype(np.float64) + b, rtol=2**-24, atol=0)
    # the notebook prints these
    _ = f"{result_torch[:5]} {result_atlas[:5]} {np.abs(result_torch[:5] - result_atlas[:5])}"
    assert np.max(np.abs(result_torch - result_atlas)) == 0.0


@pytest.mark.parametrize("size", [1_000, 10_000])
def test_section_3_1_vector_add_loop(atlas_exec, size):
    a = np.random.randn(size).astype(np.float32)
    b = np.random.randn(size).astype(np.float32)

    a_torch = torch.from_numpy(a)
    b_torch = torch.from_numpy(b)
    pytorch_result = _bench(lambda: torch.add(a_torch, b_torch), WARMUP_RUNS, TIMING_RUNS)

    buf_a = atlas_exec.from_numpy(a)
    buf_b = atlas_exec.from_numpy(b)
    atlas_result = _bench(lambda: hg.ops.vector_add(buf_a, buf_b), WARMUP_RUNS, TIMING_RUNS)

    # verify_correctness(atlas_result.output.to_numpy(), pytorch_result.output.numpy(), rtol=RTOL)
    got = atlas_result.output.to_numpy()
    np.testing.assert_allclose(got, pytorch_result.output.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(got, a + b)

    speedup = pytorch_result.mean_ms / atlas_result.mean_ms
    row = {
        "operation": "vector_add",
        "size": size,
        "pytorch_mean_ms": pytorch_result.mean_ms,
        "pytorch_std_ms": pytorch_result.std_ms,
        "atlas_mean_ms": atlas_result.mean_ms,
        "atlas_std_ms": atlas_result.std_ms,
        "speedup": speedup,
    }
    assert all(np.isfinite(v) and v >= 0 for k, v in row.items() if k.endswith("_ms"))
    assert speedup > 0 and np.isfinite(speedup)
    assert len(atlas_result.times_ms) == TIMING_RUNS
    # inputs untouched by the repeated launches
    np.testing.assert_array_equal(buf_a.to_numpy(), a)
    np.testing.assert_array_equal(buf_b.to_numpy(), b)
