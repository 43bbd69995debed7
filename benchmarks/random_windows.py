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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_parity as parity
from _machine import machine

from freqtrade_smartfolio.config import exchange_min_order, parse_settings
from freqtrade_smartfolio.marketdata import find_data_dir, load_closes
from freqtrade_smartfolio.portfolio.invariants import Rules, check


def coins_of(datadir: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name.split("_")[0] for p in datadir.glob("*_USDT-1h.feather")))


def seeded_case(seed: int, coins: tuple[str, ...]) -> parity.Case:
    """One draw, fixed by ``seed``, as a case freqtrade can backtest."""
    rng = np.random.default_rng(seed)
    picked = [str(c) for c in rng.choice(coins, size=int(rng.integers(2, 7)), replace=False)]
    cash = int(rng.choice([0, 0, 5, 10]))
    raw = rng.integers(1, 20, size=len(picked)).astype(float)
    shares = np.round(raw / raw.sum() * (100 - cash), 6)
    shares[-1] = round(100 - cash - float(shares[:-1].sum()), 6)
    portfolio = {coin: float(share) for coin, share in zip(picked, shares, strict=True)}
    if cash:
        portfolio["USDT"] = float(cash)
    start = pd.Timestamp("2023-12-20") + pd.Timedelta(days=int(rng.integers(0, 200)))
    end = start + pd.Timedelta(days=int(rng.integers(20, 60)))
    threshold = round(float(rng.uniform(1, 8)), 2)
    rebalance = (
        {"mode": "proportional", "threshold": threshold, "band": str(rng.choice(["absolute", "relative"]))}
        if rng.random() < 0.6
        else {"mode": "both", "threshold": threshold, "interval": str(rng.choice(["4h", "1d", "1w"]))}
    )
    return parity.Case(
        f"seed {seed}: {portfolio}, {rebalance}",
        portfolio,
        rebalance,
        "1h",
        f"{start:%Y%m%d}",
        f"{end:%Y%m%d}",
        investment=float(rng.choice([500.0, 2000.0])),
    )


def broken_invariants(case: parity.Case, orders: pd.DataFrame, datadir: Path) -> list[str]:
    """The invariants freqtrade's own orders break on ``case`` (none expected)."""
    start = pd.Timestamp(case.start, tz="UTC")
    end = pd.Timestamp(case.end, tz="UTC") + pd.Timedelta(hours=1)
    frames = {
        field: load_closes(case.coins, "1h", start, end, datadir, field=field, join="outer")
        for field in ("open", "close")
    }
    settings = parse_settings({"stake_currency": "USDT", "smartfolio": case.smartfolio})
    rule = settings.rebalance.rule
    minimum = max(settings.min_trade, exchange_min_order(parity.MIN_NOTIONAL, None, 1.0))
    rules = Rules(
        settings.targets, rule.threshold, rule.relative, minimum, pd.Timedelta(hours=1), case.investment
    )
    return check(orders, frames["open"], frames["close"], rules)


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
        except Exception as err:  # the config check refuses an investment too small for the coins
            if "below the minimum" not in str(err):
                raise
            refused += 1
            print(
                f"| {seed} | {case.name.split(': ', 1)[1]} | {case.start}-{case.end} | refused at start: "
                "the investment is below the portfolio's minimum | - | - |",
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
        f"\n{last - first + 1} draws ({refused} refused at start by the config check), {failures} with a "
        f"difference > 1e-9, other fill times or a broken invariant; largest difference {worst:.1e}; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
