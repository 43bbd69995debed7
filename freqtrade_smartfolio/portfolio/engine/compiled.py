"""The compiled loops (numba ``@njit(cache=True)``): clean mode whole, its sweep, and freqtrade mode's
trigger search.

Every function here repeats, operation for operation and in the same order, the float arithmetic of
the Python/numpy code it replaces (bt's order of summation, bt's quantity search, plan.py's band
test), so the results are bit for bit the same; ``tests/test_engine_compiled.py`` checks them against
the Python reference with hypothesis. numba does not contract ``a * b + c`` into a fused multiply-add
without ``fastmath``, which stays off. ``error_model="numpy"``: a division by zero gives inf/nan as
numpy does (a zero target in a relative band) instead of raising.

The first call of each function compiles it (a few seconds) and caches the machine code next to this
file (``__pycache__``); later processes load it in well under a second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.market import NS_PER_MINUTE

BT_TOL = 1e-16  # bt.core.TOL
EXCESS_TOLERANCE = 1e-12  # plan.out_of_band_reason

KIND_INITIAL = 0
KIND_THRESHOLD = 1
KIND_SCHEDULE = 2


def schedule_ns(interval_minutes: float | None) -> int:
    """A schedule in nanoseconds for the kernels (-1: none; NaN, as a sweep table's empty interval
    column holds it, is never due either); whole minutes are exact."""
    if interval_minutes is None or math.isnan(interval_minutes):
        return -1
    return math.ceil(interval_minutes * NS_PER_MINUTE)


_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def round_to_ticks(
    source: np.ndarray, ticks: np.ndarray, scale: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """lots.round_to_tick on every column (``scale``: 10.0**decimals of each tick): numpy's
    ``np.round(np.round(x / tick) * tick, d)`` is ``rint(rint(x / tick) * tick * 10**d) / 10**d``
    (PyArray_Round), the same operations here, element by element."""
    bars, n = source.shape
    out = np.empty((bars, n))
    for r in range(bars):
        for i in range(n):
            out[r, i] = np.rint(np.rint(source[r, i] / ticks[i]) * ticks[i] * scale[i]) / scale[i]
    return out


@njit(**_JIT)
def tick_runs(
    price_ticks: np.ndarray, exchange_ticks: np.ndarray, use_price: bool, bars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Where each column's tick changes (row 0 included), column by column: rows, columns and the
    ticks there. A bar's tick is its price precision, or the exchange's where that is NaN (or where
    there is none: ``use_price`` False); NaN against NaN counts as a change, as numpy's ``!=``."""
    n = exchange_ticks.shape[0]
    count = 0
    for i in range(n):
        previous = 0.0
        for r in range(bars):
            tick = exchange_ticks[i]
            if use_price and not np.isnan(price_ticks[r, i]):
                tick = price_ticks[r, i]
            if r == 0 or tick != previous:
                count += 1
            previous = tick
    rows = np.empty(count, dtype=np.int64)
    cols = np.empty(count, dtype=np.int64)
    values = np.empty(count)
    k = 0
    for i in range(n):
        previous = 0.0
        for r in range(bars):
            tick = exchange_ticks[i]
            if use_price and not np.isnan(price_ticks[r, i]):
                tick = price_ticks[r, i]
            if r == 0 or tick != previous:
                rows[k] = r
                cols[k] = i
                values[k] = tick
                k += 1
            previous = tick
    return rows, cols, values


