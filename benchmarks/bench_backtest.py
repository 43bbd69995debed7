"""Backtest cost of SmartPortfolio as a ratio to a hold-only strategy, inside freqtrade, same run.

Five coins (BTC ETH SOL XRP BNB, equal weights), 1h candles, 2021-01-01 to 2025-09-19, against the
offline exchange. Reports freqtrade's backtest-loop time (start-up and data loading excluded), the
ratio to hold-only, and the time per candle in each year (from the strategies' own candle stamps,
benchmarks/strategies/TimedStrategies.py), to show whether the cost grows with trade history.

    .venv/bin/python benchmarks/bench_backtest.py            # 3 runs per case, ~20 minutes on 2 cores
    .venv/bin/python benchmarks/bench_backtest.py --quick    # 2024 only
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine

from freqtrade_smartfolio.backtest import rebalance_times, run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.marketdata import candle_file, find_data_dir

COINS = ("BTC", "ETH", "SOL", "XRP", "BNB")
STRATEGIES = Path(__file__).resolve().parent / "strategies"


def per_year_ms(stamps: list[list[float]]) -> dict[int, float]:
    """Mean wall time per candle in each calendar year, from (candle time, perf_counter) stamps."""
    frame = pd.DataFrame(stamps, columns=["candle", "clock"])
    frame["seconds"] = frame["clock"].diff().shift(-1)
    frame["year"] = pd.to_datetime(frame["candle"], unit="s", utc=True).dt.year
    return (frame.dropna().groupby("year")["seconds"].mean() * 1000).to_dict()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one year (2024) instead of 2021-2025")
    parser.add_argument("--bands", default="5,2", help="threshold bands in %% (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per case, median reported (%(default)s)")
    args = parser.parse_args()
    timerange = "20240101-20250101" if args.quick else "20210101-20250919"
    datadir = find_data_dir([candle_file(c, "1h") for c in COINS])
    smartfolio = {
        "portfolio": dict.fromkeys(COINS, 20),
        "investment": 10_000,
        "rebalance": {"mode": "proportional", "threshold": 5},
    }
    cases = [("hold-only", "TimedHoldOnly", None)] + [
        (f"SmartPortfolio {band}% band", "TimedSmartPortfolio", float(band)) for band in args.bands.split(",")
    ]
    runs: dict[str, list[dict]] = {}
    years: dict[str, dict[int, float]] = {}
    with OfflineExchange(datadir) as exchange, tempfile.TemporaryDirectory() as tmp:
        # the cases alternate inside each round, so a slow spell of the machine hits them alike
        for attempt in range(args.runs):
            for label, strategy, band in cases:
                section = dict(smartfolio, rebalance={"mode": "proportional", "threshold": band or 5})
                config = build_config(section, timeframe="1h", exchange_url=exchange.url)
                config["strategy"] = strategy
                workdir = Path(tmp) / strategy / str(band) / str(attempt)
                timing = workdir / "timing.json"
                workdir.mkdir(parents=True)
                print(f"running {label} ({attempt + 1}/{args.runs}) ...", file=sys.stderr, flush=True)
                run = run_backtest(
                    config,
                    workdir,
                    datadir,
                    timerange,
                    strategy=strategy,
                    strategy_path=STRATEGIES,
                    env={"SMARTFOLIO_TIMING_FILE": str(timing)},
                )
                stamps = json.loads(timing.read_text())
                years.setdefault(label, per_year_ms(stamps))
                trades = run.result["trades"]
                runs.setdefault(label, []).append(
                    {
                        # first to last candle, by the strategies' own stamps (freqtrade's: whole seconds)
                        "loop_s": stamps[-1][1] - stamps[0][1],
                        "total_s": run.seconds,
                        "rebalances": len(rebalance_times(run.orders)) if band else 0,
                        "orders_per_trade": max(len(t["orders"]) for t in trades) if trades else 0,
                        "final": run.result["final_balance"],
                    }
                )
    rows = []
    for label, samples in runs.items():
        loops = [s["loop_s"] for s in samples]
        row = dict(samples[0])
        row.update(
            case=label,
            loop_s=float(np.median(loops)),
            loop_range=(min(loops), max(loops)),
            total_s=float(np.median([s["total_s"] for s in samples])),
        )
        rows.append(row)
    base = rows[0]["loop_s"]
    print(f"\nfreqtrade backtesting, {', '.join(COINS)} equal weights, 1h, {timerange}")
    print(f"median of {args.runs} runs per case (loop range in brackets)")
    print(f"Machine: {machine()}\n")
    print(
        "| case | backtest loop (s) | ratio to hold-only | whole command (s) | rebalances "
        "| orders in the largest trade | final balance |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        lo, hi = row["loop_range"]
        print(
            f"| {row['case']} | {row['loop_s']:.1f} ({lo:.1f}-{hi:.1f}) | {row['loop_s'] / base:.2f}x | "
            f"{row['total_s']:.1f} | {row['rebalances']} | {row['orders_per_trade']} | {row['final']:,.2f} |"
        )
    all_years = sorted({y for per in years.values() for y in per})
    print("\nWall time per candle (ms), by year:\n")
    print("| case | " + " | ".join(str(y) for y in all_years) + " | last / first |")
    print("|---|" + "---|" * (len(all_years) + 1))
    for label, per in years.items():
        values = [per.get(y, np.nan) for y in all_years]
        print(
            f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {values[-1] / values[0]:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
