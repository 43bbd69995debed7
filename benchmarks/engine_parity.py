"""Engine vs ``freqtrade backtesting`` with SmartPortfolio: final value and rebalance times.

Run: ``.venv/bin/python benchmarks/engine_parity.py`` (prints a markdown table). The runner is
freqtrade_smartfolio/verify/parity.py, the windows freqtrade_smartfolio/verify/cases.py (the tests use both).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.verify.cases import CASES, EDGE_CASES
from freqtrade_smartfolio.verify.parity import compare, exchange_kind

HEADER = (
    "| portfolio | tf | window | engine final | freqtrade final | rel. diff "
    "| fill times engine / freqtrade | same times | freqtrade s | engine s |"
)


def main() -> None:
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(f"exchange: {exchange_kind()}, data: {datadir}\n")
    print(HEADER + " unfilled sales |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in [*CASES, *EDGE_CASES]:
        c = compare(case, datadir)
        print(
            f"| {case.name} | {case.timeframe} | {case.start}-{case.end} | {c.engine_final:.8f} | "
            f"{c.freqtrade_final:.8f} | {c.rel_diff:.2e} | "
            f"{c.engine_rebalances} / {c.freqtrade_rebalances} | {'yes' if c.same_times else 'no'} | "
            f"{c.freqtrade_seconds:.1f} | {c.engine_seconds:.3f} | {c.unfilled_sales} |"
        )


if __name__ == "__main__":
    main()
