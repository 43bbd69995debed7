"""``smartfolio report``: one self-contained HTML page (and optionally a PNG) of a portfolio's life."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

NAME = "report"
HELP = (
    "Build an offline HTML report (value vs buy-and-hold, weights in their bands, drawdown, fees, "
    "every rebalance) from a freqtrade backtest result or a bot's database; --png adds an image."
)
DEFAULT_RESULTS_DIR = Path("user_data") / "backtest_results"
DEFAULT_REPORTS_DIR = Path("user_data") / "reports"
DB_SUFFIXES = (".sqlite", ".sqlite3", ".db")
MAX_POINTS = 2000  # as report.page.MAX_POINTS (not imported here: keeps `smartfolio --help` fast)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        help="a backtest-result-*.zip or a bot's sqlite database "
        "(default: the newest result in --results-dir)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help="freqtrade's backtest_results folder (default: %(default)s)",
    )
    parser.add_argument(
        "--datadir",
        type=Path,
        help="folder of candle files (default: ../shared/data/binance or user_data/data)",
    )
    parser.add_argument(
        "--out", type=Path, help=f"HTML file to write (default: {DEFAULT_REPORTS_DIR}/<source name>.html)"
    )
    parser.add_argument(
        "--png",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="also write a PNG of the main chart (default: the HTML path with .png; put SOURCE first); "
        "needs Chromium",
    )
    parser.add_argument(
        "--strategy", default="SmartPortfolio", help="strategy in the result (default: %(default)s)"
    )
    parser.add_argument("--config", type=Path, help="freqtrade config of the bot (database source)")
    parser.add_argument("--investment", type=float, help="starting balance of the bot (database source)")
    parser.add_argument("--title", help="page title")
    parser.add_argument(
        "--max-points", type=int, default=MAX_POINTS, help="points per plotted curve (default: %(default)s)"
    )


def _step(number: int, total: int, text: str, started: float) -> None:
    print(f"[{number}/{total}] {text} ({time.perf_counter() - started:.1f} s)", flush=True)


def run(args: argparse.Namespace) -> int:
    from freqtrade_smartfolio.adapter.records import latest_backtest_result
    from freqtrade_smartfolio.marketdata import MarketDataMissing, find_data_dir
    from freqtrade_smartfolio.report import from_backtest_result, from_freqtrade_db, write_html
    from freqtrade_smartfolio.report.browser import BrowserMissing

    started = time.perf_counter()
    total = 4 if args.png else 3
    try:
        source = args.source or latest_backtest_result(args.results_dir)
        datadir = args.datadir or find_data_dir()
    except (FileNotFoundError, MarketDataMissing) as err:
        print(err)
        return 1
    if not source.is_file():
        print(f"No such file: {source}")
        return 1
    is_db = source.suffix.lower() in DB_SUFFIXES
    _step(1, total, f"Reading {'database' if is_db else 'backtest result'} {source}", started)
    try:
        if is_db:
            config = json.loads(args.config.read_text()) if args.config else None
            history = from_freqtrade_db(
                source,
                datadir,
                config=config,
                investment=args.investment,
                title=args.title or "SmartPortfolio bot",
            )
        else:
            history = from_backtest_result(source, datadir, strategy=args.strategy, title=args.title)
    except (KeyError, ValueError, MarketDataMissing) as err:
        print(f"Cannot build the report: {err}")
        return 1
    rebalances = history.trades.loc[history.trades["kind"] == "rebalance", "time"].nunique()
    _step(
        2,
        total,
        f"Valued {len(history.equity):,} candles of {', '.join(history.coins)} from {datadir}; "
        f"{len(history.trades)} orders, {rebalances} rebalances",
        started,
    )
    out = args.out or DEFAULT_REPORTS_DIR / f"{source.stem}.html"
    write_html(history, out, max_points=args.max_points)
    _step(3, total, f"Wrote the page ({out.stat().st_size / 1e6:.1f} MB)", started)
    if args.png:
        from freqtrade_smartfolio.report.image import write_png

        png = out.with_suffix(".png") if args.png is True else Path(args.png)
        try:
            png, method = write_png(history, png)
        except BrowserMissing as err:
            print(f"PNG skipped: {err}")
            print(out.resolve())
            return 3
        _step(4, total, f"Wrote the PNG with {method}: {png.resolve()}", started)
    print(out.resolve())
    return 0
