"""Did rebalancing pay? A portfolio measured against holding the coins it started with.

Everything comes from the portfolio's own filled orders (so it survives restarts: nothing is kept in
memory) and the prices now:

* the **start** is the first allocation: the orders tagged as initial (``initial allocation``,
  ``initial: ...``, coins taken over with ``use_held_coins``) that filled before the first order with
  any other tag (a rebalance);
* **holding** keeps the start's coins and the cash it left, untouched, to today;
* **keeping the stake currency** is the investment, never invested.

Orders are rows with :data:`freqtrade_smartfolio.portfolio.ledger.ORDER_COLUMNS` (``amount`` the coins a
buy added or a sale removed, ``fee`` in the stake currency). Pure: no freqtrade import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio import ledger

INITIAL_TAGS = ("initial allocation", "initial:", "held: taken over")
# bookkeeping "orders" that trade nothing (adapter.cash.COMPACTION_TAG: a trade closed and continued)
BOOKKEEPING_TAGS = ("smartfolio compaction",)


@dataclass(frozen=True)
class CoinVsHold:
    """One coin: the amount held now against the amount holding would have."""

    coin: str
    amount: float  # held now
    hold_amount: float  # what holding the start's coins would have
    price: float

    @property
    def gained(self) -> float:
        """Coins accumulated (+) or lost (-) by rebalancing."""
        return self.amount - self.hold_amount

    @property
    def gained_percent(self) -> float:
        """``gained`` as a percentage of the held amount (nan when holding has none)."""
        return 100.0 * self.gained / self.hold_amount if self.hold_amount > 0 else math.nan

    @property
    def gained_value(self) -> float:
        return self.gained * self.price


@dataclass(frozen=True)
class VsHold:
    """The portfolio now against holding its start and against keeping the stake currency."""

    value: float  # the portfolio now: coins at ``prices`` plus its cash
    hold_value: float  # the start's coins at ``prices`` plus the cash the start left
    investment: float  # keeping the stake currency
    cash: float
    hold_cash: float
    fees: float  # every order's fee, stake currency
    rebalance_fees: float  # the fees of the orders after the start
    rebalance_orders: int
    coins: tuple[CoinVsHold, ...]

    @property
    def vs_hold(self) -> float:
        """Percent above (+) or below (-) holding."""
        return 100.0 * (self.value / self.hold_value - 1.0) if self.hold_value > 0 else math.nan

    @property
    def vs_stake(self) -> float:
        """Percent above (+) or below (-) keeping the stake currency."""
        return 100.0 * (self.value / self.investment - 1.0) if self.investment > 0 else math.nan

    @property
    def hold_vs_stake(self) -> float:
        return 100.0 * (self.hold_value / self.investment - 1.0) if self.investment > 0 else math.nan

    def summary(self, stake: str = "USDT", coins: bool = True) -> str:
        """One line (and one per coin with ``coins``), for logs, messages and ``smartfolio status``."""
        line = (
            f"vs holding the start coins {self.vs_hold:+.2f}% ({self.value:,.2f} vs {self.hold_value:,.2f} "
            f"{stake}), vs keeping {stake} {self.vs_stake:+.2f}%, fees {self.fees:,.2f} {stake} "
            f"({self.rebalance_fees:,.2f} in {self.rebalance_orders} rebalance orders)"
        )
        if not coins:
            return line
        rows = [
            f"  {c.coin:<6} {c.amount:.8g} held vs {c.hold_amount:.8g} holding: {c.gained:+.8g} "
            + (f"({c.gained_percent:+.2f}%)" if math.isfinite(c.gained_percent) else "(new coin)")
            for c in self.coins
        ]
        return "\n".join([line, *rows])


def orders_from_trade_dicts(trades: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Filled orders, :data:`ledger.ORDER_COLUMNS`, from freqtrade's trades as dicts (the REST API's
    ``/trades``, ``Trade.to_json()``, a backtest result): the filled amount (less a fee taken in the
    coin), the fee in the stake currency at the trade's fee rate."""
    rows = []
    for trade in trades:
        coin = str(trade["pair"]).split("/")[0]
        entry_side = "sell" if trade.get("is_short") else "buy"
        for order in trade.get("orders") or []:
            filled = order.get("filled")
            amount = float(order.get("amount") or 0.0) if filled is None else float(filled)
            stamp = order.get("order_filled_timestamp")
            if (
                not stamp
                or amount <= 0
                or order.get("is_open")
                or order.get("ft_order_tag") in BOOKKEEPING_TAGS
            ):
                continue
            price = float(order["safe_price"])
            entry = order["ft_order_side"] == entry_side
            fee_base = float(order.get("ft_fee_base") or 0.0)
            rate = float((trade.get("fee_open") if entry else trade.get("fee_close")) or 0.0)
            rows.append(
                {
                    "time": pd.Timestamp(int(stamp), unit="ms", tz="UTC"),
                    "coin": coin,
                    "side": order["ft_order_side"],
                    "amount": amount - fee_base if entry else amount,
                    "price": price,
                    # a fee taken in the coin is in the amount; else it is paid in the stake currency
                    "fee": fee_base * price if fee_base else amount * price * rate,
                    "tag": order.get("ft_order_tag") or "",
                }
            )
    frame = pd.DataFrame(rows, columns=list(ledger.ORDER_COLUMNS))
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _frame(orders: pd.DataFrame | None) -> pd.DataFrame:
    if orders is None or len(orders) == 0:
        return pd.DataFrame(columns=list(ledger.ORDER_COLUMNS))
    frame = orders.loc[:, list(ledger.ORDER_COLUMNS)].copy()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["tag"] = frame["tag"].fillna("").astype(str)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def start_orders(orders: pd.DataFrame) -> pd.Series:
    """Boolean mask: the orders of the start (initial tags, before the first other order)."""
    frame = _frame(orders)
    initial = frame["tag"].str.startswith(INITIAL_TAGS)
    other = np.flatnonzero(~initial.to_numpy())
    if len(other):
        first_other = frame["time"].iloc[other[0]]
        initial &= frame["time"] < first_other
    return initial


