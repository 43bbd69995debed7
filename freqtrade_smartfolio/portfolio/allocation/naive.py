"""Closed-form allocations: equal weight and inverse volatility (bounds by clip-and-redistribute)."""

from __future__ import annotations

import numpy as np

from freqtrade_smartfolio.portfolio.allocation.bounds import check_feasible, clip_and_redistribute
from freqtrade_smartfolio.portfolio.allocation.errors import SolverError


def _apply_bounds(w: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None) -> np.ndarray:
    if lower is None and upper is None:
        return w
    lo = np.zeros(len(w)) if lower is None else np.asarray(lower, dtype=float)
    hi = np.ones(len(w)) if upper is None else np.asarray(upper, dtype=float)
    check_feasible(lo, hi)
    return clip_and_redistribute(w, lo, hi)


def equal_weight(
    n_assets: int, lower: np.ndarray | None = None, upper: np.ndarray | None = None
) -> np.ndarray:
    """``1/n`` each, then clipped to the bounds with the excess spread over the others."""
    return _apply_bounds(np.full(n_assets, 1.0 / n_assets), lower, upper)


def inverse_volatility(
    cov: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None
) -> np.ndarray:
    """Weights proportional to ``1 / sigma_i`` (the diagonal of ``cov``), then bounded."""
    variances = np.diag(np.asarray(cov, dtype=float))
    if np.any(~np.isfinite(variances)) or np.any(variances <= 0):
        raise SolverError("inverse volatility needs a positive, finite variance for every asset")
    inv = 1.0 / np.sqrt(variances)
    return _apply_bounds(inv / inv.sum(), lower, upper)
