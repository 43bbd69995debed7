"""The engine at the edges of real markets (issue 12): coins listed or ending inside the window, a tick
that changed under open trades, buys capped by the cash the fills left and fitted to the lot, and the
strategy's defaults; and, on real windows, the engine against a real ``freqtrade backtesting`` run."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.portfolio import engine as E
from freqtrade_smartfolio.portfolio.plan import CoinRules, PortfolioState, RebalanceRule, TriggerKind
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets
from freqtrade_smartfolio.verify import parity
from freqtrade_smartfolio.verify.cases import TICK_CHANGE
from tests.engine_checks import assert_fast_plan_is_plan_rebalance

HOUR = pd.Timedelta("1h")


def _frames(closes: np.ndarray, start: str = "2024-01-01") -> dict[str, pd.DataFrame]:
    index = pd.date_range(start, periods=len(closes), freq="h", tz="UTC")
    columns = [f"C{i}" for i in range(closes.shape[1])]
    close = pd.DataFrame(closes, index=index, columns=columns)
    return {"open": close.shift(1).fillna(close), "close": close}


def _walk(bars: int, coins: int, seed: int, sigma: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(100 * np.exp(np.cumsum(rng.normal(0, sigma, size=(bars, coins)), axis=0)), 2)


def _cash_path(result: E.EngineResult) -> np.ndarray:
    return result.weights["cash"].to_numpy() * result.equity.to_numpy()


# ---------------------------------------------------------------- defaults (issue item 6)


def test_rules_none_defaults_to_the_strategys_minimum_order():
    frames = _frames(_walk(2000, 3, seed=0))
    targets = Targets(("C0", "C1", "C2"), (0.4, 0.3, 0.3))
    result = E.simulate(frames, targets, RebalanceRule(threshold=0.05))
    kinds = result.rebalances["kind"].value_counts().to_dict()
    # with min_order 0 every float leftover was a "tradable remainder": ~1,965 completions
    assert kinds.get("completion", 0) < 50, kinds
    assert (result.trades["value"] >= 5.0).all()
    assert E.default_rules(E.as_market(frames), [E.ExchangeRules()] * 3) == (CoinRules(5.0, 0.0),) * 3
    # the exchange's limits, when given, raise the minimum (config.exchange_min_order)
    rules = E.default_rules(E.as_market(frames), [E.ExchangeRules(0.01, 10.0, 0.001)] * 3)
    assert all(r.min_order == pytest.approx(10.0 * 1.05 / 0.9) for r in rules)
    # sweep and run_kernel take the same defaults
    row = E.sweep(frames, targets, [0.05]).iloc[0]
    assert row.final_value == result.final_value


@pytest.mark.parametrize("min_order", [0.0, 5.0])
def test_no_zero_or_negative_buy_whatever_the_arguments(min_order):
    frames = _frames(_walk(1500, 3, seed=1))
    targets = Targets(("C0", "C1", "C2"), (0.5, 0.3, 0.1), 0.1)
    rules = [CoinRules(min_order, 0.0)] * 3
    for rule in (RebalanceRule(threshold=0.01), RebalanceRule(interval_minutes=60)):
        result = E.simulate(frames, targets, rule, rules)
        assert (result.trades["amount"] > 0).all()
        assert (_cash_path(result) >= -1e-9).all()


# ---------------------------------------------------------------- coins without a candle


def _listed_later(bars: int = 400, listing: int = 150) -> dict[str, pd.DataFrame]:
    frames = _frames(_walk(bars, 3, seed=4, sigma=0.02))
    for frame in frames.values():
        frame.iloc[:listing, 2] = np.nan
    return frames


def test_market_keeps_the_bars_of_a_coin_not_listed_yet():
    market = E.as_market(_listed_later())
    assert len(market.dates) == 400
    assert market.valid is not None
    assert not market.valid[:150, 2].any() and market.valid[150:, 2].all() and market.valid[:, :2].all()
    assert np.isfinite(market.close).all()  # priced at its first close before it: never traded there
    targets = Targets(market.coins, (0.4, 0.3, 0.3))
    with pytest.raises(ValueError, match=r"clean mode needs a candle of every coin.*C2"):
        E.simulate(market, targets, RebalanceRule(threshold=0.05), mode="clean")
    with pytest.raises(ValueError, match="must not be negative"):
        E.simulate(market, targets, RebalanceRule(threshold=0.05), [CoinRules(-1.0, 0.0)] * 3)


def test_a_gap_inside_a_coins_candles_is_filled_as_freqtrade_fills_it():
    frames = _frames(_walk(50, 2, seed=5))
    for frame in frames.values():
        frame.iloc[20:23, 1] = np.nan
    market = E.as_market(frames)
    assert market.valid is None  # inside its span a coin always has a (filled) candle
    assert (market.close[20:23, 1] == market.close[19, 1]).all()
    assert (market.open[20:23, 1] == market.close[19, 1]).all()


def test_a_coin_listed_inside_the_window_is_brought_in_by_a_listing_rebalance():
    frames = _listed_later()
    targets = Targets(("C0", "C1", "C2"), (0.4, 0.3, 0.3))
    rules = [CoinRules(5.0, 0.0001)] * 3
    result = E.simulate(frames, targets, RebalanceRule(threshold=0.05), rules)
    trades, events = result.trades, result.rebalances
    first_candle = frames["close"].index[150]
    # invested at once in the coins that trade, their targets scaled up pro rata (40:30)
    initial = trades[trades["rebalance"] == 0]
    assert set(initial["coin"]) == {"C0", "C1"}
    assert initial["value"].iloc[0] / initial["value"].iloc[1] == pytest.approx(4 / 3, rel=1e-2)
    # C2 trades from its first candle: planned from its close, filled at the next open
    c2 = trades[trades["coin"] == "C2"]
    assert c2["time"].min() == first_candle + HOUR
    listing = events[events["kind"] == "listing"]
    assert len(listing) == 1 and listing["time"].iloc[0] == first_candle + HOUR
    assert listing["reason"].iloc[0] == f"C2 trades from {first_candle:%Y-%m-%d %H:%M}"
    weights = result.weights.loc[first_candle + HOUR]
    assert weights["C2"] == pytest.approx(0.3, abs=0.02)
    assert (_cash_path(result) >= -1e-9).all()


def test_a_coin_whose_candles_end_is_held_at_its_last_price_and_sold_at_its_last_open():
    frames = _frames(_walk(400, 3, seed=6, sigma=0.02))
    for frame in frames.values():
        frame.iloc[250:, 1] = np.nan
    targets = Targets(("C0", "C1", "C2"), (0.4, 0.3, 0.3))
    rules = [CoinRules(5.0, 0.0)] * 3
    market = E.as_market(frames)
    result = E.simulate(market, targets, RebalanceRule(threshold=0.03), rules)
    trades = result.trades
    last_candle = frames["close"].index[249]
    assert trades[trades["coin"] == "C1"]["time"].max() <= last_candle
    after = trades[trades["time"] > last_candle]
    assert len(after) and set(after["coin"]) == {"C0", "C2"}  # the others keep being rebalanced
    # C1 is valued at its last close meanwhile and, at the end, sold at the open of its last candle
    held = result.weights["C1"] * result.equity
    assert held.iloc[-2] == pytest.approx(held.loc[last_candle], rel=1e-12)
    out = E.run_kernel(market, targets, RebalanceRule(threshold=0.03), rules)
    amounts, cash = E._holdings_frame(market, out, 1000.0)
    assert amounts[-2, 1] > 0
    opens = market.open
    sold = amounts[-2, 0] * opens[-1, 0] + amounts[-2, 1] * opens[249, 1] + amounts[-2, 2] * opens[-1, 2]
    assert out.final_value == pytest.approx(cash[-2] + sold * (1 - 0.001), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_fast_plan_with_coins_that_do_not_trade_equals_plan_rebalance(seed):
    rng = np.random.default_rng(seed)
    coins = tuple(f"C{i}" for i in range(5))
    for _ in range(200):
        amounts = np.where(rng.random(5) < 0.8, rng.uniform(0, 3, 5), 0.0)
        prices = rng.uniform(1, 200, 5)
        cash = float(rng.uniform(0, 500))
        weights = rng.dirichlet(np.ones(6))
        targets = Targets(coins, tuple(float(w) for w in weights[:5]), float(weights[5]))
        tradable = rng.random(5) < 0.7
        if not tradable.any():
            tradable[0] = True
        state = PortfolioState(coins, amounts, prices, cash)
        steer = tradable_targets(targets, tradable, state.values, state.total)
        rules = [CoinRules(float(rng.choice([0.0, 5.0])), float(rng.choice([0.0, 0.001])))] * 5
        for kind in (TriggerKind.THRESHOLD, TriggerKind.COMPLETION):
            sells, buys = assert_fast_plan_is_plan_rebalance(state, steer, rules, 0.001, kind, tradable)
            assert all(tradable[i] for i, _, _ in (*sells, *buys))


# ---------------------------------------------------------------- a sale outside its candle


def test_a_sale_priced_on_the_trades_old_tick_outside_the_candle_does_not_fill():
    bars = 300
    closes = _walk(bars, 2, seed=7, sigma=0.02)
    index = pd.date_range("2024-01-25", periods=bars, freq="h", tz="UTC")
    change = int(index.searchsorted(pd.Timestamp("2024-02-01", tz="UTC")))  # freqtrade: per month
    close = pd.DataFrame(closes, index=index, columns=["C0", "C1"])
    opens = close.shift(1).fillna(close)
    # C0 shows one decimal in January (trades opened then keep a 0.1 price precision) and two from
    # February, where its opens end in ...4 cents and are the candle's low: a sale at the open
    # rounded to 0.1 is priced below the low
    c0 = np.floor(opens["C0"].to_numpy() * 10) / 10 + 0.04
    c0[:change] = np.round(opens["C0"].to_numpy()[:change], 1)
    opens["C0"] = c0
    close.iloc[:change, 0] = np.round(close.iloc[:change, 0], 1)
    high = np.maximum(opens, close) + 0.5
    low = np.minimum(opens, close)
    low.iloc[change:, 0] = opens.iloc[change:, 0]
    frames = {"open": opens, "close": close, "high": high, "low": low}
    market = E.as_market(frames)
    assert market.price_ticks is not None
    targets = Targets(("C0", "C1"), (0.5, 0.5))
    # the strategy's minimum order is never below freqtrade's own (config.exchange_min_order)
    rules = [CoinRules(6.0, 0.0001)] * 2
    exchange = [E.ExchangeRules(0.01, 5.0, 0.0001)] * 2
    rule = RebalanceRule(interval_minutes=60)
    result = E.simulate(market, targets, rule, rules, exchange=exchange)
    sells = result.trades[(result.trades["coin"] == "C0") & (result.trades["side"] == "sell")]
    assert len(sells) and sells["time"].max() < index[change]  # every later sale stayed unfilled
    # without the candles' range the engine would have filled them
    plain = E.Market(market.coins, market.dates, market.open, market.close, 60.0, market.price_ticks)
    filled = E.simulate(plain, targets, rule, rules, exchange=exchange).trades
    assert (filled[(filled["coin"] == "C0") & (filled["side"] == "sell")]["time"] >= index[change]).any()
    assert (_cash_path(result) >= -1e-9).all()


def test_a_market_keeps_its_prices_on_the_tick_grid_and_runs_on_it_are_unchanged(monkeypatch):
    """freqtrade mode rounds a Market's prices (and finds its entry ticks' decimals) once per exchange
    ticks and keeps them: runs on the same Market equal runs on a new one, exchange by exchange."""
    import pickle

    from freqtrade_smartfolio.portfolio.engine import fills_compiled
    from freqtrade_smartfolio.portfolio.engine import rules as R

    frames = _frames(_walk(700, 3, seed=11, sigma=0.02), start="2024-01-20")
    opens, close = frames["open"], frames["close"]
    frames |= {"high": np.maximum(opens, close) + 0.37, "low": np.minimum(opens, close) - 0.21}
    market = E.as_market(frames)
    built: list[str] = []
    tick_prices, entry_decimals = R._tick_prices, fills_compiled.CompiledFreqtradeRun._entry_decimals
    monkeypatch.setattr(R, "_tick_prices", lambda m, ex: built.append("prices") or tick_prices(m, ex))
    monkeypatch.setattr(
        fills_compiled.CompiledFreqtradeRun,
        "_entry_decimals",
        lambda self: built.append("decimals") or entry_decimals(self),
    )
    targets = Targets(("C0", "C1", "C2"), (0.3, 0.3, 0.4))
    rule = RebalanceRule(threshold=0.03)
    rules = [CoinRules(6.0, 0.001)] * 3
    for k, ticks in enumerate([(0.01, 0.01, 0.01), (0.1, 0.01, 0.5), (0.01, 0.01, 0.01)]):
        exchange = [E.ExchangeRules(t, 5.0, 0.001) for t in ticks]
        kept = E.simulate(market, targets, rule, rules, exchange=exchange)
        assert built == (["prices", "decimals"] if k < 2 else [])  # the third: the first's, kept
        fresh = E.simulate(E.as_market(frames), targets, rule, rules, exchange=exchange)
        pd.testing.assert_frame_equal(kept.trades, fresh.trades, check_exact=True)
        assert (
            len(kept.trades) > 10 and kept.final_value == fresh.final_value and kept.summary == fresh.summary
        )
        built.clear()
        again = R.prepare_prices(market, exchange, "freqtrade")
        assert again["open"] is R.prepare_prices(market, exchange, "freqtrade")["open"]
        assert np.array_equal(again["high"], tick_prices(market, exchange)["high"])
    assert R.tick_key([E.ExchangeRules(math.nan)]) == R.tick_key([E.ExchangeRules(math.nan)])
    copy = pickle.loads(pickle.dumps(market))  # what it keeps stays behind
    assert "_kept" not in copy.__dict__ and np.array_equal(copy.price_ticks, market.price_ticks)


# ---------------------------------------------------------------- the strategy's trigger order


def test_a_due_schedule_comes_before_the_band_with_and_without_recording():
    frames = _frames(_walk(1200, 4, seed=8, sigma=0.02))
    market = E.as_market(frames)
    targets = Targets(tuple(market.coins), (0.25, 0.25, 0.25, 0.25))
    rules = [CoinRules(5.0, 0.001)] * 4
    rule = RebalanceRule(threshold=0.01, interval_minutes=24 * 60)
    full = E.run_kernel(market, targets, rule, rules)
    lean = E.run_kernel(market, targets, rule, rules, record=False)
    assert full.final_value == lean.final_value and full.change_rows == lean.change_rows
    kinds = [e[1] for e in full.events]
    schedule_rows = [e[0] for e in full.events if e[1] == "schedule"]
    assert "threshold" in kinds and len(schedule_rows) >= 20
    # a due schedule fires every 24 bars at most (a completion, which comes first, can delay it by one)
    assert all(b - a >= 24 for a, b in itertools.pairwise(schedule_rows))
    # ... and is a SCHEDULE even when the weights are also out of the band (plan.check_trigger's order)
    weights = E.simulate(market, targets, rule, rules).weights
    out = [(weights.iloc[r - 1][list(market.coins)] - 0.25).abs().max() > 0.01 for r in schedule_rows]
    assert any(out)


# ---------------------------------------------------------------- real data, real freqtrade


def test_load_market_keeps_a_coin_listed_inside_the_window(require_data):
    datadir = require_data(["BTC_USDT-1h.feather", "ENA_USDT-1h.feather"])
    market = E.load_market(["BTC", "ENA"], "1h", "2024-03-25", "2024-04-10", datadir)
    listed = pd.Timestamp(market.dates[np.argmax(market.valid[:, 1])], tz="UTC")
    assert (
        market.index[0] == pd.Timestamp("2024-03-25", tz="UTC")
        and listed.date() == pd.Timestamp("2024-04-02").date()
    )
    assert market.high is not None and market.low is not None


def _edge_cases():
    return {
        "listing": parity.Case(
            "BTC ETH ENA, ENA listed 2024-04-02",
            {"BTC": 40, "ETH": 30, "ENA": 30},
            {"mode": "proportional", "threshold": 5},
            "1h",
            "20240320",
            "20240420",
        ),
        "ended": parity.Case(
            "BTC ETH SOL, SOL ends 2024-04-15 12:00",
            {"BTC": 40, "ETH": 30, "SOL": 30},
            {"mode": "proportional", "threshold": 1.5},
            "1h",
            "20240401",
            "20240501",
            cut={"SOL": "2024-04-15T12:00"},
        ),
        "tick": TICK_CHANGE,
    }


@pytest.fixture(scope="module")
def edge_runs(require_data):
    """The three edge windows through freqtrade (in parallel) and the engine."""
    datadir = require_data([f"{c}_USDT-1h.feather" for c in ("BTC", "ETH", "ENA", "SOL", "BNB")])
    cases = _edge_cases()

    def run(case):
        with parity.case_datadir(case, datadir) as data:
            return parity.run_freqtrade(case, data), parity.run_engine(case, data)

    with ThreadPoolExecutor(len(cases)) as pool:
        futures = {name: pool.submit(run, case) for name, case in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def _same(ft, engine):
    assert engine.final_value == pytest.approx(ft.final_balance, rel=1e-9)
    assert engine.rebalance_times == ft.rebalance_times
    fills = ft.orders[ft.orders["tag"] != "force_exit"]
    engine_fills = engine.trades
    assert len(engine_fills) == len(fills)
    ours = engine_fills.sort_values(["time", "coin"])[["coin", "side", "amount", "price"]].to_numpy()
    theirs = fills.sort_values(["time", "coin"])[["coin", "side", "amount", "price"]].to_numpy()
    assert (ours[:, :2] == theirs[:, :2]).all()
    np.testing.assert_allclose(ours[:, 2:].astype(float), theirs[:, 2:].astype(float), rtol=1e-9)


@pytest.mark.slow
def test_engine_equals_freqtrade_with_a_coin_listed_inside_the_window(edge_runs):
    ft, engine = edge_runs["listing"]
    _same(ft, engine)
    assert (engine.rebalances["kind"] == "listing").sum() == 1
    ena = ft.orders[ft.orders["coin"] == "ENA"]
    assert ena["time"].min() > pd.Timestamp("2024-04-02", tz="UTC")


@pytest.mark.slow
def test_engine_equals_freqtrade_with_a_coin_whose_candles_end(edge_runs):
    ft, engine = edge_runs["ended"]
    _same(ft, engine)
    sol = ft.orders[ft.orders["coin"] == "SOL"]
    # SOL's last candle opens at 11:00: its force exit is there, at that candle's open
    assert sol["time"].max() == pd.Timestamp("2024-04-15T11:00", tz="UTC")
    assert sol[sol["tag"] == "force_exit"]["time"].tolist() == [pd.Timestamp("2024-04-15T11:00", tz="UTC")]
    # BTC and ETH keep being rebalanced after SOL's candles end
    assert (engine.trades["time"] > pd.Timestamp("2024-04-16", tz="UTC")).any()


@pytest.mark.slow
def test_engine_equals_freqtrade_across_a_tick_change(edge_runs):
    ft, engine = edge_runs["tick"]
    assert ft.log.count("did not fill in its candle") >= 1  # the sale freqtrade left unfilled
    _same(ft, engine)
