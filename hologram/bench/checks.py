"""Correctness checks: an output against its reference, element by element."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """NumPy copy/view of a NumPy array, torch tensor, hologram Buffer or anything array-like."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):  # hologram.Buffer, pandas
        return np.asarray(x.to_numpy())
    return np.asarray(x)


def verify_correctness(
    actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, name: str = ""
) -> float:
    """Assert ``|actual - expected| <= atol + rtol*|expected|`` element-wise.

    NaNs must sit at the same positions; infinities must match exactly.  On failure raises
    ``AssertionError`` naming the worst element's index, both values and the tolerance.
    Returns the largest absolute difference over elements that are finite in both.
    """
    a, e = to_numpy(actual), to_numpy(expected)
    tag = f"{name}: " if name else ""
    if a.shape != e.shape:
        raise AssertionError(f"{tag}shape mismatch: actual {a.shape} vs expected {e.shape}")
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a64 - e64)
    if not ok.all():
        badness = np.where(ok, -np.inf, np.nan_to_num(diff, nan=np.inf, posinf=np.inf))
        idx = np.unravel_index(int(np.argmax(badness)), a.shape) if a.ndim else ()
        av, ev = float(a64[idx]), float(e64[idx])
        raise AssertionError(
            f"{tag}{int((~ok).sum())} of {a.size} elements differ beyond tolerance "
            f"(rtol={rtol:g}, atol={atol:g}); worst at index {tuple(int(i) for i in idx)}: "
            f"actual={av!r}, expected={ev!r}, |diff|={abs(av - ev)!r}, "
            f"allowed={atol + rtol * abs(ev)!r}"
        )
    finite = np.isfinite(diff)
    return float(diff[finite].max()) if finite.any() else 0.0
