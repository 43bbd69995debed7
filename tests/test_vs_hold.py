"""Did rebalancing pay? ``portfolio.vs_hold`` on real Binance closes: a 50/50 BTC/ETH portfolio bought on
2024-01-01 and rebalanced back to 50/50 at each month's first close, checked against the same sums done
by hand, and the series' first value, NaN before the start, and the API/``to_json`` order layout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio.vs_hold import (
    orders_from_trade_dicts,
    start_orders,
    vs_hold,
    vs_hold_series,
)

FEE = 0.001
INVESTMENT = 10_000.0


@pytest.fixture(scope="module")
def closes(require_data) -> pd.DataFrame:
    datadir = require_data(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"])
    return load_closes(["BTC", "ETH"], "1h", start="2024-01-01", end="2024-04-01", datadir=datadir)


def _order(time, coin, side, amount, price, tag):
    return {"time": time, "coin": coin, "side": side, "amount": amount, "price": price,
            "fee": amount * price * FEE, "tag": tag}  # fmt: skip


@pytest.fixture(scope="module")
def orders(closes) -> pd.DataFrame:
    """Buy 50/50 at the second candle, rebalance to 50/50 at each month's first candle (orders filled
    at the candle's open time + 5 s, at the previous close, as a live bot would)."""
    rows = []
    amounts = {"BTC": 0.0, "ETH": 0.0}
    cash = INVESTMENT
    when = [closes.index[1], *[closes.index[closes.index.month == m][0] for m in (2, 3)]]
    for i, at in enumerate(when):
        prices = closes.shift(1).loc[at]
        fill = at + pd.Timedelta(seconds=5)
        total = cash + sum(amounts[c] * prices[c] for c in amounts)
        tag = "initial allocation" if i == 0 else "schedule: every 1M"
        for coin in ("BTC", "ETH"):  # sales first
            change = total / 2 / prices[coin] - amounts[coin]
            if change < 0:
                rows.append(_order(fill, coin, "sell", -change, prices[coin], f"{tag} | sell {coin}"))
                amounts[coin] += change
                cash += -change * prices[coin] * (1 - FEE)
        for coin in ("BTC", "ETH"):
            change = total / 2 * (1 - 2 * FEE) / prices[coin] - amounts[coin]
            if change > 0:
                buy_tag = tag if i == 0 else f"{tag} | buy {coin}"
                rows.append(_order(fill, coin, "buy", change, prices[coin], buy_tag))
                amounts[coin] += change
                cash -= change * prices[coin] * (1 + FEE)
    return pd.DataFrame(rows)


def test_vs_hold_against_the_sums_by_hand(orders, closes):
    now = closes.iloc[-1]
    result = vs_hold(orders, now.to_dict(), INVESTMENT)
    assert result is not None
    start = orders[orders["tag"] == "initial allocation"]
    assert start_orders(orders).sum() == len(start) == 2
    signed = np.where(orders["side"] == "buy", orders["amount"], -orders["amount"])
    for coin in ("BTC", "ETH"):
        row = next(c for c in result.coins if c.coin == coin)
        assert row.amount == pytest.approx(signed[orders["coin"] == coin].sum(), rel=1e-12)
        assert row.hold_amount == pytest.approx(start.loc[start["coin"] == coin, "amount"].sum(), rel=1e-12)
        assert row.gained_percent == pytest.approx(100 * (row.amount / row.hold_amount - 1))
    flows = np.where(orders["side"] == "buy", -1, 1) * orders["amount"] * orders["price"] - orders["fee"]
    cash = INVESTMENT + flows.sum()
    value = cash + sum(c.amount * now[c.coin] for c in result.coins)
    hold_cash = INVESTMENT - (start["amount"] * start["price"] + start["fee"]).sum()
    hold = hold_cash + sum(c.hold_amount * now[c.coin] for c in result.coins)
    assert result.value == pytest.approx(value, rel=1e-12)
    assert result.hold_value == pytest.approx(hold, rel=1e-12)
    assert result.vs_hold == pytest.approx(100 * (value / hold - 1), rel=1e-9)
    assert result.vs_stake == pytest.approx(100 * (value / INVESTMENT - 1), rel=1e-9)
    assert result.fees == pytest.approx(orders["fee"].sum())
    assert result.rebalance_orders == len(orders) - 2
    assert result.rebalance_fees == pytest.approx(orders["fee"].iloc[2:].sum())
    text = result.summary()
    assert "vs holding the start coins" in text and "BTC" in text and "ETH" in text