@njit(**_JIT)
def spread_runs(
    bars: int, n: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """A (bars x n) array holding each run's value (:func:`tick_runs`' rows and columns) to the next."""
    out = np.empty((bars, n), dtype=values.dtype)
    for k in range(rows.shape[0]):
        end = rows[k + 1] if k + 1 < rows.shape[0] and cols[k + 1] == cols[k] else bars
        for r in range(rows[k], end):
            out[r, cols[k]] = values[k]
    return out


@njit(**_JIT)
def bt_quantity(amount: float, price: float, fee: float) -> float:  # pragma: no cover - compiled
    """bt's ``Security.allocate`` Newton search (rules.bt_quantity), compiled."""
    q = amount / price
    if q == 0:
        return 0.0
    full = q * price + abs(q) * price * fee
    while abs(full - amount) > 1e-8 + BT_TOL * abs(amount) and q != 0:
        q = q - (full - amount) / price
        full = q * price + abs(q) * price * fee
    return q


@njit(**_JIT)
def clean_out_of_band(
    close: np.ndarray,
    r: int,
    amounts: np.ndarray,
    cash: float,
    goal: np.ndarray,
    threshold: float,
    relative: bool,
    check_cash: bool,
) -> bool:  # pragma: no cover - compiled
    """bt's RunIfOutOfBounds at the close of bar ``r`` (Kernel.out_of_band, clean mode)."""
    n = amounts.shape[0]
    total = cash  # bt: capital, then each child's value in order
    for i in range(n):
        total += close[r, i] * amounts[i]
    for i in range(n):
        w = close[r, i] * amounts[i] / total
        if relative:
            if abs((w - goal[i]) / goal[i]) > threshold:
                return True
        elif abs(w - goal[i]) > threshold:
            return True
    if check_cash:
        return bool(abs(cash / total - goal[n]) > threshold)
    return False


@njit(**_JIT)
def band_scan(
    close: np.ndarray,
    lo: int,
    hi: int,
    lag: int,
    amounts: np.ndarray,
    cash: float,
    goal: np.ndarray,
    width: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """freqtrade mode's trigger search: the first bar ``r`` in ``lo..hi-1`` whose weights at the close
    of bar ``r - lag`` leave plan.out_of_band_reason's band (|weight - goal| - width > 1e-12, the
    cash included; the coins' values summed left to right, then the cash), or -1."""
    n = amounts.shape[0]
    for r in range(lo, hi):
        row = r - lag
        total = 0.0
        for i in range(n):
            total += close[row, i] * amounts[i]
        total += cash
        for i in range(n):
            if abs(close[row, i] * amounts[i] / total - goal[i]) - width[i] > EXCESS_TOLERANCE:
                return r
        if abs(cash / total - goal[n]) - width[n] > EXCESS_TOLERANCE:
            return r
    return -1


@njit(**_JIT)
def coin_over_band(
    prices: np.ndarray, amounts: np.ndarray, cash: float, goal: np.ndarray, width: np.ndarray
) -> bool:  # pragma: no cover - compiled
    """plan.coin_over_band: a coin (not the cash) weighs more than its band allows, in band_scan's
    arithmetic."""
    n = amounts.shape[0]
    total = 0.0
    for i in range(n):
        total += prices[i] * amounts[i]
    total += cash
    if total <= 0:
        return False
    for i in range(n):
        weight = prices[i] * amounts[i] / total
        if abs(weight - goal[i]) - width[i] > EXCESS_TOLERANCE and weight > goal[i]:
            return True
    return False


@njit(**_JIT)
def _grow2(a: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    b = np.empty((size, a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(**_JIT)
def _grow1(a: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    b = np.empty(size, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(**_JIT)
def clean_kernel(
    close: np.ndarray,
    dates: np.ndarray,
    goal: np.ndarray,
    banded: bool,
    threshold: float,
    relative: bool,
    check_cash: bool,
    interval_ns: int,
    fee: float,
    investment: float,
    bt_quantities: bool,
    hold: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean mode (Kernel.run_clean's rules, bt's convention) over ``close`` (bars x coins).

    ``goal``: the coins' targets then the cash target; ``banded``: the rule has a threshold;
    ``interval_ns``: the schedule (< 0: none). Returns, one row per event (a bar that traded): the
    bar, its kind (KIND_*), the holdings and the cash after it, each coin's signed quantity, whether
    the coin traded, and a (fees, traded value, rebalances) array.
    """
    bars, n = close.shape
    cap = 64
    rows = np.empty(cap, dtype=np.int64)
    kinds = np.empty(cap, dtype=np.int8)
    held_after = np.empty((cap, n))
    cash_after = np.empty(cap)
    qty = np.zeros((cap, n))
    traded = np.zeros((cap, n), dtype=np.bool_)
    held = np.zeros(n)
    cash = investment
    fees = 0.0
    traded_value = 0.0
    rebalances = 0
    last_tick = np.int64(0)
    k = 0
    r = 0
    while r < bars:
        started = cash != investment
        if not started:
            for i in range(n):
                if held[i] != 0:
                    started = True
                    break
        if started:
            if hold:
                break
            # Kernel.scan: the first bar >= r that is out of band before the schedule, else the schedule
            schedule_row = bars
            if interval_ns >= 0:
                due = last_tick + interval_ns
                schedule_row = max(r, int(np.searchsorted(dates, due)))
            if not banded:
                if schedule_row >= bars:
                    break
                r = schedule_row
                kind = KIND_SCHEDULE
            else:
                any_held = False
                for i in range(n):
                    if held[i] > 0:
                        any_held = True
                        break
                hit = -1
                if not any_held:
                    hit = r
                else:
                    for s in range(r, min(bars, schedule_row)):
                        if clean_out_of_band(close, s, held, cash, goal, threshold, relative, check_cash):
                            hit = s
                            break
                if hit < 0:
                    if schedule_row >= bars:
                        break
                    hit = schedule_row
                r = hit
                if interval_ns >= 0 and not clean_out_of_band(
                    close, r, held, cash, goal, threshold, relative, check_cash
                ):
                    kind = KIND_SCHEDULE
                else:
                    kind = KIND_THRESHOLD
            if kind == KIND_SCHEDULE:
                last_tick = dates[r]
        else:
            kind = KIND_INITIAL
            last_tick = dates[r]
        if k == cap:
            cap *= 2
            rows = _grow1(rows, cap)
            kinds = _grow1(kinds, cap)
            held_after = _grow2(held_after, cap)
            cash_after = _grow1(cash_after, cap)
            qty = _grow2(qty, cap)
            traded = _grow2(traded, cap)
        initial = kind == KIND_INITIAL
        base = cash  # bt: value = capital + child values in order; weights from it
        for i in range(n):
            base += held[i] * close[r, i]
        for i in range(n):
            p = close[r, i]
            value = held[i] * p
            amount = (goal[i] - (value / base if base else 0.0)) * base
            qty[k, i] = 0.0
            traded[k, i] = False
            if amount == 0:
                continue
            if bt_quantities:
                q = bt_quantity(amount, p, fee)
            elif amount > 0:
                q = amount / (p * (1 + fee))
            else:
                q = amount / (p * (1 - fee))
            commission = abs(q) * p * fee
            held[i] += q
            cash -= q * p + commission
            fees += commission
            if not initial:
                traded_value += abs(q) * p
            qty[k, i] = q
            traded[k, i] = True
        if not initial:
            rebalances += 1
        rows[k] = r
        kinds[k] = kind
        held_after[k] = held
        cash_after[k] = cash
        k += 1
        r += 1
    totals = np.array([fees, traded_value, float(rebalances)])
    return rows[:k], kinds[:k], held_after[:k], cash_after[:k], qty[:k], traded[:k], totals


@njit(**_JIT)
def equity_curve(
    close: np.ndarray, rows: np.ndarray, held_after: np.ndarray, cash_after: np.ndarray, investment: float
) -> np.ndarray:  # pragma: no cover - compiled
    """The value at each close (cash, then each coin: api._result's order) from the holdings changes.

    Holdings are constant from one change to the next: each stretch of bars starts at the cash and
    adds one coin at a time over all its bars (the same additions in the same order for every bar,
    in loops over bars that run down a column: contiguous in Fortran order, vectorised)."""
    bars, n = close.shape
    out = np.empty(bars)
    changes = rows.shape[0]
    first = rows[0] if changes else bars
    for r in range(min(first, bars)):
        out[r] = investment
    for k in range(changes):
        lo = rows[k]
        hi = rows[k + 1] if k + 1 < changes else bars
        size = hi - lo
        stretch = out[lo:hi]  # views indexed from 0: no negative-index test, the loops vectorise
        cash = cash_after[k]
        for r in range(size):
            stretch[r] = cash
        for i in range(n):
            amount = held_after[k, i]
            column = close[lo:hi, i]
            for r in range(size):
                stretch[r] += amount * column[r]
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def clean_sweep(
    close: np.ndarray,
    dates: np.ndarray,
    goal: np.ndarray,
    thresholds: np.ndarray,
    intervals_ns: np.ndarray,
    relative: bool,
    check_cash: bool,
    fee: float,
    investment: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean mode for many (threshold, interval) points on one market, in parallel (prange).

    ``thresholds[k]`` NaN: no band; ``intervals_ns[k]`` < 0: no schedule. Returns each point's equity
    curve (points x bars), the fees (before the final sale), the traded value, the rebalances, and the
    holdings and cash at the end (the final sale is priced by the caller, as Kernel.run_clean prices it).
    """
    points = thresholds.shape[0]
    bars, n = close.shape
    final_held = np.zeros((points, n))
    final_cash = np.full(points, investment)
    curves = np.empty((points, bars))
    fees = np.empty(points)
    traded = np.empty(points)
    rebalances = np.empty(points, dtype=np.int64)
    for k in prange(points):
        banded = not np.isnan(thresholds[k])
        t = thresholds[k] if banded else 0.0
        rows, _, held_after, cash_after, _, _, totals = clean_kernel(
            close,
            dates,
            goal,
            banded,
            t,
            relative,
            check_cash,
            intervals_ns[k],
            fee,
            investment,
            False,
            False,
        )
        curves[k] = equity_curve(close, rows, held_after, cash_after, investment)
        fees[k] = totals[0]
        traded[k] = totals[1]
        rebalances[k] = int(totals[2])
        if rows.shape[0]:
            final_held[k] = held_after[-1]
            final_cash[k] = cash_after[-1]
    return curves, fees, traded, rebalances, final_held, final_cash
