"""Row programs that ask for their next row ahead (interp.c's ask_next_row) compute what the
same programs compute on launches that do not.

A row program of two or more phases requests the next row of its first phase's inputs while
the later phases run, on launches with rows of 2 to 8 KiB of those inputs and at least 8 MiB
of them.  The requests must never change a result: these launches qualify, with rows that
start off a cache line, rows at the ends of tasks, one to three threads, and two inputs in the
first phase; the same rows launched alone (one row, no requests) are the reference, bit for
bit, and NumPy in float64 checks the values.
"""

import numpy as np
import pytest

import hologram as hg

TWO_INPUTS = """kernel two(x: f32, z: f32, y: f32) {
  %x = load x
  %z = load z
  %p = mul %x, %z
  %s = reduce.sum.row %p
  %m = reduce.max.row %z
  %a = add %s, %m
  %d = sub %x, %a
  store y, %d
}
"""


def _rows(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("cols", [515, 1000, 2048])
def test_layer_norm_and_log_softmax_asking_ahead(threads, cols):
    rows = (8 << 20) // (4 * cols) + 7  # just over 8 MiB of input
    x = _rows((rows, cols), cols)
    w = _rows(cols, 1)
    b = _rows(cols, 2)
    ex = hg.Executor(threads=threads)
    hx, hw, hb = ex.from_numpy(x), ex.from_numpy(w), ex.from_numpy(b)
    ln = hg.ops.layer_norm(hx, hw, hb).to_numpy()
    ls = hg.ops.log_softmax(hx).to_numpy()
    picks = [0, 1, rows // 2, rows - 2, rows - 1]
    for r in picks:  # one row alone: a launch too small to ask ahead
        one = ex.from_numpy(x[r : r + 1])
        assert np.array_equal(hg.ops.layer_norm(one, hw, hb).to_numpy()[0], ln[r])
        assert np.array_equal(hg.ops.log_softmax(one).to_numpy()[0], ls[r])
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=1, keepdims=True)
    want = (x64 - mean) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(ln, want, rtol=1e-5, atol=1e-5)
    mx = x64.max(axis=1, keepdims=True)
    want = x64 - mx - np.log(np.exp(x64 - mx).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(ls, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_two_first_phase_inputs_asking_ahead(threads):
    rows, cols = 1100, 1000  # 8,000 bytes a row of x and z, 8.4 MiB of them
    r = np.random.default_rng(5)
    x = r.integers(-4, 5, (rows, cols)).astype(np.float32)
    z = r.integers(-4, 5, (rows, cols)).astype(np.float32)
    ex = hg.Executor(threads=threads)
    kernel = hg.Kernel(TWO_INPUTS)
    y = ex.from_numpy(np.full((rows, cols), np.nan, np.float32))
    ex.launch(kernel, ex.from_numpy(x), ex.from_numpy(z), y, rows=rows, cols=cols)
    # small integers: every sum is exact in float32, so the reference is exact too
    want = x - ((x * z).sum(axis=1, keepdims=True) + z.max(axis=1, keepdims=True))
    assert np.array_equal(y.to_numpy(), want)
