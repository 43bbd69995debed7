"""freqtrade backtesting of SmartPortfolio on real data, through freqtrade's own code paths against
the offline exchange, checked independently of freqtrade's summary: holdings and value are rebuilt
from the exported orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.backtest import INITIAL_TAG, rebalance_times, run_backtest, summarize_run
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.portfolio import ledger

pytestmark = pytest.mark.slow

PORTFOLIO = {"BTC": 30, "ETH": 25, "SOL": 15, "XRP": 15, "BNB": 15}
THRESHOLD = 2.0
TIMERANGE = "20240101-20240401"


@pytest.fixture(scope="module")
def backtest(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    smartfolio = {
        "portfolio": PORTFOLIO,
        "investment": 10_000,
        "rebalance": {"mode": "proportional", "threshold": THRESHOLD},
    }
    with OfflineExchange(datadir) as exchange:
        config = build_config(smartfolio, timeframe="1h", exchange_url=exchange.url)
        run = run_backtest(config, tmp_path_factory.mktemp("backtest"), datadir, TIMERANGE)
    return run, datadir


def test_final_value_rebuilt_from_orders_equals_freqtrade(backtest):
    run, _ = backtest
    rebuilt = ledger.final_cash(run.orders, run.result["starting_balance"])
    assert rebuilt == pytest.approx(run.result["final_balance"], rel=1e-4)  # 0.01%
    assert rebuilt == pytest.approx(run.result["final_balance"], rel=1e-9)  # in fact: to rounding


def test_it_rebalanced_and_every_order_is_tagged_with_its_reason(backtest):
    run, _ = backtest
    times = rebalance_times(run.orders)
    assert len(times) >= 5
    tags = run.orders["tag"]
    assert (tags != "").all()
    rebalance_tags = tags[(tags != INITIAL_TAG) & (tags != "force_exit")]
    assert rebalance_tags.str.match(
        r"^(threshold: \w+ \d+\.\d\d% [<>] \d+\.\d\d%|completion: .*) \| (sell|buy) \w+$"
    ).all()
    # Only the portfolio decides exits: partial exits for rebalancing and the backtest's final sale.
    exit_reasons = {t["exit_reason"] for t in run.result["trades"]}
    assert exit_reasons == {"force_exit"}
    assert len(run.result["trades"]) == len(PORTFOLIO)


def test_weights_are_back_in_band_at_every_check_after_a_rebalance(backtest):
    run, datadir = backtest
    coins = list(PORTFOLIO)
    targets = pd.Series({c: w / 100 for c, w in PORTFOLIO.items()})
    live = run.orders[run.orders["tag"] != "force_exit"]
    start = pd.Timestamp(run.result["backtest_start"], tz="UTC")
    end = pd.Timestamp(run.result["backtest_end"], tz="UTC")
    from freqtrade_smartfolio.marketdata import load_closes

    closes = load_closes(coins, "1h", start=start, end=end, datadir=datadir)
    book = ledger.rebuild(live, closes, run.result["starting_balance"])
    weights = (book[coins] * closes).div(book["value"], axis=0)
    deviation = (weights - targets).abs().max(axis=1)
    # The strategy checks at the close of each candle; a rebalance fills at the next candle's open.
    # The check after a rebalance is the close of the candle it filled in (completion buys that waited
    # for cash fill one candle later and are part of the same rebalance).
    fills = sorted(set(live["time"]))
    groups: list[list[pd.Timestamp]] = []
    for when in fills:
        if groups and when - groups[-1][-1] <= pd.Timedelta(hours=1):
            groups[-1].append(when)
        else:
            groups.append([when])
    checked = [group[-1] for group in groups]
    after = deviation.reindex(checked)
    assert after.notna().all()
    assert (after <= THRESHOLD / 100).all(), after[after > THRESHOLD / 100]
    # And the cash never went negative: buys never spent cash the portfolio did not have.
    assert (book["cash"] >= -1e-6).all()
    # Between rebalances the portfolio drifts; before each threshold rebalance it was out of band.
    report = summarize_run(run, datadir, "1h")
    assert report.final_value == pytest.approx(run.result["final_balance"], rel=1e-9)
    assert np.isfinite(report.strategy_stats["max_drawdown"])


def test_freqtrade_refuses_to_start_on_a_bad_section(require_data, tmp_path):
    from freqtrade_smartfolio.backtest import BacktestFailed

    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    smartfolio = {
        "portfolio": PORTFOLIO,
        "investment": 10_000,
        "rebalance": {"mode": "proportional", "threshold": 5},
    }
    with OfflineExchange(datadir) as exchange:
        config = build_config(smartfolio, exchange_url=exchange.url)
        config["smartfolio"]["rebalance"]["threshold"] = -1
        with pytest.raises(BacktestFailed, match=r"smartfolio\.rebalance\.threshold: -1 is not allowed"):
            run_backtest(config, tmp_path, datadir, "20240101-20240105")
        config["smartfolio"]["rebalance"]["threshold"] = 5
        config["smartfolio"]["investment"] = 20
        with pytest.raises(BacktestFailed, match=r"smartfolio\.investment: 20 USDT is below the minimum"):
            run_backtest(config, tmp_path, datadir, "20240101-20240105")
