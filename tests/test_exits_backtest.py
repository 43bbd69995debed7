"""Portfolio take-profit and stop-loss firing in freqtrade backtests on real data."""

from __future__ import annotations

import pytest

from freqtrade_smartfolio.backtest import run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.portfolio import ledger

pytestmark = pytest.mark.slow

PORTFOLIO = {"BTC": 40, "ETH": 30, "SOL": 30}


def _run(require_data, tmp_path, timerange: str, **exit_fields):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    section = {
        "portfolio": PORTFOLIO,
        "investment": 10_000,
        "rebalance": {"mode": "proportional", "threshold": 5},
        **exit_fields,
    }
    with OfflineExchange(datadir) as exchange:
        config = build_config(section, exchange_url=exchange.url)
        return run_backtest(config, tmp_path, datadir, timerange)


def test_take_profit_sells_everything_and_locks(require_data, tmp_path):
    # Q1 2024: the majors rose by more than 30%.
    run = _run(require_data, tmp_path, "20240101-20240401", take_profit=30)
    trades = run.result["trades"]
    assert {t["exit_reason"].split(":")[0] for t in trades} == {"take_profit"}
    assert all(t["exit_reason"].endswith("| sell all") for t in trades)
    locks = run.result["locks"]
    assert (
        len(locks) == 1
        and locks[0]["pair"] == "*"
        and locks[0]["reason"].startswith("take_profit: portfolio +")
    )
    assert locks[0]["lock_time"].startswith("2024-")  # at the candle it fired, not the wall clock
    fired = min(t["close_date"] for t in trades)
    final = ledger.final_cash(run.orders, run.result["starting_balance"])
    assert final == pytest.approx(run.result["final_balance"], rel=1e-9)
    assert final >= 10_000 * 1.29  # sold near +30% (one candle later, less fees)
    # nothing traded after the exit
    assert run.orders["time"].max().isoformat().replace("T", " ") <= fired


def test_stop_loss_keep_coins_stops_rebalancing_but_holds(require_data, tmp_path):
    # Early 2022: the majors fell by more than 20%.
    run = _run(require_data, tmp_path, "20220101-20220401", stop_loss=20, on_exit="keep_coins")
    locks = run.result["locks"]
    assert len(locks) == 1 and locks[0]["reason"].startswith("stop_loss: portfolio -")
    lock_start = locks[0]["lock_time"]
    assert lock_start.startswith("2022-")
    trades = run.result["trades"]
    # The coins were kept: only freqtrade's own end-of-backtest exit closed them.
    assert {t["exit_reason"] for t in trades} == {"force_exit"}
    rebalances_after = run.orders[
        (run.orders["tag"] != "force_exit")
        & (run.orders["time"].dt.strftime("%Y-%m-%d %H:%M:%S") > lock_start)
    ]
    assert rebalances_after.empty
