"""The backtest summary states one window and computes every figure on it, for the strategy and for
buy-and-hold, also when a coin has no candles for part of the window (listed inside it, or its data
ends early). Runs are built from real candles and hand-made orders, without freqtrade."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.backtest import (
    INITIAL_TAG,
    BacktestRun,
    format_report,
    summarize_run,
    window_prices,
)
from freqtrade_smartfolio.marketdata import load_candles, load_closes
from freqtrade_smartfolio.portfolio import ledger, stats

FEE = 0.001
INVESTMENT = 10_000.0
HOUR = pd.Timedelta(hours=1)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def open_at(datadir: Path, coin: str, when: pd.Timestamp) -> float:
    candles = load_candles(coin, "1h", datadir).set_index("date")
    return float(candles.loc[when, "open"])


def order(when, coin, side, amount, price, tag):
    return {
        "time": when,
        "coin": coin,
        "side": side,
        "amount": amount,
        "price": price,
        "value": amount * price,
        "fee": amount * price * FEE,
        "tag": tag,
    }


def make_run(rows: list[dict], start: pd.Timestamp, end: pd.Timestamp) -> BacktestRun:
    orders = pd.DataFrame(rows).sort_values("time", kind="stable").reset_index(drop=True)
    final = ledger.final_cash(orders, INVESTMENT)
    result = {
        "starting_balance": INVESTMENT,
        "final_balance": final,
        "backtest_start": start.tz_localize(None).isoformat(),
        "backtest_end": end.tz_localize(None).isoformat(),
        "trades": [{"fee_close": FEE}],
    }
    return BacktestRun(result, orders, Path("unused.zip"), "", 0.0)


def assert_one_window(report, start, end):
    hourly = pd.date_range(start, end, freq="1h")  # every candle of the window, then the final sale
    for curve, figures in ((report.equity, report.strategy_stats), (report.hold_equity, report.hold_stats)):
        assert curve.index.equals(hourly)
        assert curve.iloc[0] == pytest.approx(INVESTMENT)
        assert np.isfinite(curve.to_numpy()).all()
        years = (end - start) / pd.Timedelta(days=365)
        growth = curve.iloc[-1] / INVESTMENT
        assert figures["total_return"] == pytest.approx(growth - 1, rel=1e-12)
        assert figures["cagr"] == pytest.approx(growth ** (1 / years) - 1, rel=1e-12)
        assert figures["volatility"] == pytest.approx(stats.annual_volatility(curve))
        assert figures["max_drawdown"] == pytest.approx(stats.max_drawdown(curve))
    text = format_report(report)
    period = re.search(r"Period (\S+) -> (\S+) \(([\d,]+) days\)", text)
    assert period, text
    assert (utc(period.group(1)), utc(period.group(2))) == (start, end)
    assert int(period.group(3).replace(",", "")) == round((end - start) / pd.Timedelta(days=1))


def test_a_coin_listed_inside_the_window_keeps_the_whole_window(require_data):
    # ETHFI's first 1h candle is 2024-03-18 12:00: the portfolio waits in cash until then. The old
    # summary inner-joined the closes, so its curves (and CAGR) started at the listing while it
    # printed the backtest's period.
    datadir = require_data(["BTC_USDT-1h.feather", "ETHFI_USDT-1h.feather"])
    start, end = utc("2024-02-01"), utc("2024-06-01")
    listed = load_candles("ETHFI", "1h", datadir)["date"].iloc[0]
    assert start < listed < end
    buy = listed + HOUR
    btc, ethfi = open_at(datadir, "BTC", buy), open_at(datadir, "ETHFI", buy)
    btc_end, ethfi_end = open_at(datadir, "BTC", end), open_at(datadir, "ETHFI", end)
    btc_amount, ethfi_amount = 5000 / btc / (1 + FEE), 4000 / ethfi / (1 + FEE)
    run = make_run(
        [
            order(buy, "BTC", "buy", btc_amount, btc, INITIAL_TAG),
            order(buy, "ETHFI", "buy", ethfi_amount, ethfi, INITIAL_TAG),
            order(end, "BTC", "sell", btc_amount, btc_end, "force_exit"),
            order(end, "ETHFI", "sell", ethfi_amount, ethfi_end, "force_exit"),
        ],
        start,
        end,
    )
    report = summarize_run(run, datadir, "1h")
    assert_one_window(report, start, end)
    # In cash (worth the investment) until the fills.
    assert (report.equity[report.equity.index < buy] == INVESTMENT).all()
    assert report.final_value == pytest.approx(run.result["final_balance"], rel=1e-12)
    # Same orders, no rebalance: buy-and-hold is the run itself.
    assert report.hold_equity.to_numpy() == pytest.approx(report.equity.to_numpy(), rel=1e-12)
    assert any(note.startswith("ETHFI: no candles before 2024-03-18 12:00") for note in report.coverage)
    assert "ETHFI: no candles before 2024-03-18 12:00" in format_report(report)


def test_a_coin_whose_candles_end_is_valued_at_its_last_close_to_the_end(require_data):
    # LINK's 1h data ends 2024-09-07 01:00: the old summary dropped every candle after it (a month of
    # the window), and valued buy-and-hold's LINK at 0 because the run had sold it before the end.
    datadir = require_data(["BTC_USDT-1h.feather", "LINK_USDT-1h.feather"])
    start, end = utc("2024-08-01"), utc("2024-10-01")
    buy, sale = start + HOUR, utc("2024-08-20 10:00")
    btc, link = open_at(datadir, "BTC", buy), open_at(datadir, "LINK", buy)
    btc_amount, link_amount = 5000 / btc / (1 + FEE), 4000 / link / (1 + FEE)
    link_sale, btc_sale, btc_end = (
        open_at(datadir, "LINK", sale),
        open_at(datadir, "BTC", sale + HOUR),
        open_at(datadir, "BTC", end),
    )
    more_btc = 0.5 * link_amount * link_sale / btc_sale
    run = make_run(
        [
            order(buy, "BTC", "buy", btc_amount, btc, INITIAL_TAG),
            order(buy, "LINK", "buy", link_amount, link, INITIAL_TAG),
            order(sale, "LINK", "sell", link_amount, link_sale, "threshold: LINK | sell LINK"),
            order(sale + HOUR, "BTC", "buy", more_btc, btc_sale, "threshold: LINK | buy BTC"),
            order(end, "BTC", "sell", btc_amount + more_btc, btc_end, "force_exit"),
        ],
        start,
        end,
    )
    report = summarize_run(run, datadir, "1h")
    assert_one_window(report, start, end)
    last_link = load_closes(["LINK"], "1h", end=end, datadir=datadir)["LINK"]
    cash_left = INVESTMENT - (btc_amount * btc + link_amount * link) * (1 + FEE)
    hold_final = cash_left + (btc_amount * btc_end + link_amount * float(last_link.iloc[-1])) * (1 - FEE)
    assert report.hold_stats["final_value"] == pytest.approx(hold_final, rel=1e-12)
    # After LINK's data ends, buy-and-hold moves with BTC only.
    tail = report.hold_equity[
        (report.hold_equity.index > last_link.index[-1]) & (report.hold_equity.index < end)
    ]
    btc_closes = load_closes(["BTC"], "1h", start=tail.index[0], end=end, datadir=datadir)["BTC"]
    assert np.diff(tail.to_numpy()) == pytest.approx(btc_amount * np.diff(btc_closes.to_numpy()), rel=1e-9)
    assert any(note.startswith("LINK: no candles after 2024-09-07") for note in report.coverage)


def test_a_force_exit_before_the_end_is_an_ordinary_sale(require_data):
    # freqtrade force-exits a coin whose candles end; the run holds the cash from then on.
    datadir = require_data(["BTC_USDT-1h.feather", "LINK_USDT-1h.feather"])
    start, end = utc("2024-08-01"), utc("2024-10-01")
    buy, stop = start + HOUR, utc("2024-09-07 00:00")
    btc, link = open_at(datadir, "BTC", buy), open_at(datadir, "LINK", buy)
    btc_amount, link_amount = 5000 / btc / (1 + FEE), 4000 / link / (1 + FEE)
    link_exit = open_at(datadir, "LINK", stop)
    run = make_run(
        [
            order(buy, "BTC", "buy", btc_amount, btc, INITIAL_TAG),
            order(buy, "LINK", "buy", link_amount, link, INITIAL_TAG),
            order(stop, "LINK", "sell", link_amount, link_exit, "force_exit"),
            order(end, "BTC", "sell", btc_amount, open_at(datadir, "BTC", end), "force_exit"),
        ],
        start,
        end,
    )
    report = summarize_run(run, datadir, "1h")
    assert_one_window(report, start, end)
    book = report.equity[(report.equity.index >= stop) & (report.equity.index < end)]
    btc_closes = load_closes(["BTC"], "1h", start=stop, end=end, datadir=datadir)["BTC"]
    cash = book.to_numpy() - btc_amount * btc_closes.to_numpy()
    assert cash == pytest.approx(np.full(len(cash), cash[0]), rel=1e-12)  # LINK sold: its cash is held
    assert report.final_value == pytest.approx(run.result["final_balance"], rel=1e-12)


def test_window_prices_forward_fill_and_zero_before_the_first_candle():
    t = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    closes = pd.DataFrame(
        {"OLD": [10.0, 11.0, np.nan, 13.0, np.nan, np.nan], "NEW": [np.nan, np.nan, 2.0, 3.0, 4.0, 5.0]},
        index=t,
    ).drop(index=t[4])  # a candle no coin has (an exchange outage)
    prices = window_prices(closes, t[1], t[5] + HOUR, HOUR)
    assert prices.index.equals(t[1:])
    assert prices["OLD"].tolist() == [11.0, 11.0, 13.0, 13.0, 13.0]
    assert prices["NEW"].tolist() == [0.0, 2.0, 3.0, 3.0, 5.0]
