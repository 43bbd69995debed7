"""Random real windows for :mod:`.parity` (issue "Real markets at the edges"): :func:`seeded_case` draws a
portfolio of 2-6 coins of the data folder (1h), with or without a cash weight, an absolute or relative band
of 1-8 points, alone or with a 4h/1d/1w schedule, and a window of 20-60 days between 2023-12-20 and 2024-08
(so some start before a coin's first candle), fixed by its seed; :func:`broken_invariants` checks
freqtrade's own orders on it against freqtrade_smartfolio.portfolio.invariants.
``benchmarks/random_windows.py`` runs 40 draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_smartfolio.config import exchange_min_order, parse_settings
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio.invariants import Rules, check
from freqtrade_smartfolio.verify import parity


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
