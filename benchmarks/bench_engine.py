"""The engine against bt and against a compiled loop of the same rules, and a parameter sweep.

Every side is timed the same way: the same input (one close-price DataFrame; the OHLC DataFrames for
freqtrade mode), the conversion inside the timer, one warm-up run, then the median of ``--repeats``
runs (5). The band is the same for everyone: relative 5% (bt's ``RunIfOutOfBounds``), fee 0.1%,
fractional amounts, fill at the close (clean mode). The compiled reference (numba, the ``bench``
extra) is a plain loop of clean mode's rules with bt's quantity search: its final value is printed
beside bt's. Values: at the last close before any final sale (bt's own figure) for bt, clean mode and
the loop; freqtrade mode's final balance (after freqtrade's force exit, lots, minimums) is another model.

    .venv/bin/python benchmarks/bench_engine.py              # the three cases and the sweep
    .venv/bin/python benchmarks/bench_engine.py --no-sweep   # the cases only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _machine import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.marketdata import find_data_dir, load_candles  # noqa: E402
from freqtrade_smartfolio.portfolio.engine import (  # noqa: E402
    ExchangeRules,
    as_market,
    load_market,
    simulate,
    sweep,
)
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule  # noqa: E402
from freqtrade_smartfolio.portfolio.targets import Targets  # noqa: E402

COINS_5 = ["BTC", "ETH", "SOL", "XRP", "BNB"]
COINS_20 = [
    *("BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "TRX", "UNI"),
    *("BNB", "AAVE", "ARB", "OP", "FET", "LDO", "MKR", "SHIB", "ATOM", "NEAR"),
]
FEE = 0.001
MIN_NOTIONAL = 5.0
INVESTMENT = 1000.0
WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Case:
    name: str
    coins: list[str]
    start: str
    end: str
    band: float | None  # relative
    weekly: bool


CASES = [
    Case("5 coins, 1h, 2021-01..2025-09, 5% band", COINS_5, "2021-01-01", "2025-09-19", 0.05, False),
    Case("5 coins, 1h, 2021-01..2025-09, weekly schedule", COINS_5, "2021-01-01", "2025-09-19", None, True),
    Case("20 coins, 1h, 2024-01..09, 5% band + weekly", COINS_20, "2024-01-01", "2024-09-06", 0.05, True),
]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, float, Any]:
    """One warm-up run, then ``repeats`` timed runs: (median, min, max) seconds and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times), result