def test_series_is_nan_before_the_start_and_ends_at_vs_hold(orders, closes):
    series = vs_hold_series(orders, closes, INVESTMENT)
    first_fill = orders["time"].min()
    # the candle the first fill falls in is the first with a value (valued at its close)
    before = series.index + pd.Timedelta(hours=1) < first_fill
    assert series.loc[before].isna().all().all() and before.sum() == 1
    assert series.loc[~before, "vs_hold"].notna().all()
    last = vs_hold(orders, closes.iloc[-1].to_dict(), INVESTMENT)
    assert series["vs_hold"].iloc[-1] == pytest.approx(last.vs_hold, rel=1e-9)
    assert series["BTC_gained"].iloc[-1] == pytest.approx(last.coins[0].gained_percent, rel=1e-9)
    # until the first rebalance the portfolio is its start: exactly 0
    first_rebalance = orders.loc[~start_orders(orders), "time"].min()
    quiet = series.loc[(~before) & (series.index + pd.Timedelta(hours=1) < first_rebalance), "vs_hold"]
    assert len(quiet) > 100 and np.allclose(quiet, 0.0, atol=1e-12)


def test_nothing_before_the_first_allocation(closes):
    assert vs_hold(None, {"BTC": 1.0}, INVESTMENT) is None
    empty = pd.DataFrame(columns=["time", "coin", "side", "amount", "price", "fee", "tag"])
    assert vs_hold(empty, {"BTC": 1.0}, INVESTMENT) is None
    assert vs_hold_series(empty, closes, INVESTMENT)["vs_hold"].isna().all()


def test_orders_from_freqtrades_trade_dicts(orders):
    """The REST API's /status and /trades (and Trade.to_json()) layout: filled amount, fee rate per
    side, a fee taken in the coin, open and unfilled orders left out."""
    trades = []
    for coin in ("BTC", "ETH"):
        mine = orders[orders["coin"] == coin]
        trades.append(
            {
                "pair": f"{coin}/USDT",
                "is_short": False,
                "fee_open": FEE,
                "fee_close": FEE,
                "orders": [
                    {
                        "ft_order_side": o.side,
                        "amount": o.amount * 1.5,  # the order's amount; `filled` is what counts
                        "filled": o.amount,
                        "safe_price": o.price,
                        "order_filled_timestamp": int(o.time.timestamp() * 1000),
                        "ft_order_tag": o.tag,
                        "is_open": False,
                    }
                    for o in mine.itertuples()
                ]
                + [
                    {"ft_order_side": "buy", "amount": 1, "filled": 0, "safe_price": 1, "is_open": True,
                     "order_filled_timestamp": None, "ft_order_tag": "x"},
                ],
            }
        )  # fmt: skip
    back = orders_from_trade_dicts(trades)
    expected = orders.sort_values("time", kind="stable").reset_index(drop=True)
    assert len(back) == len(orders)
    for column in ("amount", "price", "fee"):
        assert np.allclose(back[column].sort_values(), expected[column].sort_values(), rtol=1e-12)
    # a fee taken in the coin: the amount is net of it, no stake fee on top (the cash is unchanged)
    trades[0]["orders"][0]["ft_fee_base"] = 0.0001
    coin_fee = orders_from_trade_dicts(trades).iloc[0]
    assert math.isclose(coin_fee["fee"], 0.0001 * coin_fee["price"])
