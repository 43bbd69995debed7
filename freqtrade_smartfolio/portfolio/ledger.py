"""Rebuild holdings, cash and value from a list of filled orders, independently of freqtrade."""

from __future__ import annotations

import numpy as np
import pandas as pd

ORDER_COLUMNS = ("time", "coin", "side", "amount", "price", "fee", "tag")


def rebuild(orders: pd.DataFrame, closes: pd.DataFrame, start_cash: float) -> pd.DataFrame:
    """Holdings and value per candle from filled orders.

    ``orders`` has the columns of ORDER_COLUMNS (``fee`` in stake currency, ``time`` = fill time);
    ``closes`` is a date x coin matrix. Returns one row per date of ``closes``: each coin's amount
    (after the orders filled at or before that date), ``cash`` and ``value`` at that date's close.
    """
    coins = list(closes.columns)
    amounts = pd.DataFrame(0.0, index=closes.index, columns=coins)
    cash = pd.Series(0.0, index=closes.index)
    signed = orders.assign(
        delta=np.where(orders["side"] == "buy", orders["amount"], -orders["amount"]),
        flow=np.where(
            orders["side"] == "buy",
            -orders["amount"] * orders["price"] - orders["fee"],
            orders["amount"] * orders["price"] - orders["fee"],
        ),
    )
    position = closes.index.searchsorted(pd.DatetimeIndex(signed["time"]), side="left")
    for coin in coins:
        mine = signed["coin"] == coin
        steps = np.zeros(len(closes.index) + 1)
        np.add.at(steps, position[mine.to_numpy()], signed.loc[mine, "delta"].to_numpy())
        amounts[coin] = np.cumsum(steps[:-1])
    flows = np.zeros(len(closes.index) + 1)
    np.add.at(flows, position, signed["flow"].to_numpy())
    cash[:] = start_cash + np.cumsum(flows[:-1])
    frame = amounts.copy()
    frame["cash"] = cash
    frame["value"] = (amounts * closes).sum(axis=1) + cash
    return frame


def final_cash(orders: pd.DataFrame, start_cash: float) -> float:
    """Cash after every order, which is the final value once every position has been sold."""
    buys = orders["side"] == "buy"
    gross = orders["amount"] * orders["price"]
    return float(start_cash - gross[buys].sum() + gross[~buys].sum() - orders["fee"].sum())


def weights_after_fills(orders: pd.DataFrame, coins: list[str], start_cash: float) -> pd.DataFrame:
    """For each fill time: each coin's and the cash's weight right after that time's orders filled,
    valued at the fill prices (the last known price for coins not traded then)."""
    amounts = dict.fromkeys(coins, 0.0)
    prices = dict.fromkeys(coins, 0.0)
    cash = start_cash
    rows = []
    for when, group in orders.sort_values("time", kind="stable").groupby("time", sort=True):
        for order in group.itertuples():
            prices[order.coin] = order.price
            if order.side == "buy":
                amounts[order.coin] += order.amount
                cash -= order.amount * order.price + order.fee
            else:
                amounts[order.coin] -= order.amount
                cash += order.amount * order.price - order.fee
        values = {c: amounts[c] * prices[c] for c in coins}
        total = sum(values.values()) + cash
        rows.append({"time": when, **{c: values[c] / total for c in coins}, "cash": cash / total})
    return pd.DataFrame(rows).set_index("time")