def _flows(frame: pd.DataFrame) -> tuple[pd.Series, float]:
    """Coins per coin and cash change of ``frame``'s orders."""
    buy = frame["side"] == "buy"
    delta = np.where(buy, frame["amount"], -frame["amount"]).astype(float)
    gross = (frame["amount"] * frame["price"]).astype(float)
    cash = float(np.where(buy, -gross, gross).sum() - frame["fee"].astype(float).sum())
    return pd.Series(delta, index=frame.index).groupby(frame["coin"]).sum(), cash


def vs_hold(orders: pd.DataFrame | None, prices: Mapping[str, float], investment: float) -> VsHold | None:
    """The portfolio at ``prices`` (coin -> price) against holding its start; None before the start.

    ``investment`` is the stake currency the portfolio started with (its cash before any order).
    """
    frame = _frame(orders)
    if frame.empty:
        return None
    start = start_orders(frame).to_numpy()
    if not start.any():
        return None
    held, cash_flow = _flows(frame)
    kept, start_flow = _flows(frame[start])
    coins = list(dict.fromkeys([*prices, *held.index]))
    rows = []
    for coin in coins:
        price = float(prices.get(coin, math.nan))
        amount = max(float(held.get(coin, 0.0)), 0.0)
        hold_amount = max(float(kept.get(coin, 0.0)), 0.0)
        if not math.isfinite(price):  # a coin without a price now: its last fill price
            fills = frame[frame["coin"] == coin]
            price = float(fills["price"].iloc[-1]) if len(fills) else 0.0
        rows.append(CoinVsHold(coin, amount, hold_amount, price))
    cash = investment + cash_flow
    hold_cash = investment + start_flow
    later = frame[~start]
    return VsHold(
        value=sum(c.amount * c.price for c in rows) + cash,
        hold_value=sum(c.hold_amount * c.price for c in rows) + hold_cash,
        investment=float(investment),
        cash=cash,
        hold_cash=hold_cash,
        fees=float(frame["fee"].sum()),
        rebalance_fees=float(later["fee"].sum()),
        rebalance_orders=len(later),
        coins=tuple(rows),
    )


def vs_hold_series(orders: pd.DataFrame | None, closes: pd.DataFrame, investment: float) -> pd.DataFrame:
    """Per candle of ``closes`` (date x coin, indexed by the candles' open times): at the candle's close,
    ``value`` and ``hold_value``, ``vs_hold`` and ``vs_stake`` (percent), and per coin ``<COIN>_gained``
    (coins held vs holding, percent of the held amount). NaN before the start's first fill."""
    frame = _frame(orders)
    columns = ["value", "hold_value", "vs_hold", "vs_stake", *[f"{c}_gained" for c in closes.columns]]
    out = pd.DataFrame(np.nan, index=closes.index, columns=columns)
    if frame.empty or len(closes) < 2:
        return out
    start = start_orders(frame).to_numpy()
    if not start.any():
        return out
    # value each candle at its close: an order filled during the candle counts
    step = pd.Series(closes.index).diff().min()
    at_close = closes.set_axis(closes.index + step)
    book = ledger.rebuild(frame, at_close, investment)
    hold = ledger.rebuild(frame[start], at_close, investment)
    began = np.asarray(at_close.index >= frame["time"].iloc[0])
    out["value"] = book["value"].to_numpy()
    out["hold_value"] = hold["value"].to_numpy()
    out["vs_hold"] = 100.0 * (out["value"] / out["hold_value"] - 1.0)
    out["vs_stake"] = 100.0 * (out["value"] / investment - 1.0)
    for coin in closes.columns:
        held = hold[coin].where(hold[coin] > 0).to_numpy()
        out[f"{coin}_gained"] = 100.0 * (book[coin].to_numpy() / held - 1.0)
    out.loc[~began, :] = np.nan
    return out
