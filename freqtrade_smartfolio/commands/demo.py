"""``smartfolio demo``: backtest the default portfolio on real data through freqtrade, with its report."""

from __future__ import annotations

import argparse
import re
import tempfile
from datetime import datetime
from pathlib import Path

from freqtrade_smartfolio.cli import ExternalError, UserError
from freqtrade_smartfolio.commands._checks import check_timeframe, data_folder
from freqtrade_smartfolio.config import ConfigError, parse_settings
from freqtrade_smartfolio.marketdata import candle_file

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


_TIMERANGE = re.compile(r"^(\d{8})?-(\d{8})?$")


def check_timerange(text: str) -> str:
    """freqtrade's ``YYYYMMDD-YYYYMMDD`` (either side may be empty), start before end."""
    match = _TIMERANGE.match(text)
    dates = []
    if match and any(match.groups()):
        try:
            dates = [datetime.strptime(d, "%Y%m%d") for d in match.groups() if d]
        except ValueError:
            dates = []
    ordered = len(dates) < 2 or dates[0] < dates[1]
    if not dates or not ordered:
        raise UserError(
            f"--timerange: {text!r} is not a freqtrade timerange; give START-END as YYYYMMDD, start before "
            f"end, e.g. {DEFAULT_TIMERANGE} or 20240101-"
        )
    return text


def check_timerange_has_data(text: str, path: Path) -> None:
    """UserError when ``--timerange`` lies outside the candles of ``path``."""
    import pandas as pd

    dates = pd.to_datetime(pd.read_feather(path, columns=["date"])["date"], utc=True)
    first, last = dates.min(), dates.max()
    start, _, end = text.partition("-")
    begin = pd.Timestamp(start, tz="UTC") if start else first
    stop = pd.Timestamp(end, tz="UTC") if end else last
    if begin >= last or stop <= first:
        raise UserError(
            f"--timerange: {text} lies outside the candles in {path.parent} ({first:%Y%m%d}-{last:%Y%m%d}); "
            "give a range inside them"
        )


def run(args: argparse.Namespace) -> int:
    from freqtrade_smartfolio.backtest import BacktestFailed, format_report, run_backtest, summarize_run
    from freqtrade_smartfolio.exchange import OfflineExchange
    from freqtrade_smartfolio.freqtrade_config import build_config

    check_timerange(args.timerange)
    check_timeframe(args.timeframe)
    smartfolio = {
        "portfolio": DEFAULT_PORTFOLIO,
        "investment": args.investment,
        "rebalance": {"mode": "proportional", "threshold": args.threshold},
        "min_trade": 5,
    }
    try:
        parse_settings({"stake_currency": "USDT", "smartfolio": smartfolio})
    except ConfigError as err:
        raise UserError(f"{err} (--threshold is the band, --investment the amount)") from None
    for option, path in (("--workdir", args.workdir), ("--report", args.report)):
        if path is not None and path.exists() and path.is_dir() != (option == "--workdir"):
            raise UserError(
                f"{option}: {path} is a {'file' if option == '--workdir' else 'folder'}; give a "
                f"{'folder' if option == '--workdir' else 'file name'}"
            )
    from freqtrade_smartfolio.commands.new import minimum_amount

    needed = minimum_amount(DEFAULT_PORTFOLIO, smartfolio["min_trade"])
    if args.investment < needed:
        raise UserError(
            f"--investment: {args.investment:g} USDT is below this portfolio's minimum of {needed:,.2f}; "
            f"invest at least {int(-(-needed // 1)):,}"
        )
    datadir = data_folder(list(DEFAULT_PORTFOLIO), args.timeframe, args.datadir, "--datadir")
    check_timerange_has_data(args.timerange, datadir / candle_file("BTC", args.timeframe))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smartfolio-demo-"))
    print(f"Data: {datadir}\nWork folder: {workdir}")
    with OfflineExchange(datadir) as exchange:
        print(f"Offline exchange: {exchange.url}")
        config = build_config(smartfolio, timeframe=args.timeframe, exchange_url=exchange.url)
        pairs = ", ".join(config["exchange"]["pair_whitelist"])
        print(f"Running freqtrade backtesting {args.timerange} ({pairs}) ...")
        try:
            backtest = run_backtest(
                config, workdir, datadir, args.timerange, progress=lambda line: print(line, flush=True)
            )
        except (BacktestFailed, FileNotFoundError) as err:
            lines = [line for line in str(err).splitlines() if line.strip()]
            why = next(
                (line for line in reversed(lines) if "error" in line.lower()), lines[-1] if lines else ""
            )
            raise ExternalError(
                f"freqtrade backtesting failed ({why.strip()}); see {workdir / 'freqtrade.log'}"
                " (a --timerange inside the candle data often fixes it)"
            ) from None
    report = summarize_run(backtest, datadir, args.timeframe)
    print(f"freqtrade finished in {backtest.seconds:.0f} s (backtest loop {backtest.loop_seconds:.0f} s).\n")
    print(format_report(report))
    print(f"\nfreqtrade result: {backtest.result_path}")
    from freqtrade_smartfolio.report import from_backtest_run, write_html

    page = write_html(from_backtest_run(backtest, datadir), args.report or workdir / "report.html")
    print(f"Report: {page.resolve()}")
    return 0
