"""Hierarchical risk parity (López de Prado, 2016).

1. Correlation distance ``d_ij = sqrt((1 - rho_ij) / 2)``.
2. Single-linkage clustering of ``d`` (``scipy.cluster.hierarchy``).
3. Quasi-diagonalisation: order the assets as the dendrogram's leaves.
4. Recursive bisection: split the ordered list in halves; each half gets
   ``1 - V_half / (V_left + V_right)`` of its parent's weight, where ``V`` is the variance of the
   half's inverse-variance portfolio.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from freqtrade_smartfolio.portfolio.allocation.covariance import correlation_from_covariance
from freqtrade_smartfolio.portfolio.allocation.errors import SolverError
from freqtrade_smartfolio.portfolio.allocation.naive import _apply_bounds


def correlation_distance(corr: np.ndarray) -> np.ndarray:
    """``sqrt((1 - rho) / 2)``: 0 for perfectly correlated, 1 for perfectly anti-correlated."""
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    return dist


def quasi_diagonal_order(cov: np.ndarray, method: str = "single") -> np.ndarray:
    """Asset order of the dendrogram's leaves (clusters of similar assets become adjacent)."""
    dist = correlation_distance(correlation_from_covariance(cov))
    link = linkage(squareform(dist, checks=False), method=method)
    return leaves_list(link)


def _slice_variance(cov: np.ndarray, inv_var: np.ndarray, start: int, stop: int) -> float:
    """Variance of the inverse-variance portfolio of assets ``start:stop`` (already ordered)."""
    ivp = inv_var[start:stop] / inv_var[start:stop].sum()
    return float(ivp @ cov[start:stop, start:stop] @ ivp)


def hrp(
    cov: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    linkage_method: str = "single",
) -> np.ndarray:
    """Hierarchical risk parity weights; bounds applied afterwards by clip-and-redistribute."""
    cov = np.asarray(cov, dtype=float)
    variances = np.diag(cov)
    if not np.all(np.isfinite(cov)) or np.any(variances <= 0):
        raise SolverError("HRP needs a finite covariance with a positive variance for every asset")
    order = quasi_diagonal_order(cov, linkage_method)
    ordered = cov[np.ix_(order, order)]  # clusters become contiguous slices
    inv_var = 1.0 / np.diag(ordered)
    ordered_weights = np.ones(len(order))
    stack = [(0, len(order))]
    while stack:
        start, stop = stack.pop()
        if stop - start < 2:
            continue
        mid = (start + stop) // 2
        v_left = _slice_variance(ordered, inv_var, start, mid)
        v_right = _slice_variance(ordered, inv_var, mid, stop)
        alpha = 1.0 - v_left / (v_left + v_right)
        ordered_weights[start:mid] *= alpha
        ordered_weights[mid:stop] *= 1.0 - alpha
        stack.extend(((start, mid), (mid, stop)))
    weights = np.empty(len(order))
    weights[order] = ordered_weights
    return _apply_bounds(weights / weights.sum(), lower, upper)
