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


FAST_EXIT_MAX_FEE = 0.1  # nothing_to_trade's bound assumes fee * sum(goals) <= 0.2
FAST_EXIT_MAX_GOAL_SUM = 2.0
FAST_EXIT_MARGIN = 1e-9  # relative; every float error the proof below meets is < 1e-12 of its scale


@njit(**JIT_OPTIONS)
def fast_exit_bounds(
    goal: np.ndarray, min_orders: np.ndarray, steps: np.ndarray, fee: float, target_cash: float
) -> np.ndarray:  # pragma: no cover - compiled
    """The constants of :func:`nothing_to_trade`'s bounds on a run: ``[fixed, per_total, per_spread,
    cash_cap]``. How far the fee iterations move the plan's total is at most ``fixed + per_total *
    total`` where every first delta is under its minimum order (``fixed = fee * sum(min_orders) *
    (1 + 1e-9) / (1 - fee * G)``, ``per_total = 1e-9 / (1 - fee * G)``, ``G`` the coins' goals
    summed), else ``per_spread * sum(|first deltas|) + per_total * total`` (``per_spread = fee *
    (1 + 1e-9) / (1 - fee * G)``); ``cash_cap``: the smallest minimum order where the cash reserve
    is >= 0 (``target_cash >= 0``), else -1 (no cash-limited proof). The bounds apply to a run where
    every coin's goal is finite and >= 0 and they sum to <= 2, every minimum order is finite and
    > 0, every lot finite and >= 0, 0 <= fee <= 0.1; else ``fixed`` is -1: the pre-check is off,
    every plan runs :func:`plan_into`."""
    n = min_orders.shape[0]
    off = np.array([-1.0, 0.0, 0.0, -1.0])
    if not (0.0 <= fee <= FAST_EXIT_MAX_FEE):
        return off
    goal_sum = 0.0
    floors = 0.0
    smallest = np.inf
    for i in range(n):
        if not (0.0 <= goal[i] < np.inf and 0.0 < min_orders[i] < np.inf and 0.0 <= steps[i] < np.inf):
            return off
        goal_sum += goal[i]
        floors += min_orders[i]
        smallest = py_min(smallest, min_orders[i])
    if not (goal_sum <= FAST_EXIT_MAX_GOAL_SUM and floors < np.inf):
        return off
    damping = 1.0 - fee * goal_sum
    per_spread = fee * (1.0 + FAST_EXIT_MARGIN) / damping
    cash_cap = smallest if 0.0 <= target_cash < np.inf and n > 0 else -1.0
    return np.array([per_spread * floors, FAST_EXIT_MARGIN / damping, per_spread, cash_cap])


