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


def _cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    sub = cov[np.ix_(items, items)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


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
    weights = np.ones(len(order))
    stack = [order]
    while stack:
        items = stack.pop()
        if len(items) < 2:
            continue
        half = len(items) // 2
        left, right = items[:half], items[half:]
        v_left, v_right = _cluster_variance(cov, left), _cluster_variance(cov, right)
        alpha = 1.0 - v_left / (v_left + v_right)
        weights[left] *= alpha
        weights[right] *= 1.0 - alpha
        stack.extend((left, right))
    return _apply_bounds(weights / weights.sum(), lower, upper)
