"""freqtrade mode's trigger search (compiled): :func:`compiled.band_scan` fused with
:func:`compiled_planner.nothing_to_trade`, so the kernel does not plan at band bars that cannot trade."""

from __future__ import annotations

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.compiled import EXCESS_TOLERANCE
from freqtrade_smartfolio.portfolio.engine.compiled_exact import JIT_OPTIONS, np_sum
from freqtrade_smartfolio.portfolio.engine.compiled_planner import nothing_to_trade


@njit(**JIT_OPTIONS)
def next_plan(
    close: np.ndarray,
    first: int,
    stop: int,
    amounts: np.ndarray,
    cash: float,
    goal: np.ndarray,
    width: np.ndarray,
    values: np.ndarray,
    dates: np.ndarray,
    tf_ns: int,
    interval_ns: int,
    have_tick: bool,
    last_tick: int,
    min_orders: np.ndarray,
    steps: np.ndarray,
    bounds: np.ndarray,
) -> tuple[int, bool]:  # pragma: no cover - compiled
    """compiled.band_scan (lag 1, its arithmetic) that passes over the bars whose plan would be a
    threshold plan with no order: the first bar in ``first..stop-1`` out of band whose plan is an
    initial or a scheduled one (with False), or that :func:`compiled_planner.nothing_to_trade` does
    not prove empty (with True: the kernel need not ask again), else (-1, False). Such a plan
    changes nothing in :func:`freqtrade_kernel` (no order: no event, the schedule's clock kept; the
    next scan starts at the next bar, against the same stop), so going on to the next bar here is
    the same run. ``values``: scratch, the coins' values at the bar's close."""
    n = amounts.shape[0]
    for r in range(first, stop):
        row = r - 1
        total = 0.0
        for i in range(n):
            total += close[row, i] * amounts[i]
        total += cash
        out = False
        for i in range(n):
            if abs(close[row, i] * amounts[i] / total - goal[i]) - width[i] > EXCESS_TOLERANCE:
                out = True
                break
        if not out and abs(cash / total - goal[n]) - width[n] > EXCESS_TOLERANCE:
            out = True
        if not out:
            continue
        if not bounds[0] >= 0.0:
            return r, False
        for i in range(n):
            values[i] = close[row, i] * amounts[i]
        held = np_sum(values)
        if held <= 0:  # an initial plan
            return r, False
        if interval_ns >= 0 and (not have_tick or dates[row] + tf_ns - last_tick >= interval_ns):
            return r, False  # a scheduled plan: it moves the schedule's clock
        if not nothing_to_trade(amounts, close[row], values, held, cash, goal, min_orders, steps, bounds):
            return r, True
    return -1, False
