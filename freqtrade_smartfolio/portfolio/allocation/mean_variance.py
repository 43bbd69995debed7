"""Minimum variance and maximum Sharpe ratio, long-only with per-asset bounds.

Both reduce to the budget-and-box quadratic programme

    minimise 1/2 w' C w - t m' w   subject to  sum(w) = 1,  lower <= w <= upper,

solved exactly by a primal active-set method (a few small linear solves, warm-started).
``t = 0`` is the minimum-variance portfolio. Along ``t`` the solutions trace the efficient
frontier piecewise linearly (Markowitz's critical lines); the maximum Sharpe portfolio is the
point of the frontier where ``t = variance / excess return``, found segment by segment with the
Sharpe maximum of the final segment in closed form.
"""

from __future__ import annotations

import numpy as np

from freqtrade_smartfolio.portfolio.allocation.bounds import _fix_sum, check_feasible, project_to_bounds
from freqtrade_smartfolio.portfolio.allocation.errors import SolverError


def _bounds(n: int, lower: np.ndarray | None, upper: np.ndarray | None):
    lo = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    hi = np.ones(n) if upper is None else np.asarray(upper, dtype=float)
    check_feasible(lo, hi)
    return lo, hi


class _ActiveSet:
    """Primal active-set solver for the budget-and-box QP (state kept for warm starts)."""

    def __init__(self, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.cov, self.lower, self.upper = cov, lower, upper
        self.n = len(lower)
        self.scale = float(np.abs(np.diag(cov)).max()) or 1.0
        self.max_iter = 10 * self.n + 50

    def start(self, w: np.ndarray) -> None:
        """Begin at the feasible point nearest to ``w``; assets on a bound join the working set."""
        self.w = project_to_bounds(w, self.lower, self.upper)
        self.at_lo = self.w <= self.lower
        self.at_hi = (self.w >= self.upper) & ~self.at_lo

    def _kkt(self, free: np.ndarray, rhs_top: np.ndarray, rhs_bottom: float) -> np.ndarray:
        k = int(free.sum())
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = self.cov[np.ix_(free, free)]
        kkt[:k, k] = kkt[k, :k] = 1.0
        rhs = np.append(rhs_top, rhs_bottom)
        try:
            return np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError as err:
            raise SolverError(f"singular KKT system ({err}); is the covariance degenerate?") from err

    def solve(self, c: np.ndarray) -> np.ndarray:
        """Minimise 1/2 w'Cw + c'w from the current state; returns the optimal weights."""
        tol = 1e-12 * self.scale * max(1.0, float(np.abs(c).max()) / self.scale)
        w = self.w
        for _ in range(self.max_iter):
            free = ~(self.at_lo | self.at_hi)
            grad = self.cov @ w + c
            if free.any():
                sol = self._kkt(free, -grad[free], 0.0)
                step = sol[:-1]
            else:
                step = np.zeros(0)
            if step.size == 0 or np.abs(step).max() <= 1e-13:
                lam = float(grad[free].mean()) if free.any() else self._free_multiplier(grad)
                reduced = grad - lam
                bad_lo = np.where(self.at_lo, -reduced, 0.0)
                bad_hi = np.where(self.at_hi, reduced, 0.0)
                worst_lo, worst_hi = bad_lo.max(initial=0.0), bad_hi.max(initial=0.0)
                if max(worst_lo, worst_hi) <= tol:
                    self.w, self.multiplier = w, lam
                    return w
                if worst_lo >= worst_hi:
                    self.at_lo[int(np.argmax(bad_lo))] = False
                else:
                    self.at_hi[int(np.argmax(bad_hi))] = False
                continue
            idx = np.flatnonzero(free)
            wf = w[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(
                    step < 0,
                    (self.lower[idx] - wf) / step,
                    np.where(step > 0, (self.upper[idx] - wf) / step, np.inf),
                )
            j = int(np.argmin(ratio))
            alpha = min(1.0, max(0.0, float(ratio[j])))
            w = w.copy()
            w[idx] = wf + alpha * step
            if alpha < 1.0:
                block = idx[j]
                if step[j] < 0:
                    w[block], self.at_lo[block] = self.lower[block], True
                else:
                    w[block], self.at_hi[block] = self.upper[block], True
        raise SolverError(f"active-set QP did not converge in {self.max_iter} iterations")

    def _free_multiplier(self, grad: np.ndarray) -> float:
        """Budget multiplier when every asset sits on a bound: the middle of the valid range."""
        high = grad[self.at_lo].min(initial=np.inf)
        low = grad[self.at_hi].max(initial=-np.inf)
        if np.isinf(high) and np.isinf(low):
            return 0.0
        if np.isinf(high) or np.isinf(low):
            return float(low if np.isinf(high) else high)
        return 0.5 * (high + low)

    def segment(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Frontier line ``w(t) = a + t b`` for the current working set and its valid ``t`` range."""
        free = ~(self.at_lo | self.at_hi)
        pinned = np.where(self.at_lo, self.lower, np.where(self.at_hi, self.upper, 0.0))
        a, b = pinned.copy(), np.zeros(self.n)
        if free.any():
            base = self._kkt(free, -(self.cov[np.ix_(free, ~free)] @ pinned[~free]), 1 - pinned.sum())
            slope = self._kkt(free, m[free], 0.0)
            a[free], b[free] = base[:-1], slope[:-1]
            lam_a, lam_b = -base[-1], -slope[-1]
        else:
            return a, b, *self._vertex_range(a, m)
        # reduced gradient of the pinned assets: C w - t m - lambda, linear in t
        r_a = self.cov @ a - lam_a
        r_b = self.cov @ b - m - lam_b
        t_min, t_max = 0.0, np.inf
        conditions = [
            (a[free] - self.lower[free], b[free]),  # >= 0
            (self.upper[free] - a[free], -b[free]),  # >= 0
            (r_a[self.at_lo], r_b[self.at_lo]),  # >= 0
            (-r_a[self.at_hi], -r_b[self.at_hi]),  # >= 0
        ]
        for const, slope_ in conditions:
            grow, shrink = slope_ > 0, slope_ < 0
            if grow.any():
                t_min = max(t_min, float((-const[grow] / slope_[grow]).max()))
            if shrink.any():
                t_max = min(t_max, float((-const[shrink] / slope_[shrink]).min()))
        return a, b, t_min, t_max

    def _vertex_range(self, a: np.ndarray, m: np.ndarray) -> tuple[float, float]:
        """Valid ``t`` when every asset is pinned: some budget multiplier must fit all of them.

        Needs ``(Ca - t m)_i <= (Ca - t m)_j`` for every i at its upper and j at its lower bound.
        """
        g = self.cov @ a
        hi_idx, lo_idx = np.flatnonzero(self.at_hi), np.flatnonzero(self.at_lo)
        if not len(hi_idx) or not len(lo_idx):
            return 0.0, np.inf
        # t * (m_j - m_i) <= g_j - g_i
        coef = m[lo_idx][None, :] - m[hi_idx][:, None]
        const = g[lo_idx][None, :] - g[hi_idx][:, None]
        t_min, t_max = 0.0, np.inf
        pos, neg = coef > 0, coef < 0
        if pos.any():
            t_max = float((const[pos] / coef[pos]).min())
        if neg.any():
            t_min = max(t_min, float((const[neg] / coef[neg]).max()))
        return t_min, t_max


def min_variance(
    cov: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None
) -> np.ndarray:
    """Weights minimising ``w' C w`` with ``sum(w) = 1`` and ``lower <= w <= upper``."""
    cov = np.asarray(cov, dtype=float)
    lo, hi = _bounds(cov.shape[0], lower, upper)
    solver = _ActiveSet(cov, lo, hi)
    solver.start(_unconstrained_min_variance(cov))
    return solver.solve(np.zeros(len(lo)))


def _unconstrained_min_variance(cov: np.ndarray) -> np.ndarray:
    try:
        x = np.linalg.solve(cov, np.ones(cov.shape[0]))
    except np.linalg.LinAlgError:
        return np.full(cov.shape[0], 1.0 / cov.shape[0])
    total = x.sum()
    return x / total if np.isfinite(total) and total > 0 else np.full(len(x), 1.0 / len(x))


def max_sharpe(
    cov: np.ndarray,
    mean: np.ndarray,
    risk_free_rate: float = 0.0,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """Weights maximising ``(mean'w - risk_free_rate) / sqrt(w' C w)`` within the bounds.

    Raises ``SolverError`` when no portfolio within the bounds beats the risk-free rate
    (the tangency portfolio does not exist then).
    """
    cov = np.asarray(cov, dtype=float)
    m = np.asarray(mean, dtype=float) - float(risk_free_rate)
    lo, hi = _bounds(cov.shape[0], lower, upper)
    best_return = _max_return(m, lo, hi)
    if best_return <= 1e-14 * max(1.0, float(np.abs(m).max())):
        raise SolverError(
            "no portfolio within the bounds has an expected return above the risk-free rate "
            f"({risk_free_rate:g}); the maximum Sharpe portfolio does not exist"
        )
    solver = _ActiveSet(cov, lo, hi)
    solver.start(_unconstrained_min_variance(cov))
    # On a segment w(t) = a + t b of the frontier, a'Cb = 0 and b'Cb = m'b, so the Sharpe
    # slope has the sign of v - t e = a'Ca - t m'a: the segment's optimum is t* = a'Ca / m'a.
    t_low, t_high, t = 0.0, np.inf, 0.0
    for _ in range(4 * len(lo) + 50):
        solver.solve(-t * m)
        a, b, seg_lo, seg_hi = solver.segment(m)
        ea, caa = float(m @ a), float(a @ cov @ a)
        t_star = caa / ea if ea > 0 else np.inf
        slack = 1e-10 * max(1.0, t_star if np.isfinite(t_star) else 1.0)
        if seg_lo - slack <= t_star <= seg_hi + slack:
            return _clean(a + t_star * b, lo, hi)
        if t_star > seg_hi:
            t_low = max(t_low, seg_hi)
        else:
            t_high = min(t_high, seg_lo)
        if t_low < t_star < t_high:
            t = t_star
        elif np.isfinite(t_high):
            t = 0.5 * (t_low + t_high)
        else:
            t = 2.0 * t_low + 1e-9
    raise SolverError("maximum Sharpe search did not converge")


def _max_return(m: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Largest ``m'w`` over the budget-and-box set (greedy: fill the best assets first)."""
    w = lo.copy()
    budget = 1.0 - lo.sum()
    for i in np.argsort(-m):
        add = min(hi[i] - lo[i], budget)
        w[i] += add
        budget -= add
        if budget <= 0:
            break
    return float(m @ w)


def _clean(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Remove rounding dust: clip to the bounds and restore the exact budget."""
    if not np.all(np.isfinite(w)):
        raise SolverError("solver produced non-finite weights")
    w = np.clip(w, lo, hi)
    if abs(w.sum() - 1.0) < 1e-9:
        return _fix_sum(w, lo, hi)
    return project_to_bounds(w, lo, hi)
