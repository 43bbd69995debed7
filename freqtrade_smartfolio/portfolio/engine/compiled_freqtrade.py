"""freqtrade mode compiled: the trigger search, the planner (:func:`planner.fast_plan` with
:func:`plan.fund_buys`), the fills and freqtrade's trade book of :mod:`.fills`, in one numba loop.

Every operation repeats the Python code's float arithmetic in its order: numpy's pairwise summation
where the Python code sums an array (``ndarray.sum``), CPython's own ``sum()`` where it sums a list
(left to right up to 3.11, Neumaier-compensated from 3.12), Python's ``min``/``max`` argument order.
The decimal roundings are exact integer work on ``x * 10**d`` taken exactly (Dekker's two-product;
numba fuses no multiply-add without fastmath):

* ``round(x, d)`` (Python's: half-even on the exact value) -> the nearest integer ``n``, ``n / 10**d``;
* freqtrade's ``price_to_precision`` (half-up on ``str(x)``, :func:`rules.price_to_precision`): the
  repr lies within half an ulp of ``x``, so it is on the other side of a half-way point ``t`` than
  the exact value only when ``float(t) == x``; then the repr has one decimal more than the tick and
  is the string of that length nearest the exact value (``t`` itself unless an ulp spans several);
* ccxt's TRUNCATE on ``str(amount) / str(step)`` (:func:`lots.truncate_to_step` at a lot boundary) for
  power-of-ten lots: the repr of an amount is a multiple of the lot exactly when the float is the
  nearest to one; otherwise it floors as the exact value does.

Where that is not decidable (a product ``x * 10**d`` beyond 2**52) the kernel stops and says so
(``status`` 1) and the caller runs the Python loop. The Python loop
(:meth:`fills.FreqtradeKernel.run_freqtrade`) also keeps markets where some coin lacks candles
(``Market.valid``: listings, ends, the tradable targets), lots that are not powers of ten <= 1 and
more than 128 coins. A recorded run's reasons (plan.py's words) are written in Python from the
states the kernel hands back.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numba import njit, prange

from freqtrade_smartfolio.portfolio.engine.compiled import band_scan
from freqtrade_smartfolio.portfolio.lots import AMOUNT_RESERVE
from freqtrade_smartfolio.portfolio.plan import FEE_ITERATIONS

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

POW10 = np.array([10.0**k for k in range(23)])  # exact
SPLITTER = 134217729.0  # 2**27 + 1
EXACT_LIMIT = 2.0**52
SELL_NUDGE = 1e-9  # rules.SELL_NUDGE
STAKE_NUDGE = 1e-9  # lots.STAKE_NUDGE

KIND_INITIAL = 0
KIND_THRESHOLD = 1
KIND_SCHEDULE = 2
KIND_COMPLETION = 3


class Undecided(Exception):
    """A rounding the compiled kernel cannot decide exactly."""


# ------------------------------------------------------------------------------------------ numerics


NEUMAIER = sys.version_info >= (3, 12)  # CPython's sum() of floats compensates since 3.12
MAX_COINS = 128  # numpy's pairwise summation is one block up to 128 values (no recursion to cache)


@njit(**_JIT)
def np_sum(a: np.ndarray) -> float:  # pragma: no cover - compiled
    """``ndarray.sum()`` of a 1-D float array of at most 128 values, bit for bit (numpy's pairwise
    summation: eight running sums, then the rest)."""
    n = a.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    m = n - (n % 8)
    while i < m:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@njit(**_JIT)
def _add(total: float, carry: float, x: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """One step of CPython's ``sum()`` over floats: left to right up to 3.11; from 3.12 with
    Neumaier's compensation in ``carry`` (bltinmodule.c)."""
    if not NEUMAIER:
        return total + x, carry
    t = total + x
    if abs(total) >= abs(x):
        carry += (total - t) + x
    else:
        carry += (x - t) + total
    return t, carry


@njit(**_JIT)
def _sum_end(total: float, carry: float) -> float:  # pragma: no cover - compiled
    """The end of CPython's ``sum()``: the compensation added (3.12+) when non-zero and finite."""
    if NEUMAIER and carry != 0 and np.isfinite(carry):
        return total + carry
    return total


