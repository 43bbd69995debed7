"""``smartfolio demo``: backtest the default portfolio on real data through freqtrade, with its report."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from freqtrade_smartfolio.marketdata import MarketDataMissing, candle_file, find_data_dir

NAME = "demo"
HELP = (
    "Backtest the default portfolio (BTC ETH BNB SOL XRP, 1h, 2021-2025, 5%% band) with freqtrade "
    "against the offline exchange, and print it beside buy-and-hold."
)
DEFAULT_PORTFOLIO = {"BTC": 40, "ETH": 25, "BNB": 15, "SOL": 10, "XRP": 10}
DEFAULT_TIMERANGE = "20210101-20250919"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timerange", default=DEFAULT_TIMERANGE, help="freqtrade timerange (default: %(default)s)"
    )
    parser.add_argument(
        "--threshold", type=float, default=5.0, help="rebalance band in %% (default: %(default)s)"
    )
    parser.add_argument(
        "--investment", type=float, default=10_000.0, help="USDT invested (default: %(default)s)"
    )
    parser.add_argument("--timeframe", default="1h", help="candle size (default: %(default)s)")
    parser.add_argument(
        "--datadir", type=Path, help="folder of candle files (default: ../shared/data/binance)"
    )
    parser.add_argument(
        "--report", type=Path, help="where to write the HTML report (default: WORKDIR/report.html)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where freqtrade writes its config, log and results (default: a temp dir)",
    )


def run(args: argparse.Namespace) -> int:
    from freqtrade_smartfolio.backtest import format_report, run_backtest, summarize_run
    from freqtrade_smartfolio.exchange import OfflineExchange
    from freqtrade_smartfolio.freqtrade_config import build_config

    needed = [candle_file(coin, args.timeframe) for coin in DEFAULT_PORTFOLIO]
    try:
        datadir = args.datadir or find_data_dir(needed)
    except MarketDataMissing as err:
        print(err)
        return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smartfolio-demo-"))
    smartfolio = {
        "portfolio": DEFAULT_PORTFOLIO,
        "investment": args.investment,
        "rebalance": {"mode": "proportional", "threshold": args.threshold},
        "min_trade": 5,
    }
    print(f"Data: {datadir}\nWork folder: {workdir}")
    with OfflineExchange(datadir) as exchange:
        print(f"Offline exchange: {exchange.url}")
        config = build_config(smartfolio, timeframe=args.timeframe, exchange_url=exchange.url)
        pairs = ", ".join(config["exchange"]["pair_whitelist"])
        print(f"Running freqtrade backtesting {args.timerange} ({pairs}) ...")
        backtest = run_backtest(
            config, workdir, datadir, args.timerange, progress=lambda line: print(line, flush=True)
        )
    report = summarize_run(backtest, datadir, args.timeframe)
    print(f"freqtrade finished in {backtest.seconds:.0f} s (backtest loop {backtest.loop_seconds:.0f} s).\n")
    print(format_report(report))
    print(f"\nfreqtrade result: {backtest.result_path}")
    from freqtrade_smartfolio.report import from_backtest_run, write_html

    page = write_html(from_backtest_run(backtest, datadir), args.report or workdir / "report.html")
    print(f"Report: {page.resolve()}")
    return 0
