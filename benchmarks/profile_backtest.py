"""Where freqtrade spends a rebalancing backtest's time: cProfile of `freqtrade backtesting` with
SmartPortfolio, grouped into freqtrade's per-order loops and the rest.

    .venv/bin/python benchmarks/profile_backtest.py --threshold 2 --timerange 20210101-20220101

cProfile slows Python code about twofold; compare the shares, not the seconds, with bench_backtest.py.
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from freqtrade_smartfolio.backtest import STRATEGY_PATH
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.marketdata import candle_file, find_data_dir

COINS = ("BTC", "ETH", "SOL", "XRP", "BNB")
# (label, file suffix, function name): cumulative time of each.
FUNCTIONS = [
    ("backtest loop (all of it)", "optimize/backtesting.py", "backtest_loop"),
    (
        "Trade.recalc_trade_from_orders (every order, on every fill)",
        "persistence/trade_model.py",
        "recalc_trade_from_orders",
    ),
    (
        "Trade.select_order (every order, twice per trade per candle)",
        "persistence/trade_model.py",
        "select_order",
    ),
    (
        "Backtesting.manage_open_orders (every order, per trade per candle)",
        "optimize/backtesting.py",
        "manage_open_orders",
    ),
    ("SmartPortfolio.bot_loop_start (the plan, per candle)", "adapter/strategy.py", "bot_loop_start"),
    ("SmartPortfolio.adjust_trade_position", "adapter/strategy.py", "adjust_trade_position"),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threshold", type=float, default=2.0)
    parser.add_argument("--timerange", default="20210101-20220101")
    args = parser.parse_args()
    datadir = find_data_dir([candle_file(c, "1h") for c in COINS])
    with OfflineExchange(datadir) as exchange, tempfile.TemporaryDirectory() as tmp:
        config = build_config(
            {
                "portfolio": dict.fromkeys(COINS, 20),
                "investment": 10_000,
                "rebalance": {"mode": "proportional", "threshold": args.threshold},
            },
            exchange_url=exchange.url,
        )
        work = Path(tmp)
        (work / "user_data").mkdir()
        (work / "config.json").write_text(json.dumps(config))
        profile = work / "profile.out"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(profile),
                "-m",
                "freqtrade",
                "backtesting",
                "--config",
                str(work / "config.json"),
                "--userdir",
                str(work / "user_data"),
                "--strategy-path",
                str(STRATEGY_PATH),
                "--datadir",
                str(datadir),
                "--timerange",
                args.timerange,
                "--cache",
                "none",
                "--export",
                "none",
                "--logfile",
                str(work / "freqtrade.log"),
            ],
            check=True,
            capture_output=True,
        )
        stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    cumulative = {}
    for (filename, _, name), (_, _, _, cum, _) in stats.items():
        for label, suffix, function in FUNCTIONS:
            if filename.endswith(suffix) and name == function:
                cumulative[label] = cumulative.get(label, 0.0) + cum
    loop = cumulative.get(FUNCTIONS[0][0], float("nan"))
    print(
        f"cProfile of freqtrade backtesting, {', '.join(COINS)} equal weights, 1h, {args.timerange}, "
        f"{args.threshold:g}% band\n"
    )
    print("| function | cumulative s (profiled) | share of the backtest loop |")
    print("|---|---|---|")
    for label, _, _ in FUNCTIONS:
        value = cumulative.get(label, 0.0)
        print(f"| {label} | {value:.1f} | {value / loop:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
