"""The compiled planner of freqtrade mode (:mod:`.compiled_freqtrade`): :func:`planner.fast_plan` with
:func:`plan.fund_buys`, on scratch arrays, and the stake arithmetic of freqtrade's trade book it is
funded by (the minimum stake, the free stake, the strategy's cash), bit for bit the Python code's."""

from __future__ import annotations

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.compiled_exact import (
    JIT_OPTIONS,
    floor_to_step,
    np_sum,
    py_max,
    py_min,
    sum_add,
    sum_end,
)
from freqtrade_smartfolio.portfolio.lots import AMOUNT_RESERVE
from freqtrade_smartfolio.portfolio.plan import FEE_ITERATIONS

# ------------------------------------------------------------------------------------------ planner


@njit(**JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
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
        amount = held if goal[i] == 0 else py_min(held, floor_to_step(-delta / price, step))
        remainder = (held - amount) * price
        if 0 < remainder < min_order:
            amount = floor_to_step(held - min_order / price, step)
            if amount <= 0:
                continue
        value = amount * price
        if value < min_order or amount <= 0:
            continue
        side[i] = -1
        order_amount[i] = amount
        order_value[i] = value
        proceeds, proceeds_carry = sum_add(proceeds, proceeds_carry, value)
        count += 1
    proceeds = sum_end(proceeds, proceeds_carry) * (1 - fee)
    cash_reserve = target_cash * py_max(total - fee * traded_estimate, 0.0)
    spendable = py_max(cash + proceeds - cash_reserve, 0.0)
    # plan.fund_buys
    cost = 0.0
    cost_carry = 0.0
    for i in range(n):
        if deltas[i] > 0:
            cost, cost_carry = sum_add(cost, cost_carry, deltas[i])
    cost = sum_end(cost, cost_carry) * (1 + fee)
    scale = py_min(1.0, spendable / cost) if cost > 0 else 1.0
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
                s, s_carry = sum_add(s, s_carry, deltas[ranked[j]])
            s = sum_end(s, s_carry)
            share = py_min(1.0, spendable / (s * (1 + fee)))
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
        stake = py_min(stake, spendable_total / (1 + fee))
        spendable_total -= stake * (1 + fee)
        side[i] = 1
        order_amount[i] = stake / prices[i]
        order_value[i] = stake
        count += 1
    return count


# ------------------------------------------------------------------------------------------ the run


@njit(**JIT_OPTIONS)
def min_stake(min_cost: float, min_amount: float, price: float, reserve: float) -> float:  # pragma: no cover
    """rules.min_stake with the stoploss reserve worked out (``reserve``)."""
    limit = 0.0
    have = False
    if min_cost:
        limit = min_cost * reserve
        have = True
    if min_amount:
        by_amount = min_amount * price * AMOUNT_RESERVE
        limit = py_max(limit, by_amount) if have else by_amount
        have = True
    return limit if have else 0.0


@njit(**JIT_OPTIONS)
def free_stake(
    investment: float, opened: np.ndarray, count: int, realized: np.ndarray, stake: np.ndarray
) -> float:  # pragma: no cover
    profit, profit_carry = 0.0, 0.0
    tied, tied_carry = 0.0, 0.0
    for j in range(count):
        profit, profit_carry = sum_add(profit, profit_carry, realized[opened[j]])
    for j in range(count):
        tied, tied_carry = sum_add(tied, tied_carry, stake[opened[j]])
    profit = 0.0 + sum_end(profit, profit_carry)
    tied = sum_end(tied, tied_carry)
    free = investment + profit - tied
    return py_min((tied + free) * 1.0 - tied, free)


@njit(**JIT_OPTIONS)
def strategy_cash(
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
        unpaid, carry = sum_add(unpaid, carry, amount[i] * open_rate[i] * factor - stake[i])
    unpaid = sum_end(unpaid, carry)
    return py_max(free - unpaid, 0.0)


@njit(**JIT_OPTIONS)
def book_cash(
    investment: float,
    opened: np.ndarray,
    count: int,
    realized: np.ndarray,
    amount: np.ndarray,
    open_rate: np.ndarray,
    stake: np.ndarray,
    factor: float,
) -> float:  # pragma: no cover - compiled
    """The cash the strategy sees from freqtrade's trade book (its free stake, less the unpaid fees)."""
    free = free_stake(investment, opened, count, realized, stake)
    return strategy_cash(free, opened, count, amount, open_rate, stake, factor)
