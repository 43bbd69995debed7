"""Run ``freqtrade backtesting`` on a SmartPortfolio config and read back what it did.

freqtrade runs as a subprocess of this interpreter (``python -m freqtrade``), through its own code
paths, against the offline exchange; nothing of freqtrade is patched. The summary is rebuilt from
the exported orders by :mod:`freqtrade_smartfolio.portfolio.ledger`, independently of freqtrade's
own report, and set beside buy-and-hold of the same starting fills.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_smartfolio.adapter.records import (
    latest_backtest_result,
    load_backtest_result,
    orders_from_trades,
)
from freqtrade_smartfolio.marketdata import REPO_ROOT, load_closes
from freqtrade_smartfolio.portfolio import ledger, stats
from freqtrade_smartfolio.portfolio.durations import parse_minutes

STRATEGY_PATH = REPO_ROOT / "user_data" / "strategies"
INITIAL_TAG = "initial allocation"


class BacktestFailed(RuntimeError):
    """freqtrade exited with an error; the message carries the end of its log."""


class _ProgressWatcher:
    """Reads freqtrade's log as it grows and reports the last rebalanced candle, every few seconds."""

    PATTERN = re.compile(r"Candle (\d{4}-\d\d-\d\d \d\d:\d\d): Rebalance")
    EVERY_SECONDS = 10.0

    def __init__(self, path: Path, report: Callable[[str], None] | None) -> None:
        self.path, self.report = path, report
        self.offset, self.count, self.last = 0, 0, ""
        self.next_report = time.monotonic() + self.EVERY_SECONDS

    def poll(self) -> None:
        if self.report is None or time.monotonic() < self.next_report or not self.path.exists():
            return
        with open(self.path, errors="replace") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
            self.offset = handle.tell()
        for match in self.PATTERN.finditer(chunk):
            self.count += 1
            self.last = match.group(1)
        where = (
            f"at {self.last}, {self.count} rebalances so far" if self.last else "loading and analysing data"
        )
        self.report(f"  ... freqtrade backtesting {where}")
        self.next_report = time.monotonic() + self.EVERY_SECONDS


@dataclass(frozen=True)
class BacktestRun:
    """One finished backtest: freqtrade's result section, its orders and the wall time."""

    result: dict[str, Any]
    orders: pd.DataFrame
    result_path: Path
    log: str
    seconds: float

    @property
    def loop_seconds(self) -> float:
        """Time freqtrade spent in its backtest loop (excludes start-up and data loading)."""
        return float(self.result["backtest_run_end_ts"] - self.result["backtest_run_start_ts"])


def backtesting_args(
    config_path: Path, userdir: Path, datadir: Path, timerange: str, strategy_path: Path | str | None = None
) -> list[str]:
    """``freqtrade backtesting`` of ``config_path`` over ``timerange`` (YYYYMMDD-YYYYMMDD), exporting its
    trades (user_data/backtest_results) and never reusing a cached result."""
    return [
        "backtesting",
        "--config",
        str(config_path),
        "--userdir",
        str(userdir),
        *(["--strategy-path", str(strategy_path)] if strategy_path is not None else []),
        "--datadir",
        str(datadir),
        "--timerange",
        timerange,
        "--export",
        "trades",
        "--cache",
        "none",
    ]


def run_backtest(
    config: dict[str, Any],
    workdir: Path,
    datadir: Path,
    timerange: str,
    *,
    strategy: str | None = None,
    strategy_path: Path = STRATEGY_PATH,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> BacktestRun:
    """Write ``config`` into ``workdir``, run freqtrade backtesting there, return its result.

    ``progress`` is called every few seconds with where the backtest is (from freqtrade's log).
    """
    workdir = Path(workdir)
    userdir = workdir / "user_data"
    (userdir / "backtest_results").mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    command = [
        sys.executable,
        "-m",
        "freqtrade",
        *backtesting_args(config_path, userdir, datadir, timerange, strategy_path),
        "--logfile",
        str(workdir / "freqtrade.log"),
        *(["--strategy", strategy] if strategy else []),
        *extra_args,
    ]
    started = time.perf_counter()
    log_path = workdir / "freqtrade.log"
    with open(workdir / "stdout.txt", "w") as stdout, open(workdir / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(
            command, cwd=workdir, stdout=stdout, stderr=stderr, text=True, env={**os.environ, **(env or {})}
        )
        watcher = _ProgressWatcher(log_path, progress)
        while process.poll() is None:
            time.sleep(0.5)
            watcher.poll()
    completed = subprocess.CompletedProcess(
        command,
        process.returncode,
        (workdir / "stdout.txt").read_text(),
        (workdir / "stderr.txt").read_text(),
    )
    seconds = time.perf_counter() - started
    log = log_path.read_text() if log_path.exists() else completed.stdout + completed.stderr
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-25:])
        raise BacktestFailed(f"freqtrade backtesting exited with {completed.returncode}:\n{tail}")
    path = latest_backtest_result(userdir / "backtest_results")
    result = load_backtest_result(path, strategy or config["strategy"])
    orders = orders_from_trades(result["trades"], config["stake_currency"])
    return BacktestRun(result, orders, path, log, seconds)


