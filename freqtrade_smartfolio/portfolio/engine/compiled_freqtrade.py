"""freqtrade mode compiled: the trigger search, the planner (:mod:`.compiled_planner`), the fills and
freqtrade's trade book of :mod:`.fills`, in one numba loop, with the Python code's float arithmetic
in its order and its decimal roundings decided exactly (:mod:`.compiled_exact`).

Where a rounding is not decidable the kernel stops and says so (``status`` 1) and the caller runs the
Python loop. The Python loop (:meth:`fills.FreqtradeKernel.run_freqtrade`) also keeps markets where
some coin lacks candles (``Market.valid``: listings, ends, the tradable targets), lots that are not
powers of ten <= 1 and more than 128 coins. A recorded run's reasons (plan.py's words) are written in
Python from the states the kernel hands back (:mod:`.compiled_freqtrade_sweep` holds the sweep and
the reasons' figures).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.compiled import coin_over_band
from freqtrade_smartfolio.portfolio.engine.compiled_exact import (
    JIT_OPTIONS,
    np_sum,
    on_grid,
    price_to_precision,
    py_max,
    py_min,
    truncate_to_step,
)
from freqtrade_smartfolio.portfolio.engine.compiled_freqtrade_scan import next_plan
from freqtrade_smartfolio.portfolio.engine.compiled_planner import (
    book_cash,
    fast_exit_bounds,
    free_stake,
    min_stake,
    nothing_to_trade,
    plan_into,
    strategy_cash,
)

SELL_NUDGE = 1e-9  # rules.SELL_NUDGE
STAKE_NUDGE = 1e-9  # lots.STAKE_NUDGE

KIND_INITIAL = 0
KIND_THRESHOLD = 1
KIND_SCHEDULE = 2
KIND_COMPLETION = 3


class Undecided(Exception):
    """A rounding the compiled kernel cannot decide exactly."""


@njit(**JIT_OPTIONS)
def _grown(rows: np.ndarray, used: int, capacity: int) -> np.ndarray:  # pragma: no cover - compiled
    """``rows`` with room for ``capacity`` rows (the first ``used`` kept)."""
    out = np.empty((capacity,) + rows.shape[1:], dtype=rows.dtype)  # noqa: RUF005 (numba: no starred tuple)
    out[:used] = rows[:used]
    return out


@njit(**JIT_OPTIONS)
def _undecided(
    ev: np.ndarray,
    ev_amounts: np.ndarray,
    ev_cash: np.ndarray,
    ev_seen: np.ndarray,
    fills: np.ndarray,
    k: int,
    nf: int,
    amount: np.ndarray,
    stake: np.ndarray,
) -> tuple[
    int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # pragma: no cover - compiled
    """:func:`freqtrade_kernel`'s answer when a rounding cannot be decided (status 1: the caller runs
    the Python loop)."""
    return 1, ev[:k], ev_amounts[:k], ev_cash[:k], ev_seen[:k], fills[:nf], np.zeros(4), amount, stake


@njit(**JIT_OPTIONS)
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
    values = np.empty(n)  # the coins' values at a plan's prices
    bounds = fast_exit_bounds(coin_goal, min_orders, steps, fee, target_cash)  # bounds[0] < 0: no fast exit
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
    seen = book_cash(investment, opened, count, realized, amount, open_rate, stake, factor)
    have_tick = False
    last_tick = np.int64(0)
    incomplete = False
    r = 1
    while r <= last:
        unproved = False  # nothing_to_trade already False for this plan's state
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
                            hit, unproved = next_plan(
                                close_r,
                                first,
                                stop,
                                amount,
                                seen,
                                goal,
                                width,
                                values,
                                dates,
                                tf_ns,
                                interval_ns,
                                have_tick,
                                last_tick,
                                min_orders,
                                steps,
                                bounds,
                            )
                        found = hit if hit >= 0 else (schedule_row if schedule_row < bars else -1)
            r = found
            if r < 0:
                break
        prices = close_r[r - 1]
        plan_time = dates[r - 1] + tf_ns
        for i in range(n):
            values[i] = amount[i] * prices[i]
        held = np_sum(values)
        if incomplete:  # plan.completion_trigger: a coin over its band again needs a sale
            over = banded and coin_over_band(prices, amount, seen, goal, width)
            kind = KIND_THRESHOLD if over else KIND_COMPLETION
        else:
            if held <= 0:
                kind = KIND_INITIAL
            elif interval_ns >= 0 and (not have_tick or plan_time - last_tick >= interval_ns):
                kind = KIND_SCHEDULE
            else:
                kind = KIND_THRESHOLD
            if kind != KIND_THRESHOLD:  # INITIAL or SCHEDULE: the schedule's clock
                last_tick = plan_time
                have_tick = True
        if (
            kind == KIND_THRESHOLD
            and not unproved
            and nothing_to_trade(amount, prices, values, held, seen, coin_goal, min_orders, steps, bounds)
        ):
            orders = 0  # plan_into would return no order (its proof)
        else:
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
                ev, ev_amounts = _grown(ev, k, cap), _grown(ev_amounts, k, cap)
                ev_cash, ev_seen = _grown(ev_cash, k, cap), _grown(ev_seen, k, cap)
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
                    q, ok = truncate_to_step(
                        py_min(order_amount[i], amount[i]) * (1 + SELL_NUDGE), step, sdec
                    )
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    if q <= 0:
                        continue
                    remaining = (amount[i] - q) * p
                    floor = min_stake(min_cost[i], min_amount[i], p, reserves[0])
                    if floor and remaining != 0 and remaining < floor:
                        continue
                    p, ok = price_to_precision(p, trade_dec[i])
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    if has_range and not (low_r[r, i] <= p <= high_r[r, i]):
                        continue
                    gross = q * p
                    realized[i] += gross * (1 - fee) - q * avg[i] * (1 + fee)
                    stake[i] -= avg[i] * q
                    left, ok = on_grid(amount[i] - q, step, sdec)
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    amount[i] = left
                    cash += gross * (1 - fee)
                    flow[i] += gross * (1 - fee)
                else:
                    entry = amount[i] <= 0
                    if entry and last_row:
                        continue
                    available = free_stake(investment, opened, count, realized, stake)
                    seen_now = strategy_cash(available, opened, count, amount, open_rate, stake, factor)
                    filled = investment
                    for jj in range(count):
                        filled += flow[opened[jj]]
                    cash_now = py_max(py_min(seen_now, filled), 0.0)
                    min_order = min_orders[i]
                    lot_cash = py_min(cash_now, available * (1 + fee))
                    size = order_value[i]
                    if entry:
                        wanted = py_min(py_min(size, available), cash_now / (1 + fee))
                    else:
                        wanted = py_min(size, py_min(available, cash_now / (1 + fee)))
                        if size - wanted >= min_order or wanted < min_order:
                            incomplete = True
                        if wanted < min_order:
                            continue
                    # lots.fit_buy_to_lot
                    if wanted <= 0 or p <= 0:
                        continue
                    fit, ok = truncate_to_step(wanted / p, step, sdec)
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    amount_stake = wanted
                    if not (fit * p >= min_order and fit > 0):
                        up = fit
                        if step > 0:
                            up, ok = truncate_to_step(fit + step, step, sdec)
                            if not ok:
                                return _undecided(
                                    ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake
                                )
                        if step > 0 and up * p >= min_order and up * p * (1 + fee) <= lot_cash:
                            exact = up * p
                            nudged = exact * (1 + STAKE_NUDGE)
                            back, ok = truncate_to_step(nudged / p, step, sdec)
                            if not ok:
                                return _undecided(
                                    ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake
                                )
                            fit = up
                            amount_stake = nudged if back == up else exact
                        else:
                            continue
                    if fit <= 0:
                        continue
                    floor = min_stake(min_cost[i], min_amount[i], p, reserves[2] if entry else reserves[1])
                    if not amount_stake > 0 or floor > available:
                        continue
                    if amount_stake < floor:
                        if amount_stake * 1.3 < floor:
                            continue
                        amount_stake = floor
                    amount_stake = py_min(amount_stake, available)
                    q, ok = truncate_to_step(amount_stake / p, step, sdec)
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    if q <= 0:
                        continue
                    gross = q * p
                    stake[i] += gross
                    total_amount, ok = on_grid(amount[i] + q, step, sdec)
                    if not ok:
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
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
                        return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
                    open_rate[i] = rate
                    cash -= gross * (1 + fee)
                    flow[i] -= gross * (1 + fee)
                traded = True
                fees += gross * fee
                if not initial:
                    traded_value += gross
                if nf == fcap:
                    fcap *= 2
                    fills = _grown(fills, nf, fcap)
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
            seen = book_cash(investment, opened, count, realized, amount, open_rate, stake, factor)
            ev_seen[k - 1] = seen
        r += 1
    # handle_left_open: every open trade force-sold at the open of the last bar
    final = cash
    for j in range(count):
        i = opened[j]
        if amount[i] > 0:
            price, ok = price_to_precision(open_r[last, i], trade_dec[i])
            if not ok:
                return _undecided(ev, ev_amounts, ev_cash, ev_seen, fills, k, nf, amount, stake)
            if has_range and not (low_r[last, i] <= price <= high_r[last, i]):
                continue
            gross = amount[i] * price
            final += gross * (1 - fee)
            fees += gross * fee
    totals = np.array([fees, traded_value, float(rebalances), final])
    return 0, ev[:k], ev_amounts[:k], ev_cash[:k], ev_seen[:k], fills[:nf], totals, amount, stake
