"""freqtrade mode's sweep (every parameter point through :func:`compiled_freqtrade.freqtrade_kernel` in
one parallel loop over the market prepared once) and the figures of a recorded run's trigger reasons."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.compiled_exact import JIT_OPTIONS, np_sum, sum_add, sum_end
from freqtrade_smartfolio.portfolio.engine.compiled_freqtrade import freqtrade_kernel


@njit(parallel=True, cache=True, error_model="numpy")
def freqtrade_sweep(
    open_r: np.ndarray,
    close_r: np.ndarray,
    high_r: np.ndarray,
    low_r: np.ndarray,
    has_range: bool,
    dates: np.ndarray,
    plan_dates: np.ndarray,
    tf_ns: int,
    entry_decimals: np.ndarray,
    goal: np.ndarray,
    target_cash: float,
    thresholds: np.ndarray,
    relative: bool,
    intervals_ns: np.ndarray,
    min_orders: np.ndarray,
    steps: np.ndarray,
    step_decimals: np.ndarray,
    min_cost: np.ndarray,
    min_amount: np.ndarray,
    reserves: np.ndarray,
    mark: np.ndarray,
    fee: float,
    investment: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """:func:`freqtrade_kernel` for many (threshold, interval) points on one market, in parallel.

    ``thresholds[k]`` NaN: no band; ``intervals_ns[k]`` < 0: no schedule; ``mark``: the closes the
    equity is valued at (sweep._summary's curve: each bar's coins summed as ndarray.sum, then the
    cash; the last bar is the final value). Returns the curves (points x bars) and each point's
    (status, fees, traded value, rebalances, final value); a point with status 1 is left to Python.
    """
    points = thresholds.shape[0]
    bars, n = close_r.shape
    curves = np.empty((points, bars))
    totals = np.zeros((points, 5))
    for k in prange(points):
        banded = not np.isnan(thresholds[k])
        width = np.zeros(n + 1)
        if banded:
            t = thresholds[k]
            for i in range(n + 1):
                width[i] = (goal[i] * t if goal[i] > 0 else t) if relative else t
        status, events, held, cash, _, _, out, _, _ = freqtrade_kernel(
            open_r,
            close_r,
            high_r,
            low_r,
            has_range,
            dates,
            plan_dates,
            tf_ns,
            entry_decimals,
            goal,
            target_cash,
            width,
            banded,
            intervals_ns[k],
            min_orders,
            steps,
            step_decimals,
            min_cost,
            min_amount,
            reserves,
            fee,
            investment,
            False,
        )
        totals[k, 0] = status
        if status != 0:
            continue
        totals[k, 1:] = out
        # api._holdings_frame: the holdings after the last event that traded at or before each bar
        traded = np.flatnonzero(events[:, 3])
        j = -1
        row_values = np.empty(n)
        for r in range(bars):
            while j + 1 < traded.shape[0] and events[traded[j + 1], 0] <= r:
                j += 1
            if j < 0:
                curves[k, r] = investment + 0.0
                continue
            e = traded[j]
            for i in range(n):
                row_values[i] = held[e, i] * mark[r, i]
            curves[k, r] = cash[e] + np_sum(row_values)
        curves[k, bars - 1] = out[3]
    return curves, totals


@njit(**JIT_OPTIONS)
def band_reasons(
    amounts: np.ndarray,
    cash: np.ndarray,
    prices: np.ndarray,
    goal: np.ndarray,
    threshold: float,
    relative: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """plan.out_of_band_reason's figures for many states (rows): the worst coin (n = the cash; -1:
    none), its weight and the band's edge it crossed. The caller writes the words."""
    rows, n = amounts.shape
    worst_at = np.full(rows, -1, dtype=np.int64)
    weight_at = np.zeros(rows)
    limit_at = np.zeros(rows)
    weights = np.empty(n + 1)
    for k in range(rows):
        total, carry = 0.0, 0.0
        for i in range(n):
            total, carry = sum_add(total, carry, amounts[k, i] * prices[k, i])
        total = sum_end(total, carry) + cash[k]
        if total <= 0:
            continue
        for i in range(n):
            weights[i] = amounts[k, i] * prices[k, i] / total
        weights[n] = cash[k] / total
        worst, worst_excess, worst_limit = -1, 1e-12, 0.0
        for i in range(n + 1):
            g = goal[i]
            width = g * threshold if relative and g > 0 else threshold
            excess = abs(weights[i] - g) - width
            if excess > worst_excess:
                worst, worst_excess = i, excess
                worst_limit = g + width if weights[i] > g else g - width
        worst_at[k] = worst
        if worst >= 0:
            weight_at[k] = weights[worst]
            limit_at[k] = worst_limit
    return worst_at, weight_at, limit_at
