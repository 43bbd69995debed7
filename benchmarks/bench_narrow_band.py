"""A band narrower than the minimum order (issue "Real markets at the edges", item 9): 20 coins, 1,000 USDT,
a 5% relative band (about 2.5 USDT a coin against a 5.83 minimum order) or every 1w, 1h candles of 2024.

Prints, from one freqtrade backtest through the offline exchange: how often each trigger fired, how many
rebalances placed nothing, the log lines the strategy wrote; and, in one process, what one empty plan costs
against a full plan on the same state (median of 7 runs of 2,000 calls each).

    .venv/bin/python benchmarks/bench_narrow_band.py
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from freqtrade_smartfolio.backtest import run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PortfolioState,
    Trigger,
    TriggerKind,
    plan_rebalance,
)
from freqtrade_smartfolio.portfolio.targets import Targets

COINS = [
    "BTC",
    "ETH",
    "SOL",
    "XRP",
    "DOGE",
    "AVAX",
    "LINK",
    "LTC",
    "TRX",
    "UNI",
    "ATOM",
    "NEAR",
    "APT",
    "ARB",
    "OP",
    "AAVE",
    "INJ",
    "SUI",
    "SHIB",
    "PEPE",
]
TIMERANGE = "20240101-20240901"


def plan_cost() -> tuple[float, float]:
    """Microseconds per call: an empty plan (every gap under the minimum) and a plan with orders."""
    n = len(COINS)
    targets = Targets(tuple(COINS), tuple([1 / n] * n))
    rng = np.random.default_rng(1)
    prices = rng.uniform(1, 100, n)
    rules = [CoinRules(5.83, 0.0)] * n
    trigger = Trigger(TriggerKind.THRESHOLD, "")
    out = []
    for spread in (0.03, 0.5):  # 3% gaps: ~1.5 USDT a coin; 50%: ~25 USDT
        amounts = (1000 / n / prices) * (1 + rng.normal(0, spread, n))
        state = PortfolioState(targets.coins, amounts, prices, 2.0)
        runs = timeit.repeat(
            lambda s=state: plan_rebalance(s, targets, rules, 0.001, trigger), number=2000, repeat=7
        )
        out.append(statistics.median(runs) / 2000 * 1e6)
    return out[0], out[1]


def main() -> None:
    print(machine())
    datadir = find_data_dir([f"{c}_USDT-1h.feather" for c in COINS])
    section = {
        "portfolio": dict.fromkeys(COINS, 5),
        "investment": 1000,
        "rebalance": {"mode": "both", "threshold": 5, "band": "relative", "interval": "7d"},
    }
    with tempfile.TemporaryDirectory() as work, OfflineExchange(datadir) as exchange:
        config = build_config(section, timeframe="1h", exchange_url=exchange.url)
        run = run_backtest(config, Path(work), datadir, TIMERANGE)
    log = run.log
    candles = len(re.findall(r"freqtrade_smartfolio", log))  # any line of ours
    fired = {k: len(re.findall(rf"Rebalance \({k}", log)) for k in ("threshold", "schedule", "completion")}
    placed = {k: len(re.findall(rf"Candle [^:]+:\d\d: Rebalance \({k}", log)) for k in fired}
    skipped_lines = len(re.findall(r"\) skipped: ", log))
    print(f"freqtrade backtest {TIMERANGE}, 20 coins x 5%, 1,000 USDT, 5% relative band or every 1w:")
    print(f"  loop {run.loop_seconds:.1f} s, orders {len(run.orders)}, strategy log lines {candles}")
    for kind in fired:
        print(f"  {kind:<10} rebalances that placed orders: {placed[kind]}")
    print(f"  'skipped' lines (once per trigger kind, then at most once a day): {skipped_lines}")
    empty, full = plan_cost()
    print(f"plan_rebalance on 20 coins: empty plan {empty:.0f} us, plan with orders {full:.0f} us")


if __name__ == "__main__":
    main()
