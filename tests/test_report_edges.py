"""The HTML report at the edges of real markets: a coin listed inside the window (ENA, 2024-04-02)
does not cut the charts (prices joined outer), and the report marks where a coin starts trading and
where its candles end, with a line saying so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.backtest import run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.report.history import MarketEvent, PortfolioHistory, trades_frame
from freqtrade_smartfolio.report.page import overview_figure, render_html, weights_figure
from freqtrade_smartfolio.report.sources import from_backtest_result, from_backtest_run, market_events

HOUR = pd.Timedelta(hours=1)


def test_market_events_find_listings_and_ends():
    index = pd.date_range("2024-03-01", periods=10, freq="h", tz="UTC")
    known = pd.DataFrame(
        {
            "BTC": np.arange(10.0),
            "ENA": [np.nan] * 4 + [1.0] * 6,  # listed at 04:00
            "SOL": [2.0] * 7 + [np.nan] * 3,  # last candle 06:00
        },
        index=index,
    )
    events = market_events(known, index[0], index[-1] + HOUR, HOUR)
    assert [(e.coin, e.kind, e.time) for e in events] == [
        ("ENA", "listing", index[4]),
        ("SOL", "end", index[7]),
    ]
    assert events[0].text == "ENA starts trading at 2024-03-01 04:00 UTC (listing): no candle before"
    assert events[1].text.startswith("SOL's candles end after 2024-03-01 06:00 UTC")
    assert market_events(known[["BTC"]], index[0], index[-1] + HOUR, HOUR) == ()


def test_the_charts_mark_market_events():
    index = pd.date_range("2024-03-01", periods=10, freq="h", tz="UTC")
    weights = pd.DataFrame({"BTC": 0.5, "ENA": 0.0, "cash": 0.5}, index=index)
    event = MarketEvent(index[4], "ENA", "listing", "ENA starts trading at 2024-03-01 04:00 UTC (listing)")
    history = PortfolioHistory(
        equity=pd.Series(100.0, index=index),
        weights=weights,
        targets={"BTC": 0.5, "ENA": 0.5},
        trades=trades_frame(
            [
                {
                    "time": index[0],
                    "coin": "BTC",
                    "side": "buy",
                    "amount": 1.0,
                    "price": 50.0,
                    "fee": 0.05,
                    "reason": "initial allocation",
                    "kind": "initial",
                },
            ]
        ),
        market_events=(event,),
    )
    x = index[4].value / 1e6
    for fig in (overview_figure(history), weights_figure(history)):
        lines = [s for s in fig.layout.shapes if s.type == "line" and s.x0 == x]
        assert lines and all(s.line.dash == "dot" for s in lines)
        labels = [a for a in fig.layout.annotations if a.text == "ENA listed"]
        assert len(labels) == 1 and labels[0].x == x


@pytest.mark.slow
def test_a_listing_inside_the_window_keeps_the_charts_whole(require_data, tmp_path: Path):
    datadir = require_data(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather", "ENA_USDT-1h.feather"])
    portfolio = {"BTC": 40, "ETH": 30, "ENA": 30}
    with OfflineExchange(datadir) as exchange:
        config = build_config(
            {
                "portfolio": portfolio,
                "investment": 1000,
                "rebalance": {"mode": "proportional", "threshold": 5},
            },
            timeframe="1h",
            exchange_url=exchange.url,
        )
        run = run_backtest(config, tmp_path, datadir, "20240301-20240501")
    history = from_backtest_run(run, datadir)
    start, end = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-05-01", tz="UTC")
    # the whole window, not from ENA's listing on (the inner join cut it there)
    assert history.weights.index[0] == start and history.weights.index[-1] == end - HOUR
    assert len(history.weights) == (end - start) / HOUR
    assert history.weights.loc[:"2024-04-02 07:00", "ENA"].eq(0).all()
    before = history.weights.loc["2024-03-02":"2024-04-02 07:00"]
    assert (before["BTC"] > 0.45).all() and (before["ETH"] > 0.33).all()  # invested pro rata meanwhile
    listed = pd.Timestamp("2024-04-02 08:00", tz="UTC")
    assert history.market_events == (
        MarketEvent(
            listed, "ENA", "listing", "ENA starts trading at 2024-04-02 08:00 UTC (listing): no candle before"
        ),
    )
    assert history.facts["Markets"] == history.market_events[0].text
    assert history.weights.loc["2024-04-03":, "ENA"].gt(0.2).all()  # brought in at its listing
    page = render_html(history)
    assert "ENA listed" in page and "ENA starts trading at 2024-04-02 08:00 UTC (listing)" in page
    # the same from the result zip on disk
    again = from_backtest_result(run.result_path, datadir)
    assert again.market_events == history.market_events
    assert len(again.weights) == len(history.weights)