@dataclass(frozen=True)
class PortfolioReport:
    """The figures the demo prints, for the strategy and for buy-and-hold.

    One window, ``start`` to ``end`` (freqtrade's backtest window): both curves start at ``start``
    and end at ``end``, on the same candles, and every statistic is computed on them.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    investment: float
    final_value: float
    freqtrade_final_balance: float
    rebalances: int
    orders: int
    fees: float
    strategy_stats: dict[str, float]
    hold_stats: dict[str, float]
    equity: pd.Series
    hold_equity: pd.Series
    # Coins without candles for part of the window, e.g. "ETHFI: no candles before 2024-03-18 12:00".
    coverage: tuple[str, ...] = ()


def rebalance_times(orders: pd.DataFrame) -> pd.DatetimeIndex:
    """Fill times of rebalance orders (the initial allocation and the final force exit excluded)."""
    mask = (orders["tag"] != INITIAL_TAG) & (orders["tag"] != "force_exit")
    return pd.DatetimeIndex(sorted(set(orders.loc[mask, "time"])))


def window_prices(
    closes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    """Prices to value a portfolio on every candle from ``start`` (inclusive) to ``end`` (exclusive).

    ``closes`` may miss candles (an outer join: NaN, or absent dates). A coin is valued at its last
    known close where it has none (its data ended, or a gap), and at 0 before its first candle (it
    cannot be held then). The grid is every ``step`` from ``start``: no candle of the window is
    dropped because one coin has none.
    """
    grid = pd.date_range(start, end, freq=step, inclusive="left")
    if len(grid) == 0:
        raise ValueError(f"window_prices: no candle between {start} and {end}")
    known = closes.sort_index()
    known = known[known.index < end]
    # The last close at or before each candle, including closes before the window starts.
    prices = known.reindex(known.index.union(grid)).ffill().reindex(grid)
    return prices.fillna(0.0)


def coverage_notes(
    closes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> list[str]:
    """One line per coin whose candles do not cover the window ``start``..``end``."""
    notes = []
    for coin in closes.columns:
        dates = closes[coin].dropna().index
        dates = dates[(dates >= start) & (dates < end)]
        if len(dates) == 0:
            notes.append(f"{coin}: no candles in the window")
            continue
        parts = []
        if dates[0] > start:
            parts.append(f"no candles before {dates[0]:%Y-%m-%d %H:%M}")
        if dates[-1] < end - step:
            parts.append(f"no candles after {dates[-1]:%Y-%m-%d %H:%M} (valued at that close from then on)")
        if parts:
            notes.append(f"{coin}: {', '.join(parts)}")
    return notes


def summarize_run(run: BacktestRun, datadir: Path, timeframe: str) -> PortfolioReport:
    """Value the run at every candle from its orders, and buy-and-hold of the same initial fills.

    Both curves cover freqtrade's whole backtest window, ``backtest_start`` to ``backtest_end``, one
    point per candle (the value at its close, indexed by its open time, as freqtrade dates candles)
    and a last point at ``backtest_end`` after the final sale. Coins without candles for part of
    the window are valued by :func:`window_prices`.
    """
    result = run.result
    start_cash = float(result["starting_balance"])
    coins = sorted(set(run.orders["coin"]))
    start = pd.Timestamp(result["backtest_start"], tz="UTC")
    end = pd.Timestamp(result["backtest_end"], tz="UTC")
    step = pd.Timedelta(minutes=parse_minutes(timeframe, "timeframe"))
    known = load_closes(coins, timeframe, end=end, datadir=datadir, join="outer")
    closes = window_prices(known, start, end, step)
    # freqtrade ends by selling everything at the candle at `end`: both curves end there, buy-and-hold
    # selling its initial fills at the same prices and fee. A force exit before `end` (a coin whose
    # candles ended) is an ordinary sale of the run.
    final_exit = (run.orders["tag"] == "force_exit") & (run.orders["time"] >= end)
    live = run.orders[~final_exit]
    equity = ledger.rebuild(live, closes, start_cash)["value"]
    exit_prices = run.orders[run.orders["tag"] == "force_exit"].groupby("coin")["price"].last()
    # A coin the run no longer held at the end is sold by buy-and-hold at its last close.
    exit_prices = exit_prices.reindex(coins).fillna(closes.iloc[-1])
    initial = run.orders[run.orders["tag"] == INITIAL_TAG]
    hold = ledger.rebuild(initial, closes, start_cash)
    fee_rate = float(result["trades"][0]["fee_close"]) if result["trades"] else 0.0
    held = hold[coins].iloc[-1]
    hold_final = float(hold["cash"].iloc[-1] + (held * exit_prices).sum() * (1 - fee_rate))
    final_value = ledger.final_cash(run.orders, start_cash)
    equity = pd.concat([equity, pd.Series([final_value], index=[end])])
    hold_equity = pd.concat([hold["value"], pd.Series([hold_final], index=[end])])
    return PortfolioReport(
        start=start,
        end=end,
        investment=start_cash,
        final_value=final_value,
        freqtrade_final_balance=float(result["final_balance"]),
        rebalances=len(rebalance_times(run.orders)),
        orders=len(run.orders),
        fees=float(run.orders["fee"].sum()),
        strategy_stats=stats.summarize(equity),
        hold_stats=stats.summarize(hold_equity),
        equity=equity,
        hold_equity=hold_equity,
        coverage=tuple(coverage_notes(known, start, end, step)),
    )


def format_report(report: PortfolioReport, stake: str = "USDT") -> str:
    """The demo's table: the strategy beside buy-and-hold."""
    s, h = report.strategy_stats, report.hold_stats
    rows = [
        ("", "SmartPortfolio", "Buy and hold"),
        ("Final value", f"{report.final_value:,.2f} {stake}", f"{h['final_value']:,.2f} {stake}"),
        ("Total return", f"{s['total_return']:+.2%}", f"{h['total_return']:+.2%}"),
        ("CAGR", f"{s['cagr']:+.2%}", f"{h['cagr']:+.2%}"),
        ("Max drawdown", f"{s['max_drawdown']:.2%}", f"{h['max_drawdown']:.2%}"),
        ("Volatility (annual)", f"{s['volatility']:.2%}", f"{h['volatility']:.2%}"),
        ("Sharpe", f"{s['sharpe']:.2f}", f"{h['sharpe']:.2f}"),
        ("Rebalances", f"{report.rebalances}", "0"),
        ("Orders", f"{report.orders}", "-"),
        ("Fees paid", f"{report.fees:,.2f} {stake}", "-"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{width[0]}}  {b:>{width[1]}}  {c:>{width[2]}}" for a, b, c in rows]
    lines.insert(1, "-" * (sum(width) + 4))
    check = abs(report.final_value / report.freqtrade_final_balance - 1)
    days = (report.end - report.start) / pd.Timedelta(days=1)
    lines.append(
        f"\nPeriod {_when(report.start)} -> {_when(report.end)} ({days:,.0f} days), "
        f"investment {report.investment:,.2f} {stake}; every figure above is over this period."
        + "".join(f"\n  {note}" for note in report.coverage)
        + f"\nFinal value rebuilt from the orders: {report.final_value:,.2f}; freqtrade's final balance: "
        f"{report.freqtrade_final_balance:,.2f} (difference {check:.2e})."
    )
    return "\n".join(lines)


def _when(stamp: pd.Timestamp) -> str:
    """A date, with the time when it is not midnight."""
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"
