r"""Random real windows for :mod:`.parity` (issue "Real markets at the edges"): :func:`seeded_case` draws a
portfolio of 2-6 coins of the data folder (1h), with or without a cash weight, an absolute or relative band
of 1-8 points, alone or with a 4h/1d/1w schedule, and a window of 20-60 days between 2023-12-20 and 2024-08
(so some start before a coin's first candle), fixed by its seed; :func:`broken_invariants` checks
freqtrade's own orders on it against freqtrade_smartfolio.portfolio.invariants. Other :class:`Universe`\ s
draw the same way on other timeframes and spans (:func:`universes`: 5m, 1d, and the majors' five years).
``benchmarks/random_windows.py`` runs 40 draws."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_smartfolio.config import exchange_min_order, parse_settings
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.invariants import Rules, check
from freqtrade_smartfolio.verify import parity


def coins_of(datadir: Path, timeframe: str = "1h") -> tuple[str, ...]:
    return tuple(sorted(p.name.split("_")[0] for p in datadir.glob(f"*_USDT-{timeframe}.feather")))


@dataclass(frozen=True)
class Universe:
    """Where draws come from: ``coins`` on ``timeframe``, windows starting ``first`` plus 0 to
    ``start_days`` days and lasting ``days`` (min, max) days."""

    coins: tuple[str, ...]
    timeframe: str = "1h"
    first: str = "2023-12-20"
    start_days: int = 200
    days: tuple[int, int] = (20, 60)


MAJORS = ("BNB", "BTC", "ETH", "SOL", "XRP")


def universes(datadir: Path) -> dict[str, Universe]:
    """The draws the data folder allows (its README): every 1h coin in 2024 (the default), the 5m coins
    over days, every 1d coin over months, and the majors over 2020-09..2025-09 on 1h and 1d."""
    majors = tuple(c for c in MAJORS if c in coins_of(datadir, "1d"))
    return {
        "1h": Universe(coins_of(datadir, "1h")),
        "5m": Universe(coins_of(datadir, "5m"), "5m", "2024-01-01", 235, (3, 14)),
        "1d": Universe(coins_of(datadir, "1d"), "1d", "2023-12-01", 100, (60, 180)),
        "majors-1h": Universe(majors, "1h", "2020-09-10", 1700, (20, 120)),
        "majors-1d": Universe(majors, "1d", "2020-09-10", 1400, (120, 420)),
    }


def seeded_case(seed: int, coins: tuple[str, ...] | Universe) -> parity.Case:
    """One draw, fixed by ``seed``, as a case freqtrade can backtest (``coins``: of the 1h universe)."""
    universe = coins if isinstance(coins, Universe) else Universe(coins)
    coins = universe.coins
    rng = np.random.default_rng(seed)
    size = min(int(rng.integers(2, 7)), len(coins))  # the majors are five
    picked = [str(c) for c in rng.choice(coins, size=size, replace=False)]
    cash = int(rng.choice([0, 0, 5, 10]))
    raw = rng.integers(1, 20, size=len(picked)).astype(float)
    shares = np.round(raw / raw.sum() * (100 - cash), 6)
    shares[-1] = round(100 - cash - float(shares[:-1].sum()), 6)
    portfolio = {coin: float(share) for coin, share in zip(picked, shares, strict=True)}
    if cash:
        portfolio["USDT"] = float(cash)
    start = pd.Timestamp(universe.first) + pd.Timedelta(days=int(rng.integers(0, universe.start_days)))
    end = start + pd.Timedelta(days=int(rng.integers(*universe.days)))
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
        universe.timeframe,
        f"{start:%Y%m%d}",
        f"{end:%Y%m%d}",
        investment=float(rng.choice([500.0, 2000.0])),
    )


def broken_invariants(case: parity.Case, orders: pd.DataFrame, datadir: Path) -> list[str]:
    """The invariants freqtrade's own orders break on ``case`` (none expected)."""
    step = pd.Timedelta(minutes=parse_minutes(case.timeframe, "timeframe"))
    start = pd.Timestamp(case.start, tz="UTC")
    end = pd.Timestamp(case.end, tz="UTC") + step
    frames = {
        field: load_closes(case.coins, case.timeframe, start, end, datadir, field=field, join="outer")
        for field in ("open", "close")
    }
    settings = parse_settings({"stake_currency": "USDT", "smartfolio": case.smartfolio})
    rule = settings.rebalance.rule
    minimum = max(settings.min_trade, exchange_min_order(parity.MIN_NOTIONAL, None, 1.0))
    rules = Rules(settings.targets, rule.threshold, rule.relative, minimum, step, case.investment)
    return check(orders, frames["open"], frames["close"], rules)