@njit(**_JIT)
def _pmin(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``min(a, b)``."""
    return b if b < a else a


@njit(**_JIT)
def _pmax(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``max(a, b)``."""
    return b if b > a else a


@njit(**_JIT)
def _scaled(x: float, d: int) -> tuple[float, float]:  # pragma: no cover - compiled
    """``x * 10**d`` exactly, as ``p + e`` (Dekker's two-product)."""
    b = POW10[d]
    p = x * b
    c = SPLITTER * x
    xh = c - (c - x)
    xl = x - xh
    c = SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    e = ((xh * bh - p) + xh * bl + xl * bh) + xl * bl
    return p, e


@njit(**_JIT)
def _nearest(p: float, e: float) -> float:  # pragma: no cover - compiled
    """The integer nearest to the exact ``p + e`` (|e| <= ulp(p)/2, |p| < 2**52), ties to even."""
    n = np.rint(p)  # ties to even
    f = p - n  # exact, |f| <= 0.5
    if f == 0.5 and e > 0:
        n += 1.0
    elif f == -0.5 and e < 0:
        n -= 1.0
    return n


@njit(**_JIT)
def _floor(p: float, e: float) -> float:  # pragma: no cover - compiled
    """floor of the exact ``p + e`` (|e| <= ulp(p)/2, |p| < 2**52)."""
    f = np.floor(p)
    if p == f and e < 0:
        f -= 1.0
    return f


@njit(**_JIT)
def py_round(x: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """Python's ``round(x, d)`` (0 <= d <= 22: half-even on the exact value, then the float nearest to
    the decimal) and whether it was decided (False beyond 2**52 lots of 10**-d)."""
    if x != x or x == 0.0:
        return x, True
    p, e = _scaled(x, d)
    if not abs(p) < EXACT_LIMIT:
        return x, False
    return _nearest(p, e) / POW10[d], True


@njit(**_JIT)
def price_to_precision(price: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """rules.price_to_precision with the tick's decimals ``d`` (< 0: no tick): ROUND_HALF_UP on
    ``str(price)``. The repr lies within half an ulp of ``price``: it is on the far side of a half-way
    point ``t`` only when ``float(t) == price`` (then the repr is ``t`` itself, rounded up)."""
    if d < 0:
        return price, True
    on_grid, ok = py_round(price, d)
    if not ok:
        return price, False
    if on_grid == price:
        return price, True
    p, e = _scaled(price, d)
    n = _floor(p, e)
    if (2.0 * n + 1.0) / (2.0 * POW10[d]) == price:
        # The half-way point t round-trips, so no shorter string does: the repr has d + 1 decimals,
        # the ones nearest the exact value (t itself, or a neighbour when an ulp spans several such
        # strings). It reaches t, and rounds up, when the exact value is at least n + 0.45 (scaled).
        h = ((p - n) - 0.45) + e  # p - n exact; the rest within 1e-15 of the exact value
        if abs(h) < 1e-9:
            return price, False
        return (n + 1.0 if h > 0 else n) / POW10[d], True
    g = (p - n) - 0.5  # exact: both multiples of ulp(p), under 1
    up = g > 0 or (g == 0 and e > 0)
    return (n + 1.0 if up else n) / POW10[d], True


@njit(**_JIT)
def truncate_to_step(amount: float, step: float, d: int) -> tuple[float, bool]:  # pragma: no cover
    """lots.truncate_to_step for a lot of 10**-d (0 < step <= 1) or no lot (step 0)."""
    if not step > 0:
        return amount, True
    q = amount / step
    k = np.floor(q)
    if abs(q - np.rint(q)) <= 1e-9 * (1.0 + abs(q)):  # at a lot boundary: the decimals decide
        p, e = _scaled(amount, d)
        if not abs(p) < EXACT_LIMIT:
            return amount, False
        n = _nearest(p, e)
        # str(amount) is n lots exactly when amount is the float nearest to n lots; otherwise the
        # repr, within half an ulp, floors as the exact value does
        k = n if n / POW10[d] == amount else _floor(p, e)
    return py_round(k * step, d)


@njit(**_JIT)
def on_grid(amount: float, step: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """rules.on_grid."""
    if not step > 0:
        return amount, True
    return py_round(np.rint(amount / step) * step, d)


@njit(**_JIT)
def _floor_to_step(amount: float, step: float) -> float:  # pragma: no cover - compiled
    """plan._floor_to_step."""
    if step <= 0:
        return amount
    return np.floor(amount / step + 1e-9) * step


# ------------------------------------------------------------------------------------------ planner


@njit(**_JIT)
def fast_plan(
    amounts: np.ndarray,
    prices: np.ndarray,
    cash: float,
    goal: np.ndarray,
    target_cash: float,
    min_orders: np.ndarray,
    steps: np.ndarray,
    fee: float,
    buys_only: bool,
    side: np.ndarray,
    order_amount: np.ndarray,
    order_value: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """planner.fast_plan (every coin tradable): fills ``side`` (+1 buy, -1 sell, 0 none) and the
    orders' amounts and values; returns the number of orders."""
    n = amounts.shape[0]
    return plan_into(
        amounts,
        prices,
        cash,
        goal,
        target_cash,
        min_orders,
        steps,
        fee,
        buys_only,
        side,
        order_amount,
        order_value,
        np.empty((4, n)),
        np.empty(n, dtype=np.int64),
    )


@njit(**_JIT)
def plan_into(
    amounts: np.ndarray,
    prices: np.ndarray,
    cash: float,
    goal: np.ndarray,
    target_cash: float,
    min_orders: np.ndarray,
    steps: np.ndarray,
    fee: float,
    buys_only: bool,
    side: np.ndarray,
    order_amount: np.ndarray,
    order_value: np.ndarray,
    work: np.ndarray,
    ranked: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """:func:`fast_plan` on scratch arrays (``work``: 4 x n floats, ``ranked``: n ints) the caller
    keeps from plan to plan: the same operations, no allocation (the kernel plans at thousands of
    bars)."""
    n = amounts.shape[0]
    values, deltas, magnitudes, funded = work[0], work[1], work[2], work[3]
    for i in range(n):
        values[i] = amounts[i] * prices[i]
    total = np_sum(values) + cash
    for i in range(n):
        deltas[i] = goal[i] * total - values[i]
    for _ in range(FEE_ITERATIONS):
        for i in range(n):
            magnitudes[i] = abs(deltas[i])
        net = total - fee * np_sum(magnitudes)
        for i in range(n):
            deltas[i] = goal[i] * net - values[i]
    for i in range(n):
        magnitudes[i] = abs(deltas[i])
    traded_estimate = np_sum(magnitudes)
    count = 0
    proceeds = 0.0
    proceeds_carry = 0.0
    for i in range(n):
        side[i] = 0
        delta = deltas[i]
        held = amounts[i]
        if buys_only or delta >= 0 or held <= 0:
            continue
        price, min_order, step = prices[i], min_orders[i], steps[i]
        amount = held if goal[i] == 0 else _pmin(held, _floor_to_step(-delta / price, step))
        remainder = (held - amount) * price
        if 0 < remainder < min_order:
            amount = _floor_to_step(held - min_order / price, step)
            if amount <= 0:
                continue
        value = amount * price
        if value < min_order or amount <= 0:
            continue
        side[i] = -1
        order_amount[i] = amount
        order_value[i] = value
        proceeds, proceeds_carry = _add(proceeds, proceeds_carry, value)
        count += 1
    proceeds = _sum_end(proceeds, proceeds_carry) * (1 - fee)
    cash_reserve = target_cash * _pmax(total - fee * traded_estimate, 0.0)
    spendable = _pmax(cash + proceeds - cash_reserve, 0.0)
    # plan.fund_buys
    cost = 0.0
    cost_carry = 0.0
    for i in range(n):
        if deltas[i] > 0:
            cost, cost_carry = _add(cost, cost_carry, deltas[i])
    cost = _sum_end(cost, cost_carry) * (1 + fee)
    scale = _pmin(1.0, spendable / cost) if cost > 0 else 1.0
    funded[:] = 1.0  # 1.0: funded, 0.0: not
    everyone = scale >= 1.0
    if not everyone:
        everyone = True
        for i in range(n):
            w = deltas[i]
            if w > 0 and not (w * scale >= min_orders[i] or w < min_orders[i]):
                everyone = False
                break
    if not everyone:
        # ranked = sorted(((w, i) for wanted buys with w >= min_order), reverse=True)
        m = 0
        for i in range(n):
            if deltas[i] > 0 and deltas[i] >= min_orders[i]:
                ranked[m] = i
                m += 1
        for a in range(m):  # selection sort: w descending, then index descending
            best = a
            for b in range(a + 1, m):
                wi, wb = deltas[ranked[b]], deltas[ranked[best]]
                if wi > wb or (wi == wb and ranked[b] > ranked[best]):
                    best = b
            ranked[a], ranked[best] = ranked[best], ranked[a]
        funded[:] = 0.0
        chosen_k = 0
        for k in range(m, 0, -1):
            s = 0.0
            s_carry = 0.0
            for j in range(k):
                s, s_carry = _add(s, s_carry, deltas[ranked[j]])
            s = _sum_end(s, s_carry)
            share = _pmin(1.0, spendable / (s * (1 + fee)))
            ok = True
            for j in range(k):
                if not deltas[ranked[j]] * share >= min_orders[ranked[j]]:
                    ok = False
                    break
            if ok:
                scale = share
                chosen_k = k
                break
        for j in range(chosen_k):
            funded[ranked[j]] = 1.0
    spendable_total = cash + proceeds
    for i in range(n):
        want = deltas[i]
        if not want > 0:
            continue
        stake = want * scale if funded[i] != 0.0 else 0.0
        if stake < min_orders[i]:
            continue
        stake = _pmin(stake, spendable_total / (1 + fee))
        spendable_total -= stake * (1 + fee)
        side[i] = 1
        order_amount[i] = stake / prices[i]
        order_value[i] = stake
        count += 1
    return count


# ------------------------------------------------------------------------------------------ the run


@njit(**_JIT)
def _min_stake(min_cost: float, min_amount: float, price: float, reserve: float) -> float:  # pragma: no cover
    """rules.min_stake with the stoploss reserve worked out (``reserve``)."""
    limit = 0.0
    have = False
    if min_cost:
        limit = min_cost * reserve
        have = True
    if min_amount:
        by_amount = min_amount * price * AMOUNT_RESERVE
        limit = _pmax(limit, by_amount) if have else by_amount
        have = True
    return limit if have else 0.0


@njit(**_JIT)
def _free_stake(
    investment: float, opened: np.ndarray, count: int, realized: np.ndarray, stake: np.ndarray
) -> float:  # pragma: no cover
    profit, profit_carry = 0.0, 0.0
    tied, tied_carry = 0.0, 0.0
    for j in range(count):
        profit, profit_carry = _add(profit, profit_carry, realized[opened[j]])
    for j in range(count):
        tied, tied_carry = _add(tied, tied_carry, stake[opened[j]])
    profit = 0.0 + _sum_end(profit, profit_carry)
    tied = _sum_end(tied, tied_carry)
    free = investment + profit - tied
    return _pmin((tied + free) * 1.0 - tied, free)


@njit(**_JIT)
def _strategy_cash(
    free: float,
    opened: np.ndarray,
    count: int,
    amount: np.ndarray,
    open_rate: np.ndarray,
    stake: np.ndarray,
    factor: float,
) -> float:  # pragma: no cover - compiled
    unpaid, carry = 0.0, 0.0
    for j in range(count):
        i = opened[j]
        unpaid, carry = _add(unpaid, carry, amount[i] * open_rate[i] * factor - stake[i])
    unpaid = _sum_end(unpaid, carry)
    return _pmax(free - unpaid, 0.0)


@njit(**_JIT)
def freqtrade_kernel(
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
    width: np.ndarray,
    banded: bool,
    interval_ns: int,
    min_orders: np.ndarray,
    steps: np.ndarray,
    step_decimals: np.ndarray,
    min_cost: np.ndarray,
    min_amount: np.ndarray,
    reserves: np.ndarray,
    fee: float,
    investment: float,
    hold: bool,
) -> tuple[
    int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """FreqtradeKernel.run_freqtrade on a market where every coin has every candle (module doc).

    ``entry_decimals``: the decimals of the price precision a trade opened at each bar gets (-1: none);
    ``reserves``: min_stake's stoploss reserves for a partial exit, an adjustment and an entry.
    Returns (status: 0 done, 1 undecided rounding; events: bar, kind, incomplete, traded; holdings,
    cash and the strategy's cash after each event; fills: event, coin, side, amount, price, fee as
    float columns; totals: fees, traded value, rebalances, final value; the book's amounts, stakes).
    """
    bars, n = close_r.shape
    last = bars - 1
    factor = 1 + fee
    coin_goal = goal[:n].copy()  # goal: the coins' targets, then the cash's
    amount = np.zeros(n)
    stake = np.zeros(n)
    avg = np.zeros(n)
    open_rate = np.zeros(n)
    realized = np.zeros(n)
    flow = np.zeros(n)
    trade_dec = np.full(n, -1, dtype=np.int64)
    opened = np.empty(4 * n + 4, dtype=np.int64)  # trades in the order opened (a re-entry appends again)
    is_open = np.zeros(n, dtype=np.bool_)
    count = 0
    side = np.zeros(n, dtype=np.int64)
    order_amount = np.zeros(n)
    order_value = np.zeros(n)
    sequence = np.empty(opened.shape[0] + n, dtype=np.int64)
    work = np.empty((4, n))  # plan_into's scratch, kept from plan to plan
    ranked = np.empty(n, dtype=np.int64)
    held_values = np.empty(n)
    cap = 64
    ev = np.empty((cap, 4), dtype=np.int64)  # bar, kind, incomplete, traded
    ev_amounts = np.empty((cap, n))
    ev_cash = np.empty(cap)
    ev_seen = np.empty(cap)
    fcap = 256
    fills = np.empty((fcap, 6))  # event, coin, side (+1/-1), amount, price, fee
    k = 0
    nf = 0
    fees = 0.0
    traded_value = 0.0
    rebalances = 0
    cash = investment
    seen = _strategy_cash(
        _free_stake(investment, opened, count, realized, stake),
        opened,
        count,
        amount,
        open_rate,
        stake,
        factor,
    )
    have_tick = False
    last_tick = np.int64(0)
    incomplete = False
    r = 1
    while r <= last:
        if not incomplete:
            if hold and count > 0:
                break
            # Kernel.scan (lag 1, no special bars)
            first = r
            schedule_row = bars
            found = -2
            if interval_ns >= 0:
                if not have_tick:
                    found = first
                else:
                    due = last_tick + interval_ns
                    schedule_row = max(first, int(np.searchsorted(plan_dates, due)) + 1)
            if found == -2:
                if not banded:
                    found = schedule_row if schedule_row < bars else -1
                else:
                    any_held = False
                    for i in range(n):
                        if amount[i] > 0:
                            any_held = True
                            break
                    if not any_held:
                        found = first
                    else:
                        stop = min(bars, schedule_row)
                        hit = -1
                        if first < stop:
                            hit = band_scan(close_r, first, stop, 1, amount, seen, goal, width)
                        found = hit if hit >= 0 else (schedule_row if schedule_row < bars else -1)
            r = found
            if r < 0:
                break
        prices = close_r[r - 1]
        plan_time = dates[r - 1] + tf_ns
        if incomplete:
            kind = KIND_COMPLETION
        else:
            for i in range(n):
                held_values[i] = amount[i] * prices[i]
            if np_sum(held_values) <= 0:
                kind = KIND_INITIAL
            elif interval_ns >= 0 and (not have_tick or plan_time - last_tick >= interval_ns):
                kind = KIND_SCHEDULE
            else:
                kind = KIND_THRESHOLD
            if kind != KIND_THRESHOLD:  # INITIAL or SCHEDULE: the schedule's clock
                last_tick = plan_time
                have_tick = True
        orders = plan_into(
            amount,  # read only: the plan changes no holdings
            prices,
            seen,
            coin_goal,
            target_cash,
            min_orders,
            steps,
            fee,
            kind == KIND_COMPLETION,
            side,
            order_amount,
            order_value,
            work,
            ranked,
        )
        incomplete = False
        if orders:
            # FreqtradeKernel._fill_freqtrade
            if k == cap:
                cap *= 2
                ev2 = np.empty((cap, 4), dtype=np.int64)
                ev2[:k] = ev[:k]
                ev = ev2
                a2 = np.empty((cap, n))
                a2[:k] = ev_amounts[:k]
                ev_amounts = a2
                c2 = np.empty(cap)
                c2[:k] = ev_cash[:k]
                ev_cash = c2
                s2 = np.empty(cap)
                s2[:k] = ev_seen[:k]
                ev_seen = s2
            initial = kind == KIND_INITIAL
            last_row = r == last
            traded = False
            m = 0
            for j in range(count):
                sequence[m] = opened[j]
                m += 1
            for i in range(n):
                if not is_open[i]:
                    sequence[m] = i
                    m += 1
            for j in range(m):
                i = sequence[j]
                if side[i] == 0:
                    continue
                step, sdec = steps[i], step_decimals[i]
                p = open_r[r, i]
                if side[i] < 0:
                    if amount[i] <= 0:
                        continue
                    q, ok = truncate_to_step(_pmin(order_amount[i], amount[i]) * (1 + SELL_NUDGE), step, sdec)
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    if q <= 0:
                        continue
                    remaining = (amount[i] - q) * p
                    floor = _min_stake(min_cost[i], min_amount[i], p, reserves[0])
                    if floor and remaining != 0 and remaining < floor:
                        continue
                    p, ok = price_to_precision(p, trade_dec[i])
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    if has_range and not (low_r[r, i] <= p <= high_r[r, i]):
                        continue
                    gross = q * p
                    realized[i] += gross * (1 - fee) - q * avg[i] * (1 + fee)
                    stake[i] -= avg[i] * q
                    left, ok = on_grid(amount[i] - q, step, sdec)
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    amount[i] = left
                    cash += gross * (1 - fee)
                    flow[i] += gross * (1 - fee)
                else:
                    entry = amount[i] <= 0
                    if entry and last_row:
                        continue
                    available = _free_stake(investment, opened, count, realized, stake)
                    seen_now = _strategy_cash(available, opened, count, amount, open_rate, stake, factor)
                    filled = investment
                    for jj in range(count):
                        filled += flow[opened[jj]]
                    cash_now = _pmax(_pmin(seen_now, filled), 0.0)
                    min_order = min_orders[i]
                    lot_cash = _pmin(cash_now, available * (1 + fee))
                    size = order_value[i]
                    if entry:
                        wanted = _pmin(_pmin(size, available), cash_now / (1 + fee))
                    else:
                        wanted = _pmin(size, _pmin(available, cash_now / (1 + fee)))
                        if size - wanted >= min_order or wanted < min_order:
                            incomplete = True
                        if wanted < min_order:
                            continue
                    # lots.fit_buy_to_lot
                    if wanted <= 0 or p <= 0:
                        continue
                    fit, ok = truncate_to_step(wanted / p, step, sdec)
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    amount_stake = wanted
                    if not (fit * p >= min_order and fit > 0):
                        up = fit
                        if step > 0:
                            up, ok = truncate_to_step(fit + step, step, sdec)
                            if not ok:
                                return (
                                    1,
                                    ev[:k],
                                    ev_amounts[:k],
                                    ev_cash[:k],
                                    ev_seen[:k],
                                    fills[:nf],
                                    np.zeros(4),
                                    amount,
                                    stake,
                                )
                        if step > 0 and up * p >= min_order and up * p * (1 + fee) <= lot_cash:
                            exact = up * p
                            nudged = exact * (1 + STAKE_NUDGE)
                            back, ok = truncate_to_step(nudged / p, step, sdec)
                            if not ok:
                                return (
                                    1,
                                    ev[:k],
                                    ev_amounts[:k],
                                    ev_cash[:k],
                                    ev_seen[:k],
                                    fills[:nf],
                                    np.zeros(4),
                                    amount,
                                    stake,
                                )
                            fit = up
                            amount_stake = nudged if back == up else exact
                        else:
                            continue
                    if fit <= 0:
                        continue
                    floor = _min_stake(min_cost[i], min_amount[i], p, reserves[2] if entry else reserves[1])
                    if not amount_stake > 0 or floor > available:
                        continue
                    if amount_stake < floor:
                        if amount_stake * 1.3 < floor:
                            continue
                        amount_stake = floor
                    amount_stake = _pmin(amount_stake, available)
                    q, ok = truncate_to_step(amount_stake / p, step, sdec)
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    if q <= 0:
                        continue
                    gross = q * p
                    stake[i] += gross
                    total_amount, ok = on_grid(amount[i] + q, step, sdec)
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    amount[i] = total_amount
                    avg[i] = stake[i] / amount[i]
                    if entry:
                        if count == opened.shape[0]:
                            o2 = np.empty(2 * count, dtype=np.int64)
                            o2[:count] = opened[:count]
                            opened = o2
                            sequence = np.empty(opened.shape[0] + n, dtype=np.int64)
                        opened[count] = i
                        count += 1
                        is_open[i] = True
                        trade_dec[i] = entry_decimals[r, i]
                    rate, ok = price_to_precision(avg[i], trade_dec[i])
                    if not ok:
                        return (
                            1,
                            ev[:k],
                            ev_amounts[:k],
                            ev_cash[:k],
                            ev_seen[:k],
                            fills[:nf],
                            np.zeros(4),
                            amount,
                            stake,
                        )
                    open_rate[i] = rate
                    cash -= gross * (1 + fee)
                    flow[i] -= gross * (1 + fee)
                traded = True
                fees += gross * fee
                if not initial:
                    traded_value += gross
                if nf == fcap:
                    fcap *= 2
                    f2 = np.empty((fcap, 6))
                    f2[:nf] = fills[:nf]
                    fills = f2
                fills[nf, 0] = k
                fills[nf, 1] = i
                fills[nf, 2] = 1.0 if side[i] > 0 else -1.0
                fills[nf, 3] = q
                fills[nf, 4] = p
                fills[nf, 5] = gross * fee
                nf += 1
            if traded and not initial:
                rebalances += 1
            ev[k, 0] = r
            ev[k, 1] = kind
            ev[k, 2] = 1 if incomplete else 0
            ev[k, 3] = 1 if traded else 0
            ev_amounts[k] = amount
            ev_cash[k] = cash
            k += 1
            seen = _strategy_cash(
                _free_stake(investment, opened, count, realized, stake),
                opened,
                count,
                amount,
                open_rate,
                stake,
                factor,
            )
            ev_seen[k - 1] = seen
        r += 1
    # handle_left_open: every open trade force-sold at the open of the last bar
    final = cash
    for j in range(count):
        i = opened[j]
        if amount[i] > 0:
            price, ok = price_to_precision(open_r[last, i], trade_dec[i])
            if not ok:
                return (
                    1,
                    ev[:k],
                    ev_amounts[:k],
                    ev_cash[:k],
                    ev_seen[:k],
                    fills[:nf],
                    np.zeros(4),
                    amount,
                    stake,
                )
            if has_range and not (low_r[last, i] <= price <= high_r[last, i]):
                continue
            gross = amount[i] * price
            final += gross * (1 - fee)
            fees += gross * fee
    totals = np.array([fees, traded_value, float(rebalances), final])
    return 0, ev[:k], ev_amounts[:k], ev_cash[:k], ev_seen[:k], fills[:nf], totals, amount, stake


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


@njit(**_JIT)
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
            total, carry = _add(total, carry, amounts[k, i] * prices[k, i])
        total = _sum_end(total, carry) + cash[k]
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
