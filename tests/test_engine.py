"""The fast engine: its arithmetic against freqtrade's and plan.py's own functions, its statistics,
bit-exact parity with bt (when installed), and parity with a real ``freqtrade backtesting`` run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freqtrade_smartfolio.config import exchange_min_order
from freqtrade_smartfolio.portfolio import engine as E
from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.plan import CoinRules, PortfolioState, RebalanceRule, TriggerKind
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.verify import parity
from tests.engine_checks import assert_fast_plan_is_plan_rebalance


def _market(closes: np.ndarray, opens: np.ndarray | None = None, tf_minutes: int = 60) -> E.Market:
    bars = len(closes)
    dates = (np.arange(bars, dtype=np.int64) * tf_minutes + 28_401_120) * E.NS_PER_MINUTE  # 2024-01-01
    closes = np.ascontiguousarray(closes, dtype=float)
    opens = closes if opens is None else np.ascontiguousarray(opens, dtype=float)
    return E.Market(tuple(f"C{i}" for i in range(closes.shape[1])), dates, opens, closes, float(tf_minutes))


def _random_walk(bars: int, coins: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.02, size=(bars, coins))
    return np.round(100 * np.exp(np.cumsum(steps, axis=0)), 2)


# ---------------------------------------------------------------- freqtrade's own rounding


@settings(deadline=None, max_examples=300)
@given(st.floats(1e-6, 1e6), st.sampled_from([1.0, 0.1, 0.01, 0.001, 1e-5, 1e-8]))
def test_truncate_to_step_is_freqtrades_amount_to_precision(amount, step):
    from freqtrade.exchange import amount_to_precision
    from freqtrade.exchange.exchange_utils import TICK_SIZE

    assert E.truncate_to_step(amount, step) == amount_to_precision(amount, step, TICK_SIZE)


@settings(deadline=None, max_examples=300)
@given(st.floats(1e-6, 1e6), st.sampled_from([1.0, 0.1, 0.01, 0.0001, 1e-5, 1e-8]))
def test_price_to_precision_is_freqtrades(price, tick):
    from freqtrade.exchange import price_to_precision
    from freqtrade.exchange.exchange_utils import TICK_SIZE

    assert E.price_to_precision(price, tick) == price_to_precision(price, tick, TICK_SIZE)


def test_round_to_tick_is_the_strategys():
    from freqtrade_smartfolio.adapter.strategy import round_to_tick

    values = np.random.default_rng(1).uniform(0.00001, 90000, 2000)
    for tick in (0.01, 0.0001, 1e-8, 0.5, 0.0):
        assert np.array_equal(E.round_to_tick(values, tick), round_to_tick(values, tick))


def test_min_stake_is_the_configs_exchange_min_order():
    rules = E.ExchangeRules(tick=0.01, min_cost=5.0, min_amount=0.001)
    for price in (1.0, 100.0, 40_000.0):
        assert E.min_stake(rules, price, -0.1) == pytest.approx(exchange_min_order(5.0, 0.001, price))
    assert E.min_stake(rules, 1.0, 0.0) == pytest.approx(5.0 * 1.05)


def test_backtest_price_ticks_are_freqtrades(require_data):
    from freqtrade.data.btanalysis.historic_precision import get_tick_size_over_time

    from freqtrade_smartfolio.marketdata import load_candles

    datadir = require_data(["XRP_USDT-1d.feather"])
    candles = load_candles("XRP", "1d", datadir)
    index = pd.DatetimeIndex(candles["date"])
    ours = E.backtest_price_ticks(index, [candles[c].to_numpy() for c in E.OHLC])
    theirs = get_tick_size_over_time(candles.copy()).asof(index).to_numpy()
    assert np.allclose(ours, theirs, equal_nan=True, rtol=0, atol=0)


def test_vectorised_decimals_equal_freqtrades_formatter(require_data):
    """The price-precision digits, vectorised, equal numpy's formatter (freqtrade's) value by value."""
    from freqtrade_smartfolio.marketdata import load_candles
    from freqtrade_smartfolio.portfolio.engine.market import _decimals, _decimals_exact

    datadir = require_data(["BTC_USDT-1h.feather", "XRP_USDT-1h.feather"])
    real = [load_candles(c, "1h", datadir)[list(E.OHLC)].to_numpy().ravel()[:60_000] for c in ("BTC", "XRP")]
    rng = np.random.default_rng(3)
    scaled = rng.uniform(0, 1, 50_000) * 10.0 ** rng.integers(-9, 7, 50_000)
    short = np.round(rng.uniform(0, 100, 20_000), 4)
    edges = [1.0, 10.0, 0.1, 0.30000000000000004, 9.999999999999999, 1e-12, 123456789012345.0, 2.5e-7]
    values = np.concatenate([*real, scaled, short, edges])
    assert np.array_equal(_decimals(values), _decimals_exact(values), equal_nan=True)


def _reference_market(frames: dict[str, pd.DataFrame]) -> E.Market:
    """as_market from OHLC frames before its preparation was compiled: the frames joined by pandas,
    the price precision by pandas coin by coin (backtest_price_ticks_reference)."""
    from freqtrade_smartfolio.portfolio.engine.market import _joined_arrays, backtest_price_ticks_reference

    cols = list(frames["close"].columns)
    index, arrays = _joined_arrays(frames, cols)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    dates = index.as_unit("ns").asi8.copy()
    aligned, valid = E.align_candles(arrays)
    ticks = np.column_stack(
        [
            backtest_price_ticks_reference(
                index, [np.where(valid[:, k], aligned[c][:, k], np.nan) for c in E.OHLC]
            )
            for k in range(len(cols))
        ]
    )
    steps = np.diff(dates)
    tf = float(np.min(steps[steps > 0]) / E.NS_PER_MINUTE)
    return E.Market(
        tuple(cols),
        dates,
        aligned["open"],
        aligned["close"],
        tf,
        ticks,
        aligned["high"],
        aligned["low"],
        None if valid.all() else valid,
    )


def test_as_market_from_ohlc_equals_the_pandas_preparation(require_data):
    """as_market's compiled preparation gives the same Market, bit for bit, as the pandas one on real
    candles: the five majors over five years, and coins listed (ENA), ended (SOL cut) or missing
    candles inside the window (frames joined on the union of their dates)."""
    from freqtrade_smartfolio.marketdata import load_candles

    majors = ["BTC", "ETH", "SOL", "XRP", "BNB"]
    small = ["PEPE", "SHIB", "ENA", "DOGE"]
    datadir = require_data([f"{c}_USDT-1h.feather" for c in majors + small])
    windows = [
        (majors, "2020-09-01", "2025-09-30", None),
        (["BTC", "ETH", "ENA", "SOL"], "2024-03-01", "2024-05-01", ("SOL", "2024-04-15 12:00")),
        (["PEPE", "SHIB", "DOGE", "BTC"], "2024-01-01", "2024-09-30", None),
    ]
    for coins, start, end, cut in windows:
        series: dict[str, dict[str, pd.Series]] = {c: {} for c in E.OHLC}
        for coin in coins:
            candles = load_candles(coin, "1h", datadir).set_index("date")
            last = pd.Timestamp(cut[1] if cut and cut[0] == coin else end, tz="UTC")
            candles = candles[(candles.index >= pd.Timestamp(start, tz="UTC")) & (candles.index <= last)]
            for col in E.OHLC:
                series[col][coin] = candles[col].drop(
                    candles.index[5::97]
                )  # holes, not the same in every coin
        for join in ("outer", "inner"):
            frames = {col: pd.concat(s, axis=1, join=join, sort=True) for col, s in series.items()}
            ours, theirs = E.as_market(frames), _reference_market(frames)
            assert ours.coins == theirs.coins and ours.timeframe_minutes == theirs.timeframe_minutes
            for name in ("dates", "open", "high", "low", "close", "price_ticks"):
                a, b = getattr(ours, name), getattr(theirs, name)
                assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
            assert (ours.valid is None) == (theirs.valid is None)
            assert ours.valid is None or np.array_equal(ours.valid, theirs.valid)
            assert not np.isnan(ours.price_ticks).all()


# ---------------------------------------------------------------- the fast plan is plan.py's plan

coin_count = st.integers(2, 8)


@st.composite
def states(draw):
    n = draw(coin_count)
    weights = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    cash_w = draw(st.sampled_from([0.0, 0.0, 0.1]))
    weights = weights / weights.sum() * (1 - cash_w)
    weights[-1] = 1 - cash_w - weights[:-1].sum()
    coins = tuple(f"C{i}" for i in range(n))
    targets = Targets(coins, tuple(float(w) for w in weights), cash_w)
    prices = np.array(draw(st.lists(st.floats(0.001, 50_000), min_size=n, max_size=n)))
    values = np.array(draw(st.lists(st.floats(0, 3000), min_size=n, max_size=n)))
    steps = [draw(st.sampled_from([0.0, 1e-5, 0.001, 0.1, 1.0])) for _ in range(n)]
    amounts = np.array([E.on_grid(v / p, s) for v, p, s in zip(values, prices, steps, strict=True)])
    cash = draw(st.floats(0, 2000))
    min_order = draw(st.sampled_from([0.0, 5.0, 5.8333333333, 50.0]))
    rules = [CoinRules(min_order=min_order, step=s) for s in steps]
    fee = draw(st.sampled_from([0.0, 0.001, 0.0075]))
    return PortfolioState(coins, amounts, prices, cash), targets, rules, fee


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), st.sampled_from([TriggerKind.MANUAL, TriggerKind.COMPLETION]))
def test_fast_plan_equals_plan_rebalance(case, kind):
    state, targets, rules, fee = case
    assert_fast_plan_is_plan_rebalance(state, targets, rules, fee, kind)


# ---------------------------------------------------------------- arithmetic by hand


def test_clean_mode_one_rebalance_by_hand():
    fee = 0.01
    closes = np.array([[100.0, 10.0], [200.0, 10.0]])
    targets = Targets(("C0", "C1"), (0.5, 0.5))
    result = E.simulate(_market(closes), targets, RebalanceRule(threshold=0.1), fee=fee, mode="clean")
    # bar 0: 1000 cash -> 500 per coin, fee inside the trade
    q0, q1 = 500 / (100 * 1.01), 500 / (10 * 1.01)
    assert result.trades["amount"].iloc[:2].tolist() == pytest.approx([q0, q1], rel=1e-15)
    # bar 1: C0 doubled, weights 2/3, 1/3 -> out of a 10% band: trade back to 50/50 of the value
    value = q0 * 200 + q1 * 10
    sell = (0.5 - q0 * 200 / value) * value  # negative: cash to raise
    buy = (0.5 - q1 * 10 / value) * value
    assert result.trades["amount"].iloc[2] == pytest.approx(-sell / (200 * 0.99), rel=1e-12)
    assert result.trades["amount"].iloc[3] == pytest.approx(buy / (10 * 1.01), rel=1e-12)
    held = np.array([q0 + sell / (200 * 0.99), q1 + buy / (10 * 1.01)])
    assert result.equity.iloc[-1] == pytest.approx(float(held @ [200, 10]), rel=1e-12)
    assert result.final_value == pytest.approx(float(held @ [200, 10]) * 0.99, rel=1e-12)
    assert result.summary["rebalances"] == 1


def test_freqtrade_mode_fills_at_next_open_with_lots_and_fees():
    fee = 0.001
    closes = np.array([[100.0, 10.0], [100.0, 10.0], [100.0, 10.0]])
    opens = np.array([[100.0, 10.0], [101.0, 9.9], [102.0, 9.8]])
    targets = Targets(("C0", "C1"), (0.5, 0.5))
    rules = [CoinRules(min_order=5.0, step=0.01), CoinRules(min_order=5.0, step=0.1)]
    result = E.simulate(_market(closes, opens), targets, RebalanceRule(threshold=0.2), rules, fee, 1000.0)
    trades = result.trades
    # planned at close 0, filled at open 1; stake = value of the plan, amount truncated to the lot
    assert trades["time"].nunique() == 1 and trades["time"].iloc[0] == result.equity.index[1]
    assert trades["price"].tolist() == [101.0, 9.9]
    assert trades["amount"].tolist() == [4.94, 50.4]  # floor(499.5.. / 101, 0.01), floor(499.5../9.9, 0.1)
    cash = 1000 - (4.94 * 101 + 50.4 * 9.9) * (1 + fee)
    # force exit at the last bar's open
    assert result.final_value == pytest.approx(cash + (4.94 * 102 + 50.4 * 9.8) * (1 - fee), rel=1e-14)
    assert result.equity.iloc[-1] == result.final_value


def test_without_triggers_the_engine_is_buy_and_hold():
    closes = _random_walk(300, 4, seed=3)
    market = _market(closes)
    targets = Targets(tuple(market.coins), (0.4, 0.3, 0.2, 0.1))
    rules = [CoinRules(5.0, 0.001)] * 4
    for mode in ("freqtrade", "clean"):
        quiet = E.simulate(market, targets, RebalanceRule(threshold=0.5), rules, mode=mode)
        hold = E.buy_and_hold(market, targets, rules, mode=mode)
        assert quiet.summary["rebalances"] == 0
        assert quiet.final_value == hold.final_value
        assert np.array_equal(quiet.equity.to_numpy(), hold.equity.to_numpy())


@pytest.mark.parametrize("seed", range(4))
def test_recording_does_not_change_the_run(seed):
    closes = _random_walk(800, 5, seed)
    market = _market(closes, np.roll(closes, 1, axis=0))
    targets = Targets(tuple(market.coins), (0.3, 0.2, 0.2, 0.2, 0.05), 0.05)
    rules = [CoinRules(5.0, 0.01)] * 5
    exchange = [E.ExchangeRules(0.01, 5.0, 0.01)] * 5
    for rule in (
        RebalanceRule(threshold=0.02),
        RebalanceRule(threshold=0.3, relative=True, interval_minutes=1440),
    ):
        full = E.run_kernel(market, targets, rule, rules, exchange=exchange, investment=3000.0)
        lean = E.run_kernel(market, targets, rule, rules, exchange=exchange, investment=3000.0, record=False)
        assert full.final_value == lean.final_value and full.rebalances == lean.rebalances > 0
        assert full.change_rows == lean.change_rows


def test_schedule_counts_from_the_last_scheduled_rebalance():
    closes = np.full((200, 2), 100.0)
    targets = Targets(("C0", "C1"), (0.5, 0.5))
    result = E.simulate(_market(closes), targets, RebalanceRule(interval_minutes=24 * 60), mode="clean")
    times = result.rebalances["time"]
    assert (times.diff().dropna() == pd.Timedelta("1D")).all() and len(times) == 9


def test_sweep_matches_single_runs():
    closes = _random_walk(500, 3, seed=9)
    market = _market(closes)
    targets = Targets(tuple(market.coins), (0.5, 0.3, 0.2))
    rules = [CoinRules(5.0, 0.001)] * 3
    table = E.sweep(market, targets, [0.02, 0.05], [None, 1440], rules=rules, n_jobs=2)
    assert len(table) == 4
    for row in table.itertuples():
        single = E.simulate(market, targets, RebalanceRule(row.threshold, False, row.interval_minutes), rules)
        assert row.final_value == single.final_value
        assert row.rebalances == single.summary["rebalances"]


def test_sweep_is_the_same_on_every_joblib_backend():
    """The rows come back in the order of the parameter sets, equal whatever runs them."""
    market = _market(_random_walk(400, 3, seed=4))
    targets = Targets(tuple(market.coins), (0.4, 0.4, 0.2))
    args = (market, targets, [0.01, 0.02, 0.05, None], [None, 720, 1440])
    serial = E.sweep(*args, n_jobs=1)
    assert len(serial) == 11
    pd.testing.assert_frame_equal(E.sweep(*args, n_jobs=2), serial)
    pd.testing.assert_frame_equal(E.sweep(*args, n_jobs=3, backend="threading"), serial)


# ---------------------------------------------------------------- statistics


def test_stats_on_a_known_curve():
    index = pd.date_range("2024-01-01", periods=366, freq="1D", tz="UTC")
    equity = pd.Series(100.0 * 2 ** (np.arange(366) / 365), index=index)
    assert stats.total_return(equity) == pytest.approx(1.0)
    assert stats.cagr(equity) == pytest.approx(1.0)
    assert stats.annual_volatility(equity) == pytest.approx(0.0, abs=1e-12)
    assert stats.max_drawdown(equity) == 0.0
    assert stats.periods_per_year(equity) == 365
    dip = equity.copy()
    dip.iloc[100] = dip.iloc[99] * 0.5
    assert stats.max_drawdown(dip) == pytest.approx(-0.5)
    hourly = pd.Series([100.0, 110.0, 99.0, 108.9], index=pd.date_range("2024", periods=4, freq="1h"))
    r = np.array([0.1, -0.1, 0.1])
    assert stats.annual_volatility(hourly) == pytest.approx(r.std(ddof=1) * math.sqrt(8760))
    assert stats.sharpe(hourly) == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(8760))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.floats(0.01, 1e6), min_size=1, max_size=60),
    steps=st.lists(st.sampled_from([60, 60, 60, 1440, 5, 90]), min_size=59, max_size=59),
    irregular=st.booleans(),
)
def test_summarize_values_is_the_statistics_one_by_one(values, steps, irregular):
    """summarize (through summarize_values, arrays only, as simulate calls it) gives every statistic
    of the Series functions to the bit, on regular grids (the one-step median shortcut) and others."""
    minutes = np.cumsum([0, *(steps if irregular else [60] * 59)])[: len(values)]
    index = pd.DatetimeIndex(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="min"))
    equity = pd.Series(values, index=index)
    summary = stats.summarize(equity, fees=1.5, rebalances=3, traded_value=10.0)
    assert summary == stats.summarize_values(
        np.asarray(values), index.as_unit("ns").asi8, fees=1.5, rebalances=3, traded_value=10.0
    )
    expected = {
        "start_value": float(equity.iloc[0]),
        "final_value": float(equity.iloc[-1]),
        "total_return": stats.total_return(equity),
        "cagr": stats.cagr(equity),
        "volatility": stats.annual_volatility(equity),
        "sharpe": stats.sharpe(equity),
        "max_drawdown": stats.max_drawdown(equity),
    }
    for key, value in expected.items():
        same = summary[key] == value or (math.isnan(summary[key]) and math.isnan(value))
        assert same, (key, summary[key], value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    bars=st.one_of(st.integers(2, 40), st.integers(100, 5000)),
    gaps=st.sampled_from(["none", "few", "many", "ties"]),
    odd=st.sampled_from([None, 0.0, -1.0, math.nan, math.inf]),
)
def test_compiled_summary_is_summarize_values(seed, bars, gaps, odd):
    """simulate's summary (api._summary: the reductions compiled, numpy's pairwise sums, the median
    step) is stats.summarize_values to the bit, on curves long enough for numpy's summation tree,
    on grids with gaps (the median's counting shortcut and its fallback), and on odd values (a zero,
    a negative, NaN or inf value: the drawdown bar by bar)."""
    from freqtrade_smartfolio.portfolio.engine.api import _summary
    from freqtrade_smartfolio.portfolio.engine.kernel import KernelOutput

    rng = np.random.default_rng(seed)
    values = 1000 * np.exp(np.cumsum(rng.normal(0, 0.02, bars)))
    if odd is not None:
        values[rng.integers(0, bars)] = odd
    steps = np.full(bars - 1, 60)
    if gaps == "few":
        steps[rng.integers(0, bars - 1, 3)] = 120
    elif gaps == "many":
        steps = rng.choice([5, 60, 90, 1440], bars - 1)
    elif gaps == "ties":  # half the steps one size, half another: the middle two differ
        steps = np.where(np.arange(bars - 1) < (bars - 1) // 2, 60, 120)
        rng.shuffle(steps)
    dates = (28_401_120 + np.concatenate([[0], np.cumsum(steps)])).astype(np.int64) * E.NS_PER_MINUTE
    out = KernelOutput(fees=1.5, traded_value=10.0, rebalances=3)
    with np.errstate(all="ignore"):
        try:
            expected = stats.summarize_values(values, dates, fees=1.5, rebalances=3, traded_value=10.0)
        except TypeError:  # a negative growth ratio: the CAGR's power is complex (both alike)
            with pytest.raises(TypeError):
                _summary(values, dates, out)
            return
        got = _summary(values, dates, out)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        same = got[key] == value or (math.isnan(got[key]) and math.isnan(value))
        assert same, (key, got[key], value)


@pytest.mark.parametrize("size", [1, 7, 8, 9, 127, 128, 129, 1000, 8191, 8192, 8193, 41314, 100_003])
def test_pairwise_sum_is_numpys(size):
    from freqtrade_smartfolio.portfolio.engine import compiled_stats

    rng = np.random.default_rng(size)
    a = rng.standard_normal(size + 3) * 10.0 ** rng.integers(-8, 8, size + 3)
    assert compiled_stats.pairwise_sum(a, 3, size) == np.add.reduce(a[3:])
    assert compiled_stats.pairwise_sum(a, 0, size, compiled_stats.SQUARED_DEVIATIONS, 0.25) == np.add.reduce(
        (a[:size] - 0.25) * (a[:size] - 0.25)
    )


def _close_frames(rng: np.random.Generator) -> list[pd.DataFrame]:
    """Close-price frames of every layout and index simulate meets (the clean fast path's inputs)."""
    bars = 300
    closes = _random_walk(bars, 3, int(rng.integers(0, 1000)))
    index = pd.date_range("2024-01-01", periods=bars, freq="1h", tz="UTC", name="when")
    columns = ["C0", "C1", "C2"]
    gappy = index.delete([50, 51, 200])
    return [
        pd.DataFrame(closes, index=index, columns=columns),  # one block: to_numpy gives Fortran order
        pd.DataFrame({c: closes[:, k] for k, c in enumerate(columns)}, index=index),  # a block per coin
        pd.DataFrame(closes, index=index.tz_localize(None), columns=columns),  # naive dates
        pd.DataFrame(closes, index=index.tz_convert("Asia/Tokyo"), columns=columns),
        pd.DataFrame(closes.astype(np.float32), index=index, columns=columns),  # other float types
        pd.DataFrame((closes * 100).astype(np.int64), index=index, columns=columns),
        pd.DataFrame(closes[: len(gappy)], index=gappy, columns=columns),  # gaps: an irregular grid
        pd.DataFrame(np.asfortranarray(closes), index=index.as_unit("s"), columns=columns),
        pd.DataFrame(closes, index=index, columns=columns).iloc[::2],  # a strided view
    ]


@pytest.mark.parametrize("k", range(9))
@pytest.mark.parametrize("hold", [False, True])
def test_clean_mode_from_closes_is_clean_mode_from_as_market(k, hold):
    """Clean mode's close-price path (as_market's column_major: the prices as DataFrame.to_numpy lays
    them out, no C-order copy) gives the Market as_market gives and every result to the bit."""
    frame = _close_frames(np.random.default_rng(k))[k]
    targets = Targets(("C0", "C1", "C2"), (0.5, 0.3, 0.2))
    fast = E.as_market({"close": frame}, targets.coins, column_major=True)
    general = E.as_market({"close": frame}, targets.coins)
    assert np.array_equal(fast.close, general.close) and np.array_equal(fast.open, general.open)
    assert np.array_equal(fast.dates, general.dates) and fast.timeframe_minutes == general.timeframe_minutes
    assert fast.coins == general.coins and fast.valid is None and fast.price_ticks is None
    for rule in (RebalanceRule(threshold=0.05), RebalanceRule(interval_minutes=24 * 60)):
        if hold:
            a = E.buy_and_hold({"close": frame}, targets, mode="clean")
            b = E.buy_and_hold(general, targets, mode="clean")
        else:
            a = E.simulate({"close": frame}, targets, rule, fee=0.002, mode="clean", bt_quantities=True)
            b = E.simulate(general, targets, rule, fee=0.002, mode="clean", bt_quantities=True)
        assert a.summary == b.summary
        pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
        pd.testing.assert_index_equal(a.equity.index, general.index, exact=True)
        assert a.equity.index.dtype == general.index.dtype and a.equity.index.freq is None
        pd.testing.assert_frame_equal(a.weights, b.weights, check_exact=True)
        pd.testing.assert_index_equal(a.weights.index, general.index, exact=True)
        fee, quantities = (0.001, False) if hold else (0.002, True)
        full = E.run_kernel(
            general, targets, rule, fee=fee, mode="clean", bt_quantities=quantities, hold=hold
        )
        assert full.change_rows == a._out.arrays[0].tolist() and full.cash == a._out.arrays[2].tolist()
        assert np.array_equal(np.array(full.amounts).reshape(-1, 3), a._out.arrays[1])
        pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
        pd.testing.assert_frame_equal(a.rebalances, b.rebalances, check_exact=True)


def test_clean_mode_from_closes_leaves_the_rest_to_as_market():
    """A missing price, coins in another order, or dates not increasing: as_market's general path
    (the close-only path answers None)."""
    from freqtrade_smartfolio.portfolio.engine.market import _close_only

    frame = _close_frames(np.random.default_rng(0))[0]
    coins = ("C0", "C1", "C2")
    holed = frame.copy()
    holed.iloc[5, 1] = np.nan
    for column_major in (False, True):
        assert _close_only(holed, list(coins), column_major) is None
        assert _close_only(frame, ["C1", "C0", "C2"], column_major) is None
        assert _close_only(frame.iloc[::-1], list(coins), column_major) is None
    targets = Targets(coins, (0.5, 0.3, 0.2))
    rule = RebalanceRule(threshold=0.05)
    a = E.simulate({"close": holed}, targets, rule, mode="clean")
    b = E.simulate(E.as_market({"close": holed}, coins), targets, rule, mode="clean")
    assert a.summary == b.summary


# ---------------------------------------------------------------- parity with bt


def test_clean_mode_equals_bt_bar_for_bar(require_data):
    bt = pytest.importorskip("bt")
    from freqtrade_smartfolio.marketdata import load_closes

    coins = ["BTC", "ETH", "SOL", "XRP", "BNB"]
    datadir = require_data([f"{c}_USDT-1h.feather" for c in coins])
    closes = load_closes(coins, "1h", "2024-01-01", "2024-03-01", datadir)
    weights = dict(zip(coins, (0.3, 0.25, 0.15, 0.15, 0.15), strict=True))
    fee, threshold = 0.001, 0.05
    algos = [
        bt.algos.SelectAll(),
        bt.algos.WeighSpecified(**weights),
        bt.algos.Or([bt.algos.RunOnce(), bt.algos.RunIfOutOfBounds(threshold)]),
        bt.algos.Rebalance(),
    ]
    test = bt.Backtest(
        bt.Strategy("s", algos),
        closes,
        initial_capital=1000.0,
        commissions=lambda q, p: abs(q) * p * fee,
        integer_positions=False,
        progress_bar=False,
    )
    bt.run(test)
    theirs = test.strategy.values.loc[closes.index]
    targets = Targets(tuple(coins), tuple(weights.values()))
    rule = RebalanceRule(threshold=threshold, relative=True)
    ours = E.simulate({"close": closes}, targets, rule, fee=fee, mode="clean", bt_quantities=True)
    assert ours.summary["rebalances"] > 10
    assert np.array_equal(ours.equity.to_numpy(), theirs.to_numpy())
    exact = E.simulate({"close": closes}, targets, rule, fee=fee, mode="clean")
    assert float(((exact.equity - theirs).abs() / theirs).max()) < 1e-10  # bt's Newton stops at 1e-8


# ---------------------------------------------------------------- parity with freqtrade backtesting


@pytest.mark.slow
def test_engine_equals_freqtrade_backtesting(require_data):
    case = parity.Case(
        "3 coins, 2% band or every 1w",
        {"BTC": 40, "ETH": 30, "SOL": 20, "USDT": 10},
        {"mode": "both", "threshold": 2, "interval": "1w"},
        "1h",
        "20240101",
        "20240215",
    )
    datadir = require_data([f"{c}_USDT-1h.feather" for c in case.coins])
    result = parity.compare(case, datadir)
    assert result.freqtrade_rebalances > 5
    assert result.rel_diff < 1e-9
    assert result.same_times
