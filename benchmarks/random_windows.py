"""Random real windows through real freqtrade (issue "Real markets at the edges"): portfolios of 2-6 coins
drawn from ../shared/data (1h), with and without a cash weight, absolute or relative bands of 1-8 points,
alone or with a 4h/1d/1w schedule, windows of 20-60 days between 2023-12-20 and 2024-08 (so some start
before a coin's first candle). Each draw is fixed by its seed; for each it prints the engine's final value
against freqtrade's (relative difference), whether the fill times agree, and the invariants of
freqtrade_smartfolio.portfolio.invariants broken on freqtrade's own orders (none expected).

    .venv/bin/python benchmarks/random_windows.py [FIRST_SEED [LAST_SEED]] [--universe U]  # 100 139 1h

``--universe``: 1h (the draws above), 5m (the 18 coins with 5m candles, windows of 3-14 days in 2024),
1d (every coin, 60-180 days around 2024), majors-1h / majors-1d (BTC ETH BNB SOL XRP, 2020-09..2025-09:
20-120 days of 1h, 120-420 days of 1d); verify/windows.py's ``universes``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from _machine import machine

from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.verify import parity
from freqtrade_smartfolio.verify.windows import broken_invariants, seeded_case, universes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("first", nargs="?", type=int, default=100)
    parser.add_argument("last", nargs="?", type=int)
    parser.add_argument("--universe", default="1h", help="where the draws come from (%(default)s)")
    args = parser.parse_args()
    first, last = args.first, 139 if args.last is None else args.last
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    known = universes(datadir)
    if args.universe not in known:
        parser.error(f"--universe {args.universe!r}: expected one of {', '.join(known)}")
    universe = known[args.universe]
    print(machine())
    print(f"universe {args.universe}: {len(universe.coins)} coins, {universe.timeframe}")
    print("| seed | portfolio, rule | window | engine vs freqtrade | same fill times | broken invariants |")
    print("|---|---|---|---|---|---|")
    worst, failures, refused, started = 0.0, 0, 0, time.perf_counter()
    for seed in range(first, last + 1):
        case = seeded_case(seed, universe)
        try:
            with parity.case_datadir(case, datadir) as data:
                ft = parity.run_freqtrade(case, data)
                engine = parity.run_engine(case, data)
        except Exception as err:  # refused at start: by the config check, or by freqtrade itself
            why = {
                "below the minimum": "the investment is below the portfolio's minimum",
                "No data found": "no coin of the portfolio has a candle in the window (freqtrade)",
            }
            said = next((text for key, text in why.items() if key in str(err)), None)
            if said is None:
                raise
            refused += 1
            print(
                f"| {seed} | {case.name.split(': ', 1)[1]} | {case.start}-{case.end} | refused at start: "
                f"{said} | - | - |",
                flush=True,
            )
            continue
        rel = abs(engine.final_value / ft.final_balance - 1)
        same = engine.rebalance_times == ft.rebalance_times
        broken = broken_invariants(case, ft.orders, datadir)
        worst = max(worst, rel)
        failures += bool(broken) or not same or rel > 1e-9
        name = case.name.split(": ", 1)[1]
        print(
            f"| {seed} | {name} | {case.start}-{case.end} | {rel:.1e} | {'yes' if same else 'NO'} | "
            f"{'; '.join(broken[:2]) or 'none'} |",
            flush=True,
        )
    print(
        f"\n{last - first + 1} draws ({refused} refused at start), {failures} with a "
        f"difference > 1e-9, other fill times or a broken invariant; largest difference {worst:.1e}; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
