"""The engine on docs/performance.md's long backtest: BTC ETH SOL XRP BNB at equal weights, 1h candles
2021-01-01 -> 2025-09-19, 10,000 USDT, bands of 5, 2, 1 and 0.5 points (the strategy's
``proportional`` mode), freqtrade mode, through ``verify.parity.run_engine`` (the candle
files read and the market prepared inside the timer). Each band: one warm-up, then the median of 3.

    .venv/bin/python benchmarks/bench_long_engine.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.verify.parity import Case, run_engine

COINS = ("BTC", "ETH", "SOL", "XRP", "BNB")


def main() -> None:
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(machine())
    for band in (5, 2, 1, 0.5):
        case = Case(
            f"5 coins, {band}% band",
            {c: 20 for c in COINS},
            {"mode": "proportional", "threshold": band},
            "1h",
            "20210101",
            "20250919",
            investment=10_000,
        )
        result = run_engine(case, datadir)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            result = run_engine(case, datadir)
            times.append(time.perf_counter() - started)
        print(
            f"engine, 5 coins, 1h, 20210101-20250919, {band}% band: {statistics.median(times):.3f} s, "
            f"final {result.final_value:,.2f}, rebalances {result.summary['rebalances']}"
        )


if __name__ == "__main__":
    main()