@njit(**JIT_OPTIONS)
def nothing_to_trade(
    amounts: np.ndarray,
    prices: np.ndarray,
    values: np.ndarray,
    held: float,
    cash: float,
    goal: np.ndarray,
    min_orders: np.ndarray,
    steps: np.ndarray,
    bounds: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """True only where :func:`plan_into` on the same state (its ``target_cash`` the one given to
    :func:`fast_exit_bounds`) returns no order (False: not proven, run it): bounds, without the fee
    iterations, on every coin's sale and buy. ``values``: ``amounts * prices`` (the plan's values,
    bit for bit), ``held``: ``np_sum(values)`` (the plan's total is ``held + cash``); ``bounds``:
    :func:`fast_exit_bounds` (``bounds[0] < 0``: never proven).

    Why no order is possible when it returns True (reals; eps = 2**-53; the checks here and in
    fast_exit_bounds make ``prices > 0``, ``amounts >= 0``, ``cash >= 0``, the total finite,
    0 <= fee <= 0.1, goals >= 0 summing to G <= 2, minimum orders ``mo > 0``, lots ``step >= 0``):

    * the plan's total ``T = np_sum(values) + cash`` is computed here by the same operations, and
      its first deltas ``d0 = goal * T - values`` too. Each fee iteration sets ``net = T - fee * S``
      with ``S`` the sum of the last ``|delta|``, so ``net <= T`` (fee, S >= 0): every final
      ``delta = goal * net - values <= d0`` (float operations are monotone), and ``D := T - net``
      moves it by ``goal * D`` plus rounding (< 1e-12 * T for n <= 128). With ``C = sum |d0|``,
      ``S <= C + G * D + 1e-12 * T`` and ``D' <= fee * (C + G * D) + 2e-12 * T``; from ``D = 0``
      every iteration keeps ``D <= (fee * C + 2e-12 * T) / (1 - fee * G)``, below ``drift`` here
      (``C`` bounded by ``sum(mo) * (1 + 1e-9)`` where every ``|d0| < mo``, else by the computed
      sum times ``1 + 1e-9``; ``1e-9`` for 2e-12; fee * G <= 0.2). So ``-delta <= -d0 + goal *
      drift + 1e-12 * T``.
    * a sale's value is at most ``-delta * (1 + 8 eps) + 2.01e-9 * step * price + 3.2 eps * mo``:
      with a zero goal it is ``values = -delta``; else the amount is at most
      ``floor(-delta / price / step + 1e-9) * step`` (the first ``1e-9`` lot), and where the
      remainder under ``mo`` makes it ``floor((held - mo / price) / step + 1e-9) * step``, that
      remainder ``(held - amount) * price < mo`` bounds ``held * price - mo`` by the first amount's
      value (a second ``1e-9`` lot, ``eps * mo`` terms). The test adds ``1e-9 * (T + mo) + 4e-9 *
      step * price`` to ``-d0 + goal * drift``, evaluated with a relative error < 16 eps: under
      ``mo``, the sale's value is under ``mo`` as a real number and plan_into's ``value < mo``
      skips it. No sale: no proceeds.
    * a buy needs ``stake = delta * scale >= mo`` with ``0 <= scale <= 1`` (fund_buys' scale and
      shares are ``min(1, .)`` of non-negative or NaN quotients, NaN giving 1), so ``d0 >= delta >=
      mo``; an unfunded buy's stake 0 is below ``mo > 0``. And a stake is at most the spendable cash
      over ``1 + fee`` (times ``1 + (n + 6) eps``): the scale (or share) is the spendable over the
      wanted (or the chosen buys') deltas times ``1 + fee``, which include the coin's, or 1 where
      the spendable covers them. With no sale and a reserve >= 0 (``target_cash >= 0``) the
      spendable is at most the cash, so ``cash * (1 + 1e-9) < min(mo)`` leaves every stake under
      its minimum order.
    """
    total = held + cash
    if not (bounds[0] >= 0.0 and cash >= 0.0 and total < np.inf):
        return False
    per_total = bounds[1]
    drift = bounds[0] + per_total * total  # where every |d0| < mo
    base = FAST_EXIT_MARGIN * total
    cash_limited = bounds[3] >= 0.0 and cash * (1.0 + FAST_EXIT_MARGIN) < bounds[3]
    spread = 0.0  # C: the first deltas' magnitudes
    buys = False  # a first delta reaches its minimum order
    for i in range(amounts.shape[0]):
        mo = min_orders[i]
        d = goal[i] * total - values[i]
        pad = (base + FAST_EXIT_MARGIN * mo) + 4.0 * FAST_EXIT_MARGIN * steps[i] * prices[i]
        if not ((-d + goal[i] * drift) + pad < mo and prices[i] > 0.0 and amounts[i] >= 0.0):
            return False  # a sale may reach its minimum order (or drift is not this state's bound)
        if not d < mo:
            if not cash_limited:
                return False  # a buy may reach its minimum order
            buys = True
        spread += abs(d)
    if not buys:
        return True  # every |d0| < mo: drift bounds the fee iterations, no sale, no buy
    drift = bounds[2] * spread + per_total * total  # the cash-limited case: C as computed
    for i in range(amounts.shape[0]):
        mo = min_orders[i]
        d = goal[i] * total - values[i]
        pad = (base + FAST_EXIT_MARGIN * mo) + 4.0 * FAST_EXIT_MARGIN * steps[i] * prices[i]
        if not (-d + goal[i] * drift) + pad < mo:
            return False
    return True


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