def versions() -> str:
    names = ["numpy", "pandas", "bt", "numba", "joblib"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def exchange_rules(coins: list[str], datadir: Path) -> tuple[list[CoinRules], list[ExchangeRules]]:
    """Lot sizes and ticks of the offline exchange (minimum order 5 USDT x freqtrade's reserve)."""
    from freqtrade_smartfolio.exchange.markets import market_rules

    rules = [market_rules(c, datadir, timeframe=None) for c in coins]
    min_order = MIN_NOTIONAL * 1.05 / 0.9
    return (
        [CoinRules(min_order=min_order, step=r.step_size) for r in rules],
        [ExchangeRules(tick=r.tick_size, min_cost=MIN_NOTIONAL, min_amount=r.step_size) for r in rules],
    )


def ohlc_frames(coins: list[str], start: str, end: str, datadir: Path) -> dict[str, pd.DataFrame]:
    """date x coin DataFrames of open/high/low/close, bars every coin has (read from disk once)."""
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    frames: dict[str, dict[str, pd.Series]] = {col: {} for col in ("open", "high", "low", "close")}
    for coin in coins:
        candles = load_candles(coin, "1h", datadir)
        candles = candles[(candles["date"] >= lo) & (candles["date"] <= hi)].set_index("date")
        for col, series in frames.items():
            series[coin] = candles[col]
    joined = {col: pd.concat(series, axis=1, join="inner", sort=True) for col, series in frames.items()}
    return {col: frame.dropna() for col, frame in joined.items()}


# ------------------------------------------------------------------------------ compiled reference


def compiled_reference() -> Callable[..., tuple[float, int]] | None:
    """Clean mode's rules as one numba loop (None when numba is not installed)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def run(closes, dates, goal, band, interval_ns, fee, investment):  # type: ignore[no-untyped-def]
        bars, n = closes.shape
        held = np.zeros(n)
        cash = investment
        last_tick = dates[0]
        rebalances = 0
        for r in range(bars):
            p = closes[r]
            initial = r == 0
            if not initial:
                total = cash
                for i in range(n):
                    total += held[i] * p[i]
                out = False
                if band > 0:
                    for i in range(n):
                        w = held[i] * p[i] / total
                        if abs((w - goal[i]) / goal[i]) > band:
                            out = True
                            break
                due = interval_ns > 0 and dates[r] >= last_tick + interval_ns
                if not out and not due:
                    continue
                if not out:
                    last_tick = dates[r]  # a schedule counts from the last scheduled rebalance
            else:
                last_tick = dates[r]
            base = cash
            values = held * p
            for i in range(n):
                base += values[i]
            for i in range(n):
                amount = (goal[i] - (values[i] / base if base else 0.0)) * base
                if amount == 0:
                    continue
                price = p[i]
                q = amount / price  # bt's Newton search for the quantity, stopped as bt stops it
                full = q * price + abs(q) * price * fee
                while abs(full - amount) > 1e-8 + 1e-16 * abs(amount) and q != 0:
                    q = q - (full - amount) / price
                    full = q * price + abs(q) * price * fee
                held[i] += q
                cash -= q * price + abs(q) * price * fee
            if not initial:
                rebalances += 1
        value = cash  # bt's value at the last close: cash, then each coin in order
        for i in range(n):
            value += held[i] * closes[bars - 1, i]
        return value, rebalances

    def reference(closes: pd.DataFrame, weights: np.ndarray, band: float | None, weekly: bool):
        dates = pd.DatetimeIndex(closes.index).as_unit("ns").asi8
        interval = WEEK_MINUTES * 60_000_000_000 if weekly else 0
        return run(closes.to_numpy(dtype=float), dates, weights, band or 0.0, interval, FEE, INVESTMENT)

    return reference


def run_bt(closes: pd.DataFrame, weights: dict[str, float], band: float | None, weekly: bool) -> float:
    import bt

    runs = [bt.algos.RunOnce()]
    if band is not None:
        runs.append(bt.algos.RunIfOutOfBounds(band))
    if weekly:
        runs.append(bt.algos.RunEveryNPeriods(7 * 24))
    test = bt.Backtest(
        bt.Strategy(
            "rebalance",
            [
                bt.algos.SelectAll(),
                bt.algos.WeighSpecified(**weights),
                bt.algos.Or(runs),
                bt.algos.Rebalance(),
            ],
        ),
        closes,
        initial_capital=INVESTMENT,
        commissions=lambda q, p: abs(q) * p * FEE,
        integer_positions=False,
        progress_bar=False,
    )
    bt.run(test)
    return float(test.strategy.values.iloc[-1])


def bench_case(case: Case, datadir: Path, repeats: int) -> None:
    frames = ohlc_frames(case.coins, case.start, case.end, datadir)
    closes = frames["close"]
    bars, n = closes.shape
    weights = np.full(n, 1 / n)
    targets = Targets(tuple(case.coins), tuple(weights.tolist()))
    rule = RebalanceRule(
        threshold=case.band, relative=True, interval_minutes=WEEK_MINUTES if case.weekly else None
    )
    coin_rules, ex = exchange_rules(case.coins, datadir)
    print(
        f"## {case.name}: {bars} bars x {n} coins, {closes.index[0]:%Y-%m-%d} to {closes.index[-1]:%Y-%m-%d}"
    )
    rows: list[tuple[str, float, float, float, float | None, str]] = []

    def clean() -> tuple[float, int]:
        res = simulate({"close": closes}, targets, rule, fee=FEE, mode="clean", bt_quantities=True)
        return float(res.equity.iloc[-1]), int(res.summary["rebalances"])

    def freqtrade_mode() -> tuple[float, int]:
        res = simulate(frames, targets, rule, coin_rules, FEE, INVESTMENT, exchange=ex)
        return res.final_value, int(res.summary["rebalances"])

    market = as_market(frames)

    def freqtrade_prepared() -> tuple[float, int]:
        res = simulate(market, targets, rule, coin_rules, FEE, INVESTMENT, exchange=ex)
        return res.final_value, int(res.summary["rebalances"])

    sides: list[tuple[str, Callable[[], Any]]] = []
    try:
        import bt  # noqa: F401

        named = dict(zip(case.coins, weights.tolist(), strict=True))
        sides.append(("bt", lambda: (run_bt(closes, named, case.band, case.weekly), None)))
    except ImportError:
        print("(bt not installed: pip install -e '.[bench]')")
    sides.append(("engine clean (bt quantities)", clean))
    sides.append(("engine freqtrade mode, from OHLC", freqtrade_mode))
    sides.append(("engine freqtrade mode, Market prepared", freqtrade_prepared))
    sides.append(("as_market(OHLC): preparation alone", lambda: (as_market(frames), None)))
    reference = compiled_reference()
    if reference is not None:
        sides.append(("numba loop (clean rules)", lambda: reference(closes, weights, case.band, case.weekly)))
    for name, fn in sides:
        median, lo, hi, (final, rebalances) = timed(fn, repeats)
        value = final if isinstance(final, float) else None
        rows.append((name, median, lo, hi, value, "-" if rebalances is None else str(rebalances)))
    base = rows[0][1] if rows[0][0] == "bt" else None
    bt_final = rows[0][4] if base is not None else None
    compiled = next((r[1] for r in rows if r[0].startswith("numba")), None)
    print(
        "\n| run | median s (min-max) | vs bt | vs numba loop | final value | rel. diff to bt | rebalances |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, median, lo, hi, final, rebalances in rows:
        vs_bt = f"{base / median:,.0f}x" if base else "-"
        vs_nb = f"{median / compiled:,.1f}x slower" if compiled and not name.startswith("numba") else "-"
        diff = f"{abs(final - bt_final) / bt_final:.1e}" if final is not None and bt_final else "-"
        shown = f"{final:,.6f}" if final is not None else "-"
        print(
            f"| {name} | {median:.4f} ({lo:.4f}-{hi:.4f}) | {vs_bt} | {vs_nb} | {shown} | {diff} "
            f"| {rebalances} |"
        )
    print()


def bench_sweep(datadir: Path, points: int, jobs_list: list[int], freqtrade_points: int) -> None:
    started = time.perf_counter()
    # the window all 20 coins share in the data (0.68 years; no 20-coin year exists there: outside it
    # some coins have no candle, clean mode refuses those bars and freqtrade mode runs them one by one)
    market = load_market(COINS_20, "1h", "2024-01-01", "2024-09-06", datadir)
    load_seconds = time.perf_counter() - started
    bars, coins = market.close.shape
    years = bars / 8760
    targets = Targets(tuple(COINS_20), tuple([1 / 20] * 20))
    coin_rules, ex = exchange_rules(COINS_20, datadir)
    intervals: list[int | None] = [None, 1440, 10080, 40320]
    print(
        f"## sweep: {coins} coins x {bars} 1h bars ({market.index[0]:%Y-%m-%d} to "
        f"{market.index[-1]:%Y-%m-%d}; {years:.2f} years; load_market took {load_seconds:.2f} s)"
    )
    print(
        "relative bands from 1% to 30% x 4 schedules (none, 1d, 1w, 4w); the market prepared once; "
        "each row's time includes the statistics of every point (stats.summarize); the first call "
        "of a mode in a process loads its compiled code from numba's cache (timed apart)\n"
    )
    print("| mode | points | workers | seconds | points/s | s per 1,000 points per year of 20 coins |")
    print("|---|---|---|---|---|---|")

    def grid(total: int) -> list[float]:
        return np.round(np.linspace(0.01, 0.30, max(1, total // len(intervals))), 6).tolist()

    def run(mode: str, thresholds: list[float], jobs: int) -> tuple[float, pd.DataFrame]:
        started = time.perf_counter()
        table = sweep(
            market,
            targets,
            thresholds,
            intervals,
            relative=True,
            rules=coin_rules,
            fee=FEE,
            investment=10_000.0,
            exchange=ex,
            mode=mode,  # type: ignore[arg-type]
            n_jobs=jobs,
        )
        return time.perf_counter() - started, table

    def row(mode: str, table: pd.DataFrame, jobs: int | str, seconds: float) -> None:
        per = seconds / len(table) * 1000 / years
        print(f"| {mode} | {len(table)} | {jobs} | {seconds:.2f} | {len(table) / seconds:,.1f} | {per:.2f} |")

    modes = [("clean", grid(points))]
    if freqtrade_points:
        modes.append(("freqtrade", grid(freqtrade_points)))
    for mode, thresholds in modes:
        seconds, first = run(mode, thresholds, 1)
        row(f"{mode} (first call: loads the compiled code)", first, 1, seconds)
        for jobs in jobs_list:
            seconds, table = run(mode, thresholds, jobs)
            pd.testing.assert_frame_equal(table, first)
            row(mode, table, jobs, seconds)
    print("\n(the tables of every worker count are identical)\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up (median)")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--points", type=int, default=1000, help="sweep parameter sets (%(default)s)")
    parser.add_argument("--jobs", default="1,2", help="sweep worker counts (%(default)s)")
    parser.add_argument(
        "--freqtrade-points",
        type=int,
        default=1000,
        help="sweep points in freqtrade mode (%(default)s; 0: none)",
    )
    parser.add_argument("--cases", default="1,2,3", help="which cases (%(default)s; '' for none)")
    args = parser.parse_args()
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(f"machine: {machine()}")
    print(f"libraries: {versions()}")
    print(f"each side: one warm-up, median of {args.repeats} (min-max); conversion inside the timer\n")
    for k in filter(None, args.cases.split(",")):
        bench_case(CASES[int(k) - 1], datadir, args.repeats)
    if not args.no_sweep:
        bench_sweep(datadir, args.points, [int(j) for j in args.jobs.split(",")], args.freqtrade_points)


if __name__ == "__main__":
    main()
