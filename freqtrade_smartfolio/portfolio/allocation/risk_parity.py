"""Equal risk contribution (risk parity) and risk budgeting.

Without bounds: Spinu (2013)'s convex formulation ``min 1/2 y'Cy - sum(b_i log y_i)``, solved
by Newton's method with backtracking; ``w = y / sum(y)`` gives ``w_i (Cw)_i`` proportional to
``b_i``. With binding bounds: Richard & Roncalli (2019)'s constrained risk budgeting,
``min 1/2 w'Cw - lam sum(b_i log w_i)`` over the box ``lower <= w <= upper`` (projected Newton),
with ``lam`` chosen so that ``sum(w) = 1``. Assets inside their bounds then share equal
(budgeted) risk; assets on a bound take what the bound allows.
"""

from __future__ import annotations

import numpy as np

from freqtrade_smartfolio.portfolio.allocation.bounds import check_feasible
from freqtrade_smartfolio.portfolio.allocation.errors import SolverError

_MAX_NEWTON = 100


def _spinu(cov: np.ndarray, budgets: np.ndarray, tol: float) -> np.ndarray:
    """Minimiser ``y > 0`` of ``1/2 y'Cy - sum(b log y)`` (so that ``y_i (Cy)_i = b_i``)."""
    x = 1.0 / np.sqrt(np.diag(cov))
    y = x / np.sqrt(x @ cov @ x)  # inverse-volatility start, scaled so that y'Cy = sum(b) = 1

    def objective(v: np.ndarray) -> float:
        return 0.5 * float(v @ cov @ v) - float(budgets @ np.log(v))

    value = objective(y)
    for _ in range(_MAX_NEWTON):
        cy = cov @ y
        grad = cy - budgets / y
        if np.abs(y * cy - budgets).max() <= tol:
            return y
        hess = cov + np.diag(budgets / (y * y))
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as err:
            raise SolverError(f"risk parity Newton step failed: {err}") from err
        # stay strictly positive, then backtrack (Armijo) on the convex objective
        shrink = step < 0
        size = min(1.0, 0.99 * float((-y[shrink] / step[shrink]).min())) if shrink.any() else 1.0
        slope = float(grad @ step)
        for _ in range(60):
            trial = y + size * step
            trial_value = objective(trial)
            if trial_value <= value + 1e-4 * size * slope + 1e-14 * abs(value):
                break
            size *= 0.5
        else:
            raise SolverError("risk parity line search failed")
        y, value = trial, trial_value
    raise SolverError(f"risk parity Newton did not converge in {_MAX_NEWTON} iterations")


def _box_newton(
    cov: np.ndarray,
    budgets: np.ndarray,
    lam: float,
    lower: np.ndarray,
    upper: np.ndarray,
    start: np.ndarray,
    tol: float,
) -> np.ndarray:
    """Projected Newton for ``min 1/2 w'Cw - lam sum(b log w)`` over ``lower <= w <= upper``."""
    floor = np.maximum(lower, 1e-14)
    w = np.clip(start, floor, upper)

    def objective(v: np.ndarray) -> float:
        return 0.5 * float(v @ cov @ v) - lam * float(budgets @ np.log(v))

    value = objective(w)
    polish = 0
    for _ in range(_MAX_NEWTON):
        grad = cov @ w - lam * budgets / w
        pinned = ((w <= floor) & (grad > 0)) | ((w >= upper) & (grad < 0))
        free = ~pinned
        if not free.any():
            return w
        # relative error of the free assets' first-order condition w_i (Cw)_i = lam b_i
        error = float(np.abs(grad[free] * w[free] / (lam * budgets[free])).max())
        if error <= tol:
            return w
        if error <= 1e-8:  # Newton is quadratic from here: two more steps reach rounding level
            polish += 1
            if polish > 2:
                return w
        hess = cov[np.ix_(free, free)] + np.diag(lam * budgets[free] / w[free] ** 2)
        try:
            step_free = -np.linalg.solve(hess, grad[free])
        except np.linalg.LinAlgError as err:
            raise SolverError(f"bounded risk parity Newton step failed: {err}") from err
        step = np.zeros_like(w)
        step[free] = step_free
        size = 1.0
        for _ in range(60):
            trial = np.clip(w + size * step, floor, upper)
            trial_value = objective(trial)
            if trial_value <= value + 1e-4 * float(grad @ (trial - w)) + 1e-14 * abs(value):
                break
            size *= 0.5
        else:
            return w  # no further decrease possible at machine precision
        w, value = trial, trial_value
    raise SolverError(f"bounded risk parity did not converge in {_MAX_NEWTON} iterations")


def risk_parity(
    cov: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    budgets: np.ndarray | None = None,
    tol: float = 1e-12,
) -> np.ndarray:
    """Weights whose risk contributions ``w_i (Cw)_i / w'Cw`` equal ``budgets`` (default: equal).

    With binding ``lower``/``upper`` bounds, the assets strictly inside their bounds keep risk
    contributions proportional to their budgets (Richard & Roncalli's constrained version).
    """
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    b = np.full(n, 1.0 / n) if budgets is None else np.asarray(budgets, dtype=float)
    b = b / b.sum()
    lo = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    hi = np.ones(n) if upper is None else np.asarray(upper, dtype=float)
    check_feasible(lo, hi)
    if np.any(np.diag(cov) <= 0):
        raise SolverError("risk parity needs a positive variance for every asset")
    y = _spinu(cov, b, tol)
    w = y / y.sum()
    if np.all(w >= lo) and np.all(w <= hi):
        return w
    # constrained risk budgeting: sum(w(lam)) grows like sqrt(lam); secant on the logs
    log_lam = -2.0 * np.log(y.sum())
    w = _box_newton(cov, b, np.exp(log_lam), lo, hi, w, tol)
    log_sum = np.log(w.sum())
    prev: tuple[float, float] | None = None
    for _ in range(100):
        if abs(log_sum) <= 1e-11:
            return _normalise(w, lo, hi)
        slope = 0.5
        if prev is not None and prev[0] != log_lam:
            slope = (log_sum - prev[1]) / (log_lam - prev[0])
            slope = min(max(slope, 1e-3), 10.0)
        prev = (log_lam, log_sum)
        log_lam -= log_sum / slope
        w = _box_newton(cov, b, np.exp(log_lam), lo, hi, w, tol)
        log_sum = np.log(w.sum())
    raise SolverError("bounded risk parity: the budget multiplier search did not converge")


def _normalise(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    w = np.clip(w / w.sum(), lo, hi)
    return w / w.sum()
