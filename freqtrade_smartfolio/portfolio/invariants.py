"""The invariants a SmartPortfolio run must keep on any real window, checked from outside: from its
orders (freqtrade's export or the engine's fills) and the candles, never from the strategy's state.

- cash never below zero, after every candle's orders;
- no buy below the strategy's minimum order, no order below the exchange's (the final force exit aside);
- weights back in band after each completed rebalance (valued at the fill candle's open, the
  price the orders filled at; a coin under its band there is excused when it is fine at that candle's
  close, where the strategy plans the last step for buys that waited for the sales' cash, or when that
  candle is the window's last), against the targets for the coins that trade then;
- no candle idle while a coin that trades is out of band by more than an order can fix.

The cash weight is not checked: it holds what several coins' sub-minimum deficits add up to.

A gap no order can close is allowed: an excess under one minimum order, or a deficit under one, or
one that nothing could fund (the cash at its target, which the plan keeps, and every other coin's
excess under a minimum order, as happens with many coins in a small portfolio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets

FORCE_EXIT = "force_exit"


@dataclass(frozen=True)
class Rules:
    targets: Targets
    threshold: float | None  # fraction; None for a schedule only
    relative: bool
    min_order: float  # the strategy's minimum order (min_trade or what freqtrade accepts, with its reserves)
    timeframe: pd.Timedelta
    start_cash: float
    exchange_min: float = 5.0  # the exchange's own minimum (min notional): no order may be under it


def replay(orders: pd.DataFrame, coins: list[str], start_cash: float) -> pd.DataFrame:
    """Holdings and cash after each fill time (orders of one time applied together)."""
    rows = []
    amounts = dict.fromkeys(coins, 0.0)
    cash = start_cash
    for when, group in orders.sort_values("time", kind="stable").groupby("time", sort=True):
        for order in group.itertuples():
            sign = 1.0 if order.side == "buy" else -1.0
            amounts[order.coin] += sign * order.amount
            cash -= sign * order.amount * order.price + order.fee
        rows.append({"time": when, **amounts, "cash": cash})
    return pd.DataFrame(rows).set_index("time") if rows else pd.DataFrame(columns=[*coins, "cash"])


def _widths(goal: np.ndarray, rules: Rules) -> np.ndarray:
    assert rules.threshold is not None
    if rules.relative:
        return np.where(goal > 0, goal * rules.threshold, rules.threshold)
    return np.full(len(goal), rules.threshold)


def check(orders: pd.DataFrame, opens: pd.DataFrame, closes: pd.DataFrame, rules: Rules) -> list[str]:
    """Every broken invariant, as a line (empty when the run is sound). ``opens``/``closes``: date x
    coin on the window's candles, NaN where a coin has no candle."""
    problems: list[str] = []
    coins = list(rules.targets.coins)
    traded = orders[orders["tag"] != FORCE_EXIT]
    book = replay(traded, coins, rules.start_cash)
    if len(book) and (book["cash"] < 0).any():
        worst = book["cash"].idxmin()
        problems.append(f"cash below zero: {book['cash'].min():.6g} after the orders of {worst}")
    values = traded["amount"] * traded["price"]
    # buys are fitted to the strategy's minimum at their fill price; a sale is sized at the plan's price
    # (the close) and fills at the next open, so it only has to meet the exchange's minimum
    floor = np.where(traded["side"] == "buy", rules.min_order, rules.exchange_min) * (1 - 1e-9)
    small = traded[values < floor]
    for order in small.itertuples():
        problems.append(
            f"order below the minimum: {order.side} {order.amount:.8g} {order.coin} "
            f"at {order.price:.8g} = {order.amount * order.price:.4f} ({order.time})"
        )
    if rules.threshold is None or not len(book):
        return problems
    # Holdings at each candle's close (after the orders filled at its open).
    index = closes.index
    held = book[coins].reindex(index, method="ffill").fillna(0.0)
    cash = book["cash"].reindex(index, method="ffill").fillna(rules.start_cash)
    last_close = closes.ffill().fillna(0.0)
    fills = sorted(set(traded["time"]))
    groups: list[list[pd.Timestamp]] = []
    for when in fills:
        if groups and when - groups[-1][-1] <= rules.timeframe:
            groups[-1].append(when)
        else:
            groups.append([when])
    # after each completed rebalance: in band at the fill candle's open. A coin under its band there is
    # excused when it is fine at that candle's close, where the strategy plans the rebalance's last step
    # (a completion, for buys that waited for the sales' cash) and found nothing an order could fix (the
    # group's last fill: nothing filled at the next candle), or when that candle is the window's last (the
    # completion would come at the next one). A coin over its band is never excused: a sale waits for
    # nothing.
    last_open = opens.ffill().fillna(0.0)
    for group in groups[1:]:
        when = group[-1]
        if when not in index:
            continue
        amounts, left, trades = held.loc[when].to_numpy(), float(cash.loc[when]), closes.loc[when].notna()
        at_open = last_open.loc[when].to_numpy()
        line = _out_of_band(amounts, at_open, left, trades.to_numpy(), rules)
        if line and (
            _out_of_band(amounts, at_open, left, trades.to_numpy(), rules, over_only=True)
            or (
                when != index[-1]
                and _out_of_band(amounts, last_close.loc[when].to_numpy(), left, trades.to_numpy(), rules)
            )
        ):
            problems.append(f"after the rebalance filled at {when}: {line}")
    # no idle candle: out of band at a close -> orders at the next candle (when the coin trades there)
    fill_set = set(fills)
    dates = list(index)
    for k in range(len(dates) - 1):
        at, nxt = dates[k], dates[k + 1]
        if nxt - at != rules.timeframe or at < fills[0]:
            continue
        tradable = closes.loc[at].notna().to_numpy() & opens.loc[nxt].notna().to_numpy()
        line = _out_of_band(
            held.loc[at].to_numpy(),
            last_close.loc[at].to_numpy(),
            float(cash.loc[at]),
            tradable,
            rules,
            slack=2.0,
        )
        if line and nxt not in fill_set and at not in fill_set:
            problems.append(f"idle at the candle after {at}: {line}")
    return problems


