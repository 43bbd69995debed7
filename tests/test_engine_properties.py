"""Random real windows through the fast engine in freqtrade mode: the invariants of tests/invariants.py
hold on any portfolio, band, schedule and window, including windows that start before a coin's first
candle and end after another's last.

Draws: 2-12 coins of ../shared/data (1h; the majors run 2020-2025, the others 2024-01..09, some listed
inside 2024), random weights with and without a cash weight, bands of 0.5-10 points absolute or
relative, schedules from 1h to 4 weeks, windows of 2 weeks to 6 months between 2023-12 and 2024-12.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from freqtrade_smartfolio.config import exchange_min_order
from freqtrade_smartfolio.exchange.markets import market_rules
from freqtrade_smartfolio.portfolio.engine import ExchangeRules, load_market, simulate
from freqtrade_smartfolio.portfolio.invariants import Rules, check
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.verify import parity, windows

MIN_NOTIONAL = 5.0  # the offline exchange's min notional (Binance's for USDT pairs)
MIN_TRADE = 5.0
FEE = 0.001


@cache
def universe(datadir: str) -> tuple[str, ...]:
    return windows.coins_of(Path(datadir))


@st.composite
def draws(draw, coins: tuple[str, ...]):
    picked = draw(st.lists(st.sampled_from(coins), min_size=2, max_size=12, unique=True))
    raw = draw(st.lists(st.integers(1, 20), min_size=len(picked), max_size=len(picked)))
    cash = draw(st.sampled_from([0, 0, 0, 5, 10, 20]))
    shares = np.array(raw, dtype=float) / sum(raw) * (100 - cash)
    start = pd.Timestamp("2023-12-15", tz="UTC") + pd.Timedelta(hours=draw(st.integers(0, 24 * 330)))
    end = start + pd.Timedelta(days=draw(st.integers(14, 180)))
    relative = draw(st.booleans())
    threshold = draw(st.one_of(st.none(), st.floats(0.5, 10.0)))
    interval = draw(st.sampled_from([None, 60, 240, 1440, 7 * 1440, 28 * 1440]))
    if threshold is None and interval is None:
        threshold = 5.0
    investment = draw(st.sampled_from([300.0, 1000.0, 10_000.0]))
    return picked, shares, cash, start, end, relative, threshold, interval, investment


def rules_for(coins, datadir: Path, last_close: np.ndarray):
    coin_rules, exchange = [], []
    for coin, price in zip(coins, last_close, strict=True):
        market = market_rules(coin, datadir, timeframe=None)
        floor = exchange_min_order(MIN_NOTIONAL, market.step_size, float(price))
        coin_rules.append(CoinRules(min_order=max(MIN_TRADE, floor), step=market.step_size))
        exchange.append(
            ExchangeRules(tick=market.tick_size, min_cost=MIN_NOTIONAL, min_amount=market.step_size)
        )
    return coin_rules, exchange


def test_invariants_hold_on_random_real_windows(require_data):
    datadir = require_data(["BTC_USDT-1h.feather", "ENA_USDT-1h.feather"])
    coins = universe(str(datadir))

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each draw is a real window
        suppress_health_check=list(HealthCheck),
    )
    @given(draws(coins))
    def run(draw):
        picked, shares, cash, start, end, relative, threshold, interval, investment = draw
        try:
            market = load_market(picked, "1h", start, end, datadir)
        except ValueError as err:  # a window before or after every chosen coin's candles
            assert "no candle" in str(err), err
            return
        if len(market.dates) < 2:
            return
        last = pd.DataFrame(market.close).ffill().iloc[-1].to_numpy()
        coin_rules, exchange = rules_for(market.coins, datadir, last)
        targets = Targets(tuple(picked), tuple(float(s) / 100 for s in shares), cash / 100)
        rule = RebalanceRule(
            threshold=None if threshold is None else threshold / 100,
            relative=relative,
            interval_minutes=interval,
        )
        result = simulate(market, targets, rule, coin_rules, FEE, investment, exchange=exchange)
        orders = result.trades.assign(tag="")
        frames = {
            name: pd.DataFrame(
                np.where(market.valid, getattr(market, name), np.nan),
                index=market.index,
                columns=list(picked),
            )
            for name in ("open", "close")
        }
        check_rules = Rules(
            targets=targets,
            threshold=rule.threshold,
            relative=relative,
            min_order=min(r.min_order for r in coin_rules),
            timeframe=pd.Timedelta(hours=1),
            start_cash=investment,
        )
        problems = check(orders, frames["open"], frames["close"], check_rules)
        assert problems == [], (picked, start, end, threshold, relative, interval, investment, problems[:5])
        assert np.isfinite(result.final_value) and result.final_value > 0

    run()


@pytest.mark.parametrize("relative", [False, True])
def test_the_engine_defaults_are_the_strategys(relative):
    """Item 6: without rules the engine uses the strategy's 5 USDT minimum, so float leftovers never
    become 'completion' rebalances (a generated walk: this is arithmetic, not market behaviour)."""
    rng = np.random.default_rng(7)
    steps = rng.normal(0, 0.01, size=(2000, 2))
    close = pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), columns=["A", "B"])
    close.index = pd.date_range("2024-01-01", periods=2000, freq="h", tz="UTC")
    targets = Targets(("A", "B"), (0.5, 0.5))
    rule = RebalanceRule(threshold=0.05, relative=relative)
    result = simulate({"open": close, "close": close}, targets, rule, investment=1000.0)
    kinds = result.rebalances["kind"].value_counts().to_dict()
    assert kinds.get("completion", 0) <= kinds.get("threshold", 0)
    assert (result.trades["value"] >= 5.0 * (1 - 1e-9)).all()
    assert (result.trades["amount"] > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23])
def test_seeded_random_draws_through_freqtrade_equal_the_engine(require_data, seed):
    """Random portfolios and windows (fixed by seed, benchmarks/random_windows.py runs 40 of them)
    through real freqtrade: the engine's final value within 1e-9, the same fill times, and the
    invariants hold on freqtrade's own orders."""
    datadir = require_data(["BTC_USDT-1h.feather", "ENA_USDT-1h.feather"])
    case = windows.seeded_case(seed, windows.coins_of(datadir))
    with parity.case_datadir(case, datadir) as data:
        ft = parity.run_freqtrade(case, data)
        engine = parity.run_engine(case, data)
    assert engine.final_value == pytest.approx(ft.final_balance, rel=1e-9), case.name
    assert engine.rebalance_times == ft.rebalance_times, case.name
    assert windows.broken_invariants(case, ft.orders, datadir) == [], case.name


def test_a_seed_draws_the_window_the_docs_name(require_data):
    """benchmarks/random_windows.py's seeds reproduce (docs/markets-at-the-edges.md lists them), and
    the other universes draw on their own timeframe and span."""
    datadir = require_data(["BTC_USDT-1h.feather", "ENA_USDT-1h.feather"])
    case = windows.seeded_case(514, windows.coins_of(datadir))
    assert case == windows.seeded_case(514, windows.universes(datadir)["1h"])
    assert (case.start, case.end, case.timeframe) == ("20240426", "20240527", "1h")
    assert case.portfolio["POND"] == 17.1875
    for name, universe in windows.universes(datadir).items():
        drawn = windows.seeded_case(600, universe)
        assert drawn.timeframe == universe.timeframe, name
        assert set(drawn.coins) <= set(universe.coins), name
