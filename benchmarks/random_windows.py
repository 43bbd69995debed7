"""Random real windows through real freqtrade (issue "Real markets at the edges"): portfolios of 2-6 coins
drawn from ../shared/data (1h), with and without a cash weight, absolute or relative bands of 1-8 points,
alone or with a 4h/1d/1w schedule, windows of 20-60 days between 2023-12-20 and 2024-08 (so some start
before a coin's first candle). Each draw is fixed by its seed; for each it prints the engine's final value
against freqtrade's (relative difference), whether the fill times agree, and the invariants of
freqtrade_smartfolio.portfolio.invariants broken on freqtrade's own orders (none expected).

    .venv/bin/python benchmarks/random_windows.py [FIRST_SEED [LAST_SEED]]      # default 100 139
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from _machine import machine

from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.verify import parity
from freqtrade_smartfolio.verify.windows import broken_invariants, coins_of, seeded_case


def main() -> None:
    first, last = (int(a) for a in (sys.argv[1:3] + ["100", "139"][len(sys.argv[1:3]) :]))
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(machine())
    print("| seed | portfolio, rule | window | engine vs freqtrade | same fill times | broken invariants |")
    print("|---|---|---|---|---|---|")
    worst, failures, refused, started = 0.0, 0, 0, time.perf_counter()
    for seed in range(first, last + 1):
        case = seeded_case(seed, coins_of(datadir))
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
