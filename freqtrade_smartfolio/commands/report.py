"""``smartfolio report``: one self-contained HTML page (and optionally a PNG) of a portfolio's life."""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import time
import zipfile
from pathlib import Path

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.commands._checks import check_file, is_sqlite, sql_reason

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


RESULT_HELP = "a freqtrade backtest-result-*.zip (user_data/backtest_results) or a bot's tradesv3.sqlite"


def _result_names(path: Path) -> list[str]:
    """The result JSON files in a backtest zip (UserError when it is not a freqtrade result)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise UserError(f"SOURCE: {path} is not a readable zip ({err}); give {RESULT_HELP}") from None
    results = [n for n in names if n.endswith(".json") and not n.endswith("_config.json") and "meta" not in n]
    if not results:
        raise UserError(
            f"SOURCE: {path} is a zip without a freqtrade backtest result (no result .json inside); "
            f"give {RESULT_HELP}"
        )
    return results


def check_source(args: argparse.Namespace) -> tuple[Path, bool]:
    """The source file and whether it is a database; UserError for a missing, empty or unknown file."""
    from freqtrade_smartfolio.adapter.records import latest_backtest_result

    if args.source is None:
        if not args.results_dir.is_dir():
            raise UserError(
                f"--results-dir: {args.results_dir} is not a folder; give SOURCE or --results-dir"
            )
        try:
            source = latest_backtest_result(args.results_dir)
        except FileNotFoundError as err:
            raise UserError(f"{err}, or give SOURCE") from None
    else:
        source = check_file(args.source, "SOURCE", RESULT_HELP)
    if is_sqlite(source):
        return source, True
    if not zipfile.is_zipfile(source):
        raise UserError(f"SOURCE: {source} is neither a zip nor a sqlite database; give {RESULT_HELP}")
    _result_names(source)
    return source, False


def check_options(args: argparse.Namespace, is_db: bool) -> dict | None:
    """The other options, before anything is read or written; the config (database source) or None."""
    if args.max_points < 2:
        raise UserError(f"--max-points: {args.max_points} is too few; give 2 or more, e.g. {MAX_POINTS}")
    if args.investment is not None and not (math.isfinite(args.investment) and args.investment > 0):
        raise UserError(f"--investment: {args.investment:g} is not a positive amount; e.g. --investment 1000")
    if args.out is not None and args.out.is_dir():
        raise UserError(f"--out: {args.out} is a folder; give a file name, e.g. {args.out / 'report.html'}")
    if args.datadir is not None and not args.datadir.is_dir():
        raise UserError(f"--datadir: {args.datadir} is not a folder; give the folder of candle files")
    if not is_db:
        if args.config is not None or args.investment is not None:
            raise UserError(
                "--config/--investment: only used with a database SOURCE; drop them for a backtest zip"
            )
        return None
    if args.config is None:
        if args.investment is None:
            raise UserError(
                "--investment or --config: a database holds no starting balance; give the bot's config "
                "(--config config.json) or its starting balance (--investment 1000)"
            )
        return None
    try:
        config = json.loads(check_file(args.config, "--config", "the bot's config.json").read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"--config: {args.config} is not valid JSON ({err}); fix the file") from None
    if not isinstance(config, dict) or not isinstance(config.get("smartfolio"), dict):
        raise UserError(
            f"--config: {args.config} has no 'smartfolio' section, so it is not a SmartPortfolio bot's "
            "config; give the config 'smartfolio new' wrote, or --investment"
        )
    return config


def run(args: argparse.Namespace) -> int:
    from pandas import errors as pd_errors

    from freqtrade_smartfolio.marketdata import MarketDataMissing, find_data_dir
    from freqtrade_smartfolio.report import from_backtest_result, from_freqtrade_db, write_html
    from freqtrade_smartfolio.report.browser import BrowserMissing

    started = time.perf_counter()
    total = 4 if args.png else 3
    source, is_db = check_source(args)
    config = check_options(args, is_db)
    try:
        datadir = args.datadir or find_data_dir()
    except MarketDataMissing as err:
        raise UserError(str(err)) from None
    _step(1, total, f"Reading {'database' if is_db else 'backtest result'} {source}", started)
    try:
        if is_db:
            history = from_freqtrade_db(
                source,
                datadir,
                config=config,
                investment=args.investment,
                title=args.title or "SmartPortfolio bot",
            )
        else:
            history = from_backtest_result(source, datadir, strategy=args.strategy, title=args.title)
    except KeyError as err:
        text = str(err.args[0]) if err.args else str(err)
        if text.startswith("strategy "):  # load_backtest_result: a result of other strategies
            raise UserError(f"--strategy: {text}; pass --strategy NAME or a SmartPortfolio result") from None
        raise UserError(
            f"SOURCE: {source} is not a complete freqtrade result (no {text}); give {RESULT_HELP}"
        ) from None
    except MarketDataMissing as err:
        raise UserError(str(err)) from None
    except (sqlite3.DatabaseError, pd_errors.DatabaseError) as err:
        raise UserError(
            f"SOURCE: {source} is not a freqtrade database ({sql_reason(err)}); give {RESULT_HELP}"
        ) from None
    except ValueError as err:  # no filled orders, no candles in the period
        raise UserError(f"cannot build the report: {err}") from None
    rebalances = history.trades.loc[history.trades["kind"] == "rebalance", "time"].nunique()
    _step(
        2,
        total,
        f"Valued {len(history.equity):,} candles of {', '.join(history.coins)} from {datadir}; "
        f"{len(history.trades)} orders, {rebalances} rebalances",
        started,
    )
    out = args.out or DEFAULT_REPORTS_DIR / f"{source.stem}.html"
    try:
        write_html(history, out, max_points=args.max_points)
    except OSError as err:
        raise UserError(f"--out: cannot write {out} ({err.strerror or err}); choose another file") from None
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