def _out_of_band(
    amounts: np.ndarray,
    prices: np.ndarray,
    cash: float,
    tradable: np.ndarray,
    rules: Rules,
    slack: float = 1.0,
    over_only: bool = False,
) -> str:
    """Coins that trade, out of band, by a gap an order could close: an overweight coin whose excess
    is a minimum order (it can be sold into the cash), an underweight one whose deficit is a minimum
    order and that a minimum order's worth of funds could pay for (cash above its target, or the
    excess of coins that can be sold). ``over_only``: the overweight coins only."""
    values = amounts * prices
    total = float(values.sum()) + cash
    if total <= 0 or not tradable.any():
        return ""
    steer = tradable_targets(rules.targets, tradable, values, total)
    goal = np.append(steer.array, steer.cash)
    weights = np.append(values, cash) / total
    width = _widths(goal, rules)
    # a minimum order, with room for the lot, the fees and the move from the plan's close to the fill's open
    order = slack * 1.2 * rules.min_order
    gap = (weights - goal) * total  # + over weight, - under weight, in stake currency
    # 1e-4: the strategy weighs with freqtrade's view of the cash, a few cents off the orders' cash
    outside = np.abs(weights - goal) - width > 1e-4
    coin = np.append(tradable, False)  # the cash is not judged, only used as a source of funds
    sellable = coin & (gap >= order)
    funds = max(gap[-1], 0.0) + float(gap[sellable].sum())  # the plan keeps the cash at its target
    fixable = sellable if over_only else sellable | (coin & (-gap >= order) & (funds >= order))
    bad = np.flatnonzero(outside & fixable)
    if not len(bad):
        return ""
    names = [*rules.targets.coins, "cash"]
    return ", ".join(f"{names[i]} {weights[i]:.2%} vs {goal[i]:.2%} ± {width[i]:.2%}" for i in bad)
