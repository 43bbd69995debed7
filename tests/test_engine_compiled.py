"""The compiled kernels (engine/compiled.py; compiled_exact, compiled_planner, compiled_freqtrade and
compiled_freqtrade_sweep) against the plain Python/numpy implementations of the same rules: two
implementations checked against each other on random markets with hypothesis, bit for bit.

The Python reference of clean mode below is the engine's clean mode before it was compiled (the
vectorised trigger scan and the scalar rebalance of kernel.py at ed4a092), kept here as the oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, target
from hypothesis import strategies as st

from freqtrade_smartfolio.portfolio import engine as E
from freqtrade_smartfolio.portfolio.engine import compiled_exact as cx
from freqtrade_smartfolio.portfolio.engine import compiled_planner as cp
from freqtrade_smartfolio.portfolio.engine import fills as F
from freqtrade_smartfolio.portfolio.engine.api import _result
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.lots import truncate_to_step
from freqtrade_smartfolio.portfolio.plan import FEE_ITERATIONS, CoinRules, RebalanceRule
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


# ---------------------------------------------------------------- freqtrade mode compiled


def test_numpy_sum_is_numpys():
    rng = np.random.default_rng(5)
    for n in list(range(0, 129)) * 5:
        a = rng.lognormal(0, 3, n) * rng.choice([1.0, 1e-8, 1e8], n)
        assert cx.np_sum(a) == float(a.sum())


@settings(deadline=None, max_examples=2000)
@given(
    st.one_of(
        st.floats(1e-9, 1e7),
        st.integers(1, 10**9).map(lambda k: k / 1000),  # decimal values, half-way points among them
        st.integers(1, 10**7).map(lambda k: (2 * k + 1) / 2000),
    ),
    st.integers(0, 10),
)
@example(x=8388608.063381664, d=8)  # an ulp spans "...664" and the half-way "...665": the repr is "...664"
def test_compiled_roundings_are_pythons(x, d):
    assume(x * 10**d < 2**50)  # beyond, the compiled helpers say they cannot decide (tested below)
    rounded, ok = cx.py_round(x, d)
    assert ok and rounded == round(x, d)
    tick = float(f"1e-{d}")
    price, ok = cx.price_to_precision(x, d)
    assert ok and price == E.price_to_precision(x, tick)
    for amount in (x, x * (1 + 1e-9), x * (1 - 1e-9), round(x, d), round(x, d) * (1 + 1e-12)):
        lots, ok = cx.truncate_to_step(amount, tick, d)
        assert ok and lots == truncate_to_step(amount, tick, d)
        grid, ok = cx.on_grid(amount, tick, d)
        assert ok and grid == E.on_grid(amount, tick, d)


def test_compiled_roundings_beyond_exact_say_so():
    assert cx.py_round(450360.0, 10) == (450360.0, False)
    assert cx.price_to_precision(450360.1, 12)[1] is False
    assert cx.truncate_to_step(4.0e10, 1e-8, 8)[1] is False


@st.composite
def plan_states(draw):
    n = draw(st.integers(1, 24))
    weights = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    cash_w = draw(st.sampled_from([0.0, 0.0, 0.1]))
    weights = weights / weights.sum() * (1 - cash_w)
    prices = np.array(draw(st.lists(st.floats(0.001, 50_000), min_size=n, max_size=n)))
    values = np.array(draw(st.lists(st.floats(0, 3000), min_size=n, max_size=n)))
    steps = np.array([draw(st.sampled_from([0.0, 1e-5, 0.001, 0.1, 1.0])) for _ in range(n)])
    amounts = np.array([E.on_grid(v / p, s) for v, p, s in zip(values, prices, steps, strict=True)])
    cash = draw(st.floats(0, 2000))
    min_orders = np.full(n, draw(st.sampled_from([0.0, 5.0, 5.8333333333, 50.0])))
    fee = draw(st.sampled_from([0.0, 0.001, 0.0075]))
    return amounts, prices, cash, weights, cash_w, min_orders, steps, fee


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_states(), st.booleans())
def test_compiled_fast_plan_equals_fast_plan(case, buys_only):
    amounts, prices, cash, goal, cash_w, min_orders, steps, fee = case
    n = len(amounts)
    sells, buys = E.fast_plan(
        amounts, prices, cash, goal, cash_w, min_orders.tolist(), steps.tolist(), fee, buys_only=buys_only
    )
    side, amount, value = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
    count = cp.fast_plan(
        amounts, prices, cash, goal, cash_w, min_orders, steps, fee, buys_only, side, amount, value
    )
    assert count == len(sells) + len(buys)
    assert [(i, amount[i], value[i]) for i in range(n) if side[i] < 0] == sells
    assert sorted((i, amount[i], value[i]) for i in range(n) if side[i] > 0) == sorted(buys)


def _random_walk_market(draw, coins: int, vols: list[float]):
    """A generated OHLC walk of ``coins`` coins (arithmetic of the loops, not market behaviour), its
    targets and its price scale."""
    bars = draw(st.integers(3, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vol = draw(st.sampled_from(vols))
    base = draw(st.sampled_from([0.01, 1.0, 100.0, 30_000.0]))
    closes = base * np.exp(np.cumsum(rng.normal(0, vol, size=(bars, coins)), axis=0))
    opens = closes * np.exp(rng.normal(0, vol / 3, size=(bars, coins)))
    highs = np.maximum(opens, closes) * (1 + np.abs(rng.normal(0, vol / 2, size=(bars, coins))))
    lows = np.minimum(opens, closes) * (1 - np.abs(rng.normal(0, vol / 2, size=(bars, coins))))
    raw = np.array(draw(st.lists(st.integers(1, 20), min_size=coins, max_size=coins)), dtype=float)
    cash = draw(st.sampled_from([0.0, 0.0, 0.1]))
    targets = Targets(
        tuple(f"C{i}" for i in range(coins)), tuple((raw / raw.sum() * (1 - cash)).tolist()), cash
    )
    dates = (np.arange(bars, dtype=np.int64) * 60 + 28_401_120) * E.NS_PER_MINUTE
    market = E.Market(targets.coins, dates, opens, closes, 60.0, high=highs, low=lows)
    return market, targets, base


@st.composite
def freqtrade_cases(draw):
    coins = draw(st.integers(1, 10))
    market, targets, base = _random_walk_market(draw, coins, [0.003, 0.02, 0.06])
    threshold = draw(st.one_of(st.none(), st.floats(0.002, 0.3)))
    interval = draw(st.sampled_from([None, 60, 180, 1440]))
    if threshold is None and interval is None:
        threshold = 0.02
    rule = RebalanceRule(threshold=threshold, relative=draw(st.booleans()), interval_minutes=interval)
    decimals = [draw(st.integers(0, 8)) for _ in range(coins)]
    ticks = [draw(st.sampled_from([0.0, 10.0 ** -max(0, 6 - round(math.log10(base)))])) for _ in range(coins)]
    rules = [
        CoinRules(min_order=draw(st.sampled_from([0.0, 5.0, 5.8333333333, 30.0])), step=float(f"1e-{d}"))
        if draw(st.booleans())
        else CoinRules(min_order=5.0, step=0.0)
        for d in decimals
    ]
    exchange = [
        E.ExchangeRules(tick=t, min_cost=draw(st.sampled_from([0.0, 5.0])), min_amount=r.step)
        for t, r in zip(ticks, rules, strict=True)
    ]
    investment = draw(st.sampled_from([100.0, 1000.0, 100_000.0]))
    fee = draw(st.sampled_from([0.0, 0.001, 0.0075]))
    return market, targets, rule, rules, exchange, fee, investment


def _python_freqtrade(market, targets, rule, rules, exchange, fee, investment, **kwargs):
    previous = F.COMPILED
    F.COMPILED = False
    try:
        return E.run_kernel(market, targets, rule, rules, fee, investment, exchange=exchange, **kwargs)
    finally:
        F.COMPILED = previous


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(freqtrade_cases(), st.booleans(), st.booleans())
def test_compiled_freqtrade_mode_equals_the_python_kernel(case, record, hold):
    market, targets, rule, rules, exchange, fee, investment = case
    settings_ = Settings.resolve(market, targets, rule, rules, fee, investment, exchange, "freqtrade")
    kernel = F.FreqtradeKernel(market, settings_, record)
    ours = kernel._run_compiled(hold)
    assert ours is not None  # the compiled loop applies and decided every rounding
    theirs = _python_freqtrade(
        market, targets, rule, rules, exchange, fee, investment, record=record, hold=hold
    )
    _same(ours, theirs)
    if record:  # the result frames, built from the compiled run's columns, are the Python run's
        a = _result(market, ours, investment, "freqtrade")
        b = _result(market, theirs, investment, "freqtrade")
        pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
        pd.testing.assert_frame_equal(a.weights, b.weights, check_exact=True)
        pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
        pd.testing.assert_frame_equal(a.rebalances, b.rebalances, check_exact=True)
        assert pd.Series(a.summary).equals(pd.Series(b.summary))  # NaN where NaN


def test_compiled_freqtrade_sweep_equals_the_python_sweep():
    rng = np.random.default_rng(11)
    closes = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (700, 4)), axis=0)), 2)
    opens = np.round(closes * np.exp(rng.normal(0, 0.005, closes.shape)), 2)
    market = _market(closes)
    market = E.Market(market.coins, market.dates, opens, closes, 60.0)
    targets = Targets(market.coins, (0.4, 0.3, 0.2, 0.05), 0.05)
    rules = [CoinRules(5.0, 0.001), CoinRules(5.0, 0.01), CoinRules(10.0, 0.1), CoinRules(5.0, 0.0)]
    exchange = [E.ExchangeRules(0.01, 5.0, r.step) for r in rules]
    args = (market, targets, [0.005, 0.02, 0.1, None], [None, 180, 1440])
    kwargs = {"relative": True, "rules": rules, "exchange": exchange, "investment": 5000.0}
    ours = E.sweep(*args, **kwargs, n_jobs=2)
    previous = F.COMPILED
    F.COMPILED = False
    try:
        theirs = E.sweep(*args, **kwargs, n_jobs=1)
    finally:
        F.COMPILED = previous
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def test_the_compiled_cache_is_keyed_on_every_compiled_module(tmp_path, monkeypatch):
    """The sweep inlines freqtrade_kernel from another file: its cached machine code must be dropped
    when that file alone changes (numba keys a function on its own file only)."""
    from freqtrade_smartfolio.portfolio.engine import compiled_freqtrade_sweep, jit_cache

    locator = compiled_freqtrade_sweep.freqtrade_sweep._cache._impl._locator
    assert isinstance(locator, jit_cache._EngineStamp)
    assert locator.get_source_stamp() == jit_cache.engine_source_stamp()
    for module in jit_cache.ENGINE_DIR.glob("compiled*.py"):
        (tmp_path / module.name).write_bytes(module.read_bytes())
    monkeypatch.setattr(jit_cache, "ENGINE_DIR", tmp_path)
    before = jit_cache.engine_source_stamp()
    kernel = tmp_path / "compiled_freqtrade.py"
    kernel.write_text(kernel.read_text() + "\n# changed\n")
    assert jit_cache.engine_source_stamp() != before


# ---------------------------------------------------------------- market preparation compiled

HOUR_NS = 60 * E.NS_PER_MINUTE


def _reference_ticks(index: pd.DatetimeIndex, ohlc: list[np.ndarray], valid: np.ndarray | None) -> np.ndarray:
    """as_market's price precision before it was compiled: pandas, coin by coin, cells without a
    candle as NaN."""
    from freqtrade_smartfolio.portfolio.engine.market import backtest_price_ticks_reference

    coins = ohlc[0].shape[1]
    with np.errstate(all="ignore"):  # huge and tiny values in the vectorised digits
        return np.column_stack(
            [
                backtest_price_ticks_reference(
                    index,
                    [
                        col[:, k] if valid is None else np.where(valid[:, k], col[:, k], np.nan)
                        for col in ohlc
                    ],
                )
                for k in range(coins)
            ]
        )


prices = st.one_of(
    st.integers(1, 10**9).map(lambda k: k / 1000),  # a few decimals
    st.tuples(st.integers(1, 10**8), st.integers(0, 12)).map(lambda t: t[0] / 10 ** t[1]),
    st.tuples(st.integers(1, 10**7), st.integers(0, 12)).map(
        lambda t: (2 * t[0] + 1) / 2 / 10 ** t[1]
    ),  # ties
    st.floats(1e-9, 1e7),
    st.floats(1e-300, 1e300),
    st.sampled_from([1.0, 10.0, 0.1, 0.30000000000000004, 9.999999999999999, 99999.99999999999, 1e13, 1e-12]),
    st.sampled_from([123456789012345.0, 2.5e-7, 5e-324, 1.7976931348623157e308]),
)


@st.composite
def ohlc_markets(draw):
    bars = draw(st.integers(1, 40))
    coins = draw(st.integers(1, 4))
    step_hours = draw(st.sampled_from([1, 24, 24 * 9, 24 * 31, 24 * 70]))
    start = draw(st.integers(0, 24 * 365 * 60)) * HOUR_NS  # 1970-2030, some months without a bar
    dates = start + np.arange(bars, dtype=np.int64) * step_hours * HOUR_NS
    index = pd.DatetimeIndex(dates.astype("datetime64[ns]")).tz_localize("UTC")
    base = np.array(draw(st.lists(prices, min_size=bars * coins, max_size=bars * coins))).reshape(bars, coins)
    columns = []
    for _ in range(4):  # open, high, low, close: repeats of the base (as candles repeat prices) or new
        fresh = np.array(draw(st.lists(prices, min_size=bars * coins, max_size=bars * coins))).reshape(
            bars, coins
        )
        pick = np.array(draw(st.lists(st.booleans(), min_size=bars * coins, max_size=bars * coins)))
        columns.append(np.where(pick.reshape(bars, coins), base, fresh))
    valid = None
    if draw(st.booleans()):
        valid = np.array(draw(st.lists(st.booleans(), min_size=bars * coins, max_size=bars * coins)))
        valid = valid.reshape(bars, coins)
    return index, columns, valid


@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(ohlc_markets())
def test_compiled_price_ticks_equal_pandas(case):
    """The compiled price precision (as_market's) is the pandas reference's, bit for bit."""
    from freqtrade_smartfolio.portfolio.engine.market import _price_ticks

    index, columns, valid = case
    ours = _price_ticks(index, columns, valid)
    theirs = _reference_ticks(index, columns, valid)
    assert ours.shape == theirs.shape
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.array_equal(np.nan_to_num(ours).view(np.int64), np.nan_to_num(theirs).view(np.int64))


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.one_of(prices, st.sampled_from([0.0, -1.5, -0.001, np.nan, np.inf])), min_size=1, max_size=30
    ),
    st.sampled_from([None, "UTC", "Europe/Berlin"]),
)
def test_backtest_price_ticks_equal_the_pandas_reference(values, tz):
    """The public one-coin function too, other values (zero, negative, nan) and time zones included
    (a zone other than UTC bins its own months: the reference runs)."""
    from freqtrade_smartfolio.portfolio.engine.market import backtest_price_ticks_reference

    bars = len(values)
    index = pd.date_range("2023-12-20", periods=bars, freq="5D", tz=tz)
    ohlc = [np.roll(np.array(values), k) for k in range(4)]
    with np.errstate(all="ignore"):  # huge and tiny values in the vectorised digits
        ours = E.backtest_price_ticks(index, ohlc)
        theirs = backtest_price_ticks_reference(index, ohlc)
    assert np.array_equal(ours, theirs, equal_nan=True)


@st.composite
def near_minimum_states(draw):
    """Plan states whose deltas lie around the minimum orders (where the pre-check's bound is tight):
    values at the goals off by up to 1.3 minimum orders, a few lots, the cash small or large."""
    n = draw(st.integers(1, 24))
    weights = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    if weights.sum() == 0:
        weights[0] = 1.0
    cash_w = draw(st.sampled_from([0.0, 0.0, 0.1]))
    weights = weights / weights.sum() * (1 - cash_w)
    total = draw(st.sampled_from([20.0, 100.0, 1000.0, 5000.0]))
    min_order = draw(st.sampled_from([1.0, 5.0, 5.8333333333, 50.0]))
    min_orders = np.full(n, min_order)
    if draw(st.booleans()):
        min_orders = min_orders * np.array(draw(st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n)))
    off = np.array(draw(st.lists(st.floats(-1.3, 1.3), min_size=n, max_size=n))) * min_orders
    prices = np.array(draw(st.lists(st.floats(0.001, 50_000), min_size=n, max_size=n)))
    steps = np.array([draw(st.sampled_from([0.0, 1e-8, 1e-5, 0.001, 0.1, 1.0])) for _ in range(n)])
    values = np.maximum(weights * total + off, 0.0)
    amounts = np.array([E.on_grid(v / p, s) for v, p, s in zip(values, prices, steps, strict=True)])
    cash = max(total * cash_w + draw(st.floats(-1.0, 1.0)) * min_order, 0.0)
    fee = draw(st.sampled_from([0.0, 0.001, 0.0075, 0.05]))
    return amounts, prices, cash, weights, cash_w, min_orders, steps, fee


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(near_minimum_states(), plan_states()), st.booleans())
@example(  # every delta just under its minimum order
    (
        np.array([0.0199, 0.0201]),
        np.array([100.0, 100.0]),
        0.0,
        np.array([0.5, 0.5]),
        0.0,
        np.array([0.011, 0.011]),
        np.array([0.0001, 0.0001]),
        0.001,
    ),
    False,
)
def test_nothing_to_trade_only_where_the_plan_has_no_order(case, buys_only):
    """compiled_planner.nothing_to_trade (the freqtrade kernel's pre-check that skips the planner) is
    True only where the planner, Python's and the compiled one, returns no order."""
    amounts, prices, cash, goal, cash_w, min_orders, steps, fee = case
    n = len(amounts)
    values = amounts * prices
    bounds = cp.fast_exit_bounds(goal, min_orders, steps, fee, cash_w)
    if not cp.nothing_to_trade(
        amounts, prices, values, cx.np_sum(values), cash, goal, min_orders, steps, bounds
    ):
        return
    assert bounds[0] >= 0 and (min_orders > 0).all()
    total = float(values.sum()) + cash  # the planner's deltas: hypothesis drives them to the minimums
    deltas = goal * total - values
    for _ in range(FEE_ITERATIONS):
        deltas = goal * (total - fee * float(np.abs(deltas).sum())) - values
    target(float(np.max(-deltas / min_orders)), label="largest sale delta / minimum order proved")
    if cash >= min_orders.min():  # not the cash-limited proof: the buys' own bound
        target(float(np.max(deltas / min_orders)), label="largest buy delta / minimum order proved")
    sells, buys = E.fast_plan(
        amounts, prices, cash, goal, cash_w, min_orders.tolist(), steps.tolist(), fee, buys_only=buys_only
    )
    assert sells == [] and buys == []
    side, amount, value = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
    assert (
        cp.fast_plan(
            amounts, prices, cash, goal, cash_w, min_orders, steps, fee, buys_only, side, amount, value
        )
        == 0
    )


def test_nothing_to_trade_proves_the_common_case():
    """20 coins a few USDT off their goals of 50 USDT, the minimum order 5.83: nothing to trade, proved
    without the planner; one coin a minimum order over its goal: not proved (the planner runs); one
    a minimum order under it: proved where the cash cannot pay a minimum order, not where it can."""
    n = 20
    goal = np.full(n, 0.05)
    prices = np.linspace(0.5, 60_000, n)
    steps = np.full(n, 1e-5)
    min_orders = np.full(n, 5.8333333333)
    off = np.resize([3.0, -3.0], n)
    amounts = (50.0 + off) / prices
    values = amounts * prices
    bounds = cp.fast_exit_bounds(goal, min_orders, steps, 0.001, 0.0)
    held = cx.np_sum(values)
    assert cp.nothing_to_trade(amounts, prices, values, held, 1.0, goal, min_orders, steps, bounds)
    amounts[3] = 58.0 / prices[3]  # a sale of more than a minimum order
    values = amounts * prices
    held = cx.np_sum(values)
    assert not cp.nothing_to_trade(amounts, prices, values, held, 1.0, goal, min_orders, steps, bounds)
    amounts[3] = 42.0 / prices[3]  # a buy of more than a minimum order: not with 1 USDT of cash, with 10
    values = amounts * prices
    held = cx.np_sum(values)
    assert cp.nothing_to_trade(amounts, prices, values, held, 1.0, goal, min_orders, steps, bounds)
    assert not cp.nothing_to_trade(amounts, prices, values, held, 10.0, goal, min_orders, steps, bounds)
    assert cp.fast_exit_bounds(goal, np.zeros(n), steps, 0.001, 0.0)[0] < 0  # a zero minimum order: off
    assert cp.fast_exit_bounds(goal, min_orders, steps, 0.2, 0.0)[0] < 0  # a fee beyond the bound's: off


@st.composite
def near_minimum_markets(draw):
    """freqtrade_cases where the orders are about the minimum order: many coins, a small investment,
    narrow bands (most plans end with nothing to trade, and the kernel's pre-check skips them)."""
    coins = draw(st.integers(2, 16))
    market, targets, base = _random_walk_market(draw, coins, [0.003, 0.01, 0.03])
    threshold = draw(st.floats(0.002, 0.1))
    interval = draw(st.sampled_from([None, None, 60, 1440]))
    rule = RebalanceRule(threshold=threshold, relative=draw(st.booleans()), interval_minutes=interval)
    decimals = [draw(st.integers(0, 8)) for _ in range(coins)]
    ticks = [draw(st.sampled_from([0.0, 10.0 ** -max(0, 6 - round(math.log10(base)))])) for _ in range(coins)]
    min_order = draw(st.sampled_from([1.0, 5.0, 5.8333333333]))
    rules = [CoinRules(min_order=min_order, step=float(f"1e-{d}")) for d in decimals]
    exchange = [
        E.ExchangeRules(tick=t, min_cost=draw(st.sampled_from([0.0, 5.0])), min_amount=r.step)
        for t, r in zip(ticks, rules, strict=True)
    ]
    investment = draw(st.sampled_from([50.0, 200.0, 1000.0, 3000.0]))
    fee = draw(st.sampled_from([0.0, 0.001, 0.0075]))
    return market, targets, rule, rules, exchange, fee, investment


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_minimum_markets(), st.booleans(), st.booleans())
def test_compiled_freqtrade_mode_near_the_minimum_orders_equals_the_python_kernel(case, record, hold):
    """The kernel's pre-check (no planner where nothing can reach a minimum order) changes no result:
    the compiled loop against the Python loop, which plans at every bar out of band."""
    test_compiled_freqtrade_mode_equals_the_python_kernel.hypothesis.inner_test(case, record, hold)
