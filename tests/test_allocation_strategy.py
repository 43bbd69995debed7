"""Smart Allocation inside the strategy: weights computed from the look-back before each candle (no
look-ahead), recomputed on the refresh period, and the portfolio rebalanced to them, in a real
freqtrade backtest."""

from __future__ import annotations

import pandas as pd
import pytest

from freqtrade_smartfolio.backtest import INITIAL_TAG, run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio.allocation import allocate_from_prices

pytestmark = pytest.mark.slow

COINS = ["BTC", "ETH", "SOL", "XRP"]


def test_backtest_allocates_from_the_lookback_and_refreshes(require_data, tmp_path):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in COINS])
    section = {
        "portfolio": COINS,
        "investment": 10_000,
        "rebalance": {"mode": "proportional", "threshold": 5},
        "allocation": {"method": "risk_parity", "lookback": "30d", "refresh": "14d", "max_weight": 50},
    }
    with OfflineExchange(datadir) as exchange:
        config = build_config(section, exchange_url=exchange.url)
        run = run_backtest(config, tmp_path, datadir, "20240301-20240501")
    assert "new allocation risk_parity over 721 candles" in run.log
    orders = run.orders
    initial = orders[orders["tag"] == INITIAL_TAG]
    # The initial buys follow the allocation computed on the 30 days before the first candle traded.
    first_candle = pd.Timestamp("2024-03-01 00:00", tz="UTC")
    window = load_closes(COINS, "1h", start=first_candle - pd.Timedelta(days=30), datadir=datadir)
    window = window[window.index <= first_candle]
    expected = allocate_from_prices(window, "risk_parity", bounds=(0.0, 0.5), timeframe="1h").weights
    bought = initial.set_index("coin")["value"]
    assert (bought / bought.sum()).reindex(COINS).to_numpy() == pytest.approx(
        expected.reindex(COINS), abs=2e-3
    )
    # Refreshed every 14 days: later allocations rebalance with their own tag.
    reallocations = orders[orders["tag"].str.startswith("allocation:")]
    assert reallocations["time"].nunique() >= 3
