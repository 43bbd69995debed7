"""The planner inside the kernel: :func:`plan.plan_rebalance`'s orders without the plan objects.

plan.py stays the reference (the strategy uses it); tests/test_engine.py checks this copy against it
on random states (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from freqtrade_smartfolio.portfolio.plan import FEE_ITERATIONS, fund_buys


def _floor_to_step(amount: float, step: float) -> float:
    """plan._floor_to_step."""
    if step <= 0:
        return amount
    return math.floor(amount / step + 1e-9) * step


def fast_plan(
    amounts: np.ndarray,
    prices: np.ndarray,
    cash: float,
    goal: np.ndarray,
    target_cash: float,
    min_orders: Sequence[float],
    steps: Sequence[float],
    fee: float,
    buys_only: bool = False,
    tradable: np.ndarray | None = None,
) -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """The orders of :func:`plan.plan_rebalance`, bit for bit, without building the plan objects.

    ``tradable`` (optional mask): coins that do not trade are neither sold nor bought (their deltas
    are 0 inside the fee iteration, as plan.target_deltas). Returns ``(sells, buys)`` as
    ``(coin index, amount, value)``; tests/test_engine.py checks it against plan.py on random states
    (hypothesis).
    """
    values = amounts * prices
    total = float(values.sum()) + cash  # PortfolioState.total
    deltas = goal * total - values
    still = None if tradable is None or tradable.all() else ~np.asarray(tradable, dtype=bool)
    if still is not None:
        deltas[still] = 0.0
    for _ in range(FEE_ITERATIONS):
        deltas = goal * (total - fee * float(np.abs(deltas).sum())) - values
        if still is not None:
            deltas[still] = 0.0
    traded_estimate = float(np.abs(deltas).sum())
    d = deltas.tolist()
    held_all = amounts.tolist()
    p_all = prices.tolist()
    g_all = goal.tolist()
    sells: list[tuple[int, float, float]] = []
    for i, delta in enumerate(d):
        held = held_all[i]
        if buys_only or delta >= 0 or held <= 0:  # a completion only buys (plan.py)
            continue
        price, min_order, step = p_all[i], min_orders[i], steps[i]
        amount = held if g_all[i] == 0 else min(held, _floor_to_step(-delta / price, step))
        remainder = (held - amount) * price
        if 0 < remainder < min_order:
            amount = _floor_to_step(held - min_order / price, step)
            if amount <= 0:
                continue
        value = amount * price
        if value < min_order or amount <= 0:
            continue
        sells.append((i, amount, value))
    proceeds = sum(v for _, _, v in sells) * (1 - fee)
    cash_reserve = target_cash * max(total - fee * traded_estimate, 0.0)
    spendable = max(cash + proceeds - cash_reserve, 0.0)
    wanted = [(i, delta) for i, delta in enumerate(d) if delta > 0]
    scale, funded = fund_buys(wanted, min_orders, spendable, fee)
    spendable_total = cash + proceeds
    buys: list[tuple[int, float, float]] = []
    for i, want in wanted:
        stake = want * scale if funded is None or i in funded else 0.0
        if stake < min_orders[i]:
            continue
        stake = min(stake, spendable_total / (1 + fee))
        spendable_total -= stake * (1 + fee)
        buys.append((i, stake / p_all[i], stake))
    return sells, buys
