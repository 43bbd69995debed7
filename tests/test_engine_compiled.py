"""The compiled kernels (engine/compiled.py) against plain Python/numpy implementations of the same
rules: two implementations checked against each other on random markets with hypothesis, bit for bit.

The Python reference of clean mode below is the engine's clean mode before it was compiled (the
vectorised trigger scan and the scalar rebalance of kernel.py at ed4a092), kept here as the oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freqtrade_smartfolio.portfolio import engine as E
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets


def _market(closes: np.ndarray, tf_minutes: int = 60) -> E.Market:
    bars = len(closes)
    dates = (np.arange(bars, dtype=np.int64) * tf_minutes + 28_401_120) * E.NS_PER_MINUTE  # 2024-01-01
    closes = np.ascontiguousarray(closes, dtype=float)
    return E.Market(tuple(f"C{i}" for i in range(closes.shape[1])), dates, closes, closes, float(tf_minutes))


def _reference_clean(market: E.Market, settings: Settings, hold: bool = False) -> E.KernelOutput:
    """Clean mode as the Python kernel ran it (numpy scan over all remaining bars, scalar rebalance)."""
    close, dates = market.close, market.dates
    targets, rule, fee = settings.targets, settings.rule, settings.fee
    n = len(market.coins)
    goal = np.append(targets.array, targets.cash)
    threshold = float(rule.threshold or 0.0)
    out = E.KernelOutput()

    def out_of_band(lo: int, hi: int, amounts: np.ndarray, cash: float) -> np.ndarray:
        buf = np.empty((hi - lo, n + 1))
        buf[:, 0] = cash
        values = np.multiply(close[lo:hi], amounts, out=buf[:, 1:])
        total = np.cumsum(buf, axis=1)[:, -1]
        w = values / total[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if rule.relative:
                hit = (np.abs((w - goal[:-1]) / goal[:-1]) > threshold).any(axis=1)
            else:
                hit = (np.abs(w - goal[:-1]) > threshold).any(axis=1)
        if targets.cash > 0:
            hit |= np.abs(cash / total - goal[-1]) > threshold
        return hit

    def scan(first: int, amounts: np.ndarray, cash: float, last_tick: int) -> int:
        bars = len(dates)
        schedule_row = bars
        if rule.interval_minutes is not None:
            due = last_tick + rule.interval_minutes * E.NS_PER_MINUTE
            schedule_row = max(first, int(np.searchsorted(dates, due, side="left")))
        if rule.threshold is None:
            return schedule_row if schedule_row < bars else -1
        if not (amounts > 0).any():
            return first
        hits = np.flatnonzero(out_of_band(first, min(bars, schedule_row), amounts, cash))
        if len(hits):
            return first + int(hits[0])
        return schedule_row if schedule_row < bars else -1

    amounts = np.zeros(n)
    held = [0.0] * n
    cash = settings.investment
    last_tick = 0
    weights = targets.weights
    r = 0
    while r < len(dates):
        if cash != settings.investment or any(held):
            if hold:
                break
            r = scan(r, amounts, cash, last_tick)
            if r < 0:
                break
            schedule = rule.threshold is None or (
                rule.interval_minutes is not None and not out_of_band(r, r + 1, amounts, cash)[0]
            )
            kind = "schedule" if schedule else "threshold"
            if schedule:
                last_tick = int(dates[r])
        else:
            kind = "initial"
            last_tick = int(dates[r])
        prices = close[r].tolist()
        values = [held[i] * prices[i] for i in range(n)]
        base = cash
        for v in values:
            base += v
        event = len(out.events)
        for i in range(n):
            p = prices[i]
            amount = (weights[i] - (values[i] / base if base else 0.0)) * base
            if amount == 0:
                continue
            if settings.bt_quantities:
                q = E.bt_quantity(amount, p, fee)
            else:
                q = amount / (p * (1 + fee)) if amount > 0 else amount / (p * (1 - fee))
            commission = abs(q) * p * fee
            held[i] += q
            cash -= q * p + commission
            out.fees += commission
            if kind != "initial":
                out.traded_value += abs(q) * p
            out.fills.append((r, i, "buy" if q > 0 else "sell", abs(q), p, commission, event))
        amounts = np.array(held)
        if kind != "initial":
            out.rebalances += 1
        out.events.append((r, kind, "" if kind == "initial" else kind, False))
        out.change_rows.append(r)
        out.amounts.append(amounts.copy())
        out.cash.append(cash)
        r += 1
    gross = float(np.dot(amounts, close[-1]))
    out.fees += gross * fee
    out.final_value = cash + gross * (1 - fee)
    return out


def _same(a: E.KernelOutput, b: E.KernelOutput) -> None:
    assert a.change_rows == b.change_rows
    assert all(np.array_equal(x, y) for x, y in zip(a.amounts, b.amounts, strict=True))
    assert a.cash == b.cash
    assert a.events == b.events
    assert a.fills == b.fills
    assert (a.fees, a.traded_value, a.rebalances, a.final_value) == (
        b.fees,
        b.traded_value,
        b.rebalances,
        b.final_value,
    )


@st.composite
def clean_cases(draw):
    coins = draw(st.integers(1, 6))
    bars = draw(st.integers(2, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    vol = draw(st.sampled_from([0.002, 0.02, 0.08]))
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, vol, size=(bars, coins)), axis=0))
    if draw(st.booleans()):
        closes = np.round(closes, 2)
    raw = np.array(draw(st.lists(st.integers(0, 20), min_size=coins, max_size=coins)), dtype=float)
    cash = draw(st.sampled_from([0.0, 0.0, 0.1, 0.3]))
    if raw.sum() == 0:
        raw[0] = 1.0
    weights = tuple((raw / raw.sum() * (1 - cash)).tolist())
    threshold = draw(st.one_of(st.none(), st.floats(0.001, 0.5)))
    interval = draw(st.sampled_from([None, 60, 180, 1440, 10080]))
    if threshold is None and interval is None:
        threshold = 0.05
    rule = RebalanceRule(threshold=threshold, relative=draw(st.booleans()), interval_minutes=interval)
    fee = draw(st.sampled_from([0.0, 0.001, 0.0025]))
    return (
        closes,
        Targets(tuple(f"C{i}" for i in range(coins)), weights, cash),
        rule,
        fee,
        draw(st.booleans()),
    )


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(clean_cases(), st.booleans())
def test_compiled_clean_mode_equals_the_python_kernel(case, hold):
    closes, targets, rule, fee, bt_quantities = case
    market = _market(closes)
    settings_ = Settings.resolve(market, targets, rule, None, fee, 1000.0, None, "clean", bt_quantities)
    ours = E.run_kernel(
        market, targets, rule, fee=fee, mode="clean", bt_quantities=bt_quantities, hold=hold, record=True
    )
    _same(ours, _reference_clean(market, settings_, hold=hold))


def test_compiled_clean_sweep_equals_single_runs():
    closes = np.round(100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.02, (600, 4)), axis=0)), 2)
    market = _market(closes)
    targets = Targets(("C0", "C1", "C2", "C3"), (0.4, 0.3, 0.2, 0.1))
    thresholds, intervals = [0.01, 0.05, None], [None, 1440]
    table = E.sweep(market, targets, thresholds, intervals, relative=True, mode="clean")
    for row in table.itertuples():
        threshold = None if math.isnan(row.threshold) else row.threshold
        interval = None if math.isnan(row.interval_minutes) else int(row.interval_minutes)
        rule = RebalanceRule(threshold=threshold, relative=True, interval_minutes=interval)
        single = E.simulate(market, targets, rule, mode="clean")
        assert row.final_value == single.final_value
        assert row.rebalances == single.summary["rebalances"]
        assert row.total_return == pytest.approx(single.summary["total_return"], rel=0, abs=0)
