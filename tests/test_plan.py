"""Property tests of the rebalance plan: pure arithmetic, generated portfolios are fine here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PortfolioState,
    RebalanceRule,
    Trigger,
    TriggerKind,
    apply_orders,
    check_trigger,
    completion_trigger,
    plan_rebalance,
    target_deltas,
)
from freqtrade_smartfolio.portfolio.targets import Targets

MANUAL = Trigger(TriggerKind.MANUAL, "test")


@st.composite
def portfolios(draw, min_coins: int = 2, max_coins: int = 8):
    n = draw(st.integers(min_coins, max_coins))
    coins = tuple(f"C{i}" for i in range(n))
    raw = draw(st.lists(st.floats(0.05, 1.0), min_size=n + 1, max_size=n + 1))
    with_cash = draw(st.booleans())
    if not with_cash:
        raw[-1] = 0.0
    weights = np.array(raw) / sum(raw)
    targets = Targets(coins, tuple(float(w) for w in weights[:n]), float(1.0 - weights[:n].sum()))
    prices = np.array(draw(st.lists(st.floats(1e-6, 1e5), min_size=n, max_size=n)))
    values = np.array(draw(st.lists(st.floats(0.0, 1e5), min_size=n, max_size=n)))
    cash = draw(st.floats(0.0, 1e5))
    assume(values.sum() + cash > 1000)
    state = PortfolioState(coins, values / prices, prices, cash)
    fee = draw(st.sampled_from([0.0, 0.0005, 0.001, 0.002]))
    return state, targets, fee


def _no_limits(n: int) -> tuple[CoinRules, ...]:
    return tuple(CoinRules() for _ in range(n))


@settings(max_examples=300, deadline=None)
@given(portfolios())
def test_the_plan_trades_the_drift_once_and_pays_only_fees(case):
    """Sells come first, no coin is both bought and sold, the plan trades no more than the distance
    to the targets (plus the fees it must cover), and the only value that leaves is the fees."""
    state, targets, fee = case
    plan = plan_rebalance(state, targets, _no_limits(len(state.coins)), fee, MANUAL)
    sides = [order.side for order in plan.orders]
    assert sides == sorted(sides, key=lambda side: side != "sell")
    by_coin: dict[str, set[str]] = {}
    for order in plan.orders:
        by_coin.setdefault(order.coin, set()).add(order.side)
    assert all(len(s) == 1 for s in by_coin.values())
    drift = float(np.abs(np.asarray(targets.weights) * state.total - state.values).sum())
    traded = sum(order.value for order in plan.orders)
    assert traded <= drift * (1 + fee) + 1e-6 * state.total
    after = apply_orders(state, plan.orders, fee)
    paid = fee * sum(o.amount * o.price if o.side == "sell" else o.value for o in plan.orders)
    assert after.total == pytest.approx(state.total - paid, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(portfolios(), st.floats(0.0, 50.0), st.sampled_from([0.0, 1e-3, 1e-5]))
def test_never_oversells_nor_overspends(case, min_order, step):
    state, targets, fee = case
    rules = tuple(CoinRules(min_order=min_order, step=step) for _ in state.coins)
    plan = plan_rebalance(state, targets, rules, fee, MANUAL)
    index = {c: i for i, c in enumerate(state.coins)}
    for order in plan.sells:
        assert order.amount <= state.amounts[index[order.coin]] + 1e-12
        assert order.value >= min_order - 1e-9
    proceeds = sum(o.value for o in plan.sells) * (1 - fee)
    spent = sum(o.value for o in plan.buys) * (1 + fee)
    assert spent <= state.cash + proceeds + 1e-6
    assert all(o.value >= min_order - 1e-9 for o in plan.buys)
    # sells first
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda s: s != "sell")
    after = apply_orders(state, plan.orders, fee)
    assert after.cash >= -1e-6
    assert (after.amounts >= -1e-12).all()


@settings(max_examples=300, deadline=None)
@given(portfolios(), st.sampled_from([0.005, 0.02, 0.05, 0.1]))
def test_after_the_plan_every_weight_is_within_the_band(case, threshold):
    state, targets, fee = case
    plan = plan_rebalance(state, targets, _no_limits(len(state.coins)), fee, MANUAL)
    after = apply_orders(state, plan.orders, fee)
    coin_w, cash_w = after.weights()
    assert np.abs(coin_w - targets.array).max() <= threshold
    assert abs(cash_w - targets.cash) <= threshold
    # and without limits the plan lands on target to float precision
    assert np.abs(coin_w - targets.array).max() < 1e-9
    rule = RebalanceRule(threshold=threshold)
    assert check_trigger(after, targets, rule, minutes_since_last=0) is None


@settings(max_examples=200, deadline=None)
@given(portfolios(), st.floats(1.0, 20.0))
def test_min_order_keeps_weights_within_band_plus_skipped_share(case, min_order):
    state, targets, fee = case
    rules = tuple(CoinRules(min_order=min_order) for _ in state.coins)
    plan = plan_rebalance(state, targets, rules, fee, MANUAL)
    after = apply_orders(state, plan.orders, fee)
    coin_w, _ = after.weights()
    # Each coin misses its target by at most the orders the plan skipped (each below the minimum),
    # plus the remainder rule (one minimum order) spread over the portfolio.
    tolerance = (sum(s.value for s in plan.skipped) + 2 * min_order) / after.total + 1e-9
    assert np.abs(coin_w - targets.array).max() <= tolerance


def test_fee_aware_deltas_leave_cash_exactly_at_target():
    state = PortfolioState(("A", "B"), np.array([10.0, 0.0]), np.array([100.0, 50.0]), 0.0)
    targets = Targets(("A", "B"), (0.45, 0.45), 0.10)
    deltas = target_deltas(state, targets, fee=0.001)
    traded = np.abs(deltas).sum()
    total_after = state.total - 0.001 * traded
    cash_after = state.cash - deltas.sum() - 0.001 * traded
    assert cash_after == pytest.approx(0.10 * total_after, rel=1e-9)


def test_trigger_reasons():
    three = Targets(("BTC", "ETH", "SOL"), (0.5, 0.3, 0.2))
    prices = np.array([100.0, 100.0, 100.0])
    state = PortfolioState(three.coins, np.array([0.6, 0.25, 0.15]), prices, 0.0)
    rule = RebalanceRule(threshold=0.05)
    trigger = check_trigger(state, three, rule, None)
    assert trigger is not None and trigger.kind is TriggerKind.THRESHOLD
    assert trigger.reason == "BTC 60.00% > 55.00%"
    targets = Targets(("BTC", "ETH"), (0.5, 0.5))
    inside = PortfolioState(("BTC", "ETH"), np.array([0.54, 0.46]), np.array([100.0, 100.0]), 0.0)
    assert check_trigger(inside, targets, rule, None) is None
    relative = RebalanceRule(threshold=0.05, relative=True)  # band 47.5% .. 52.5%
    assert check_trigger(inside, targets, relative, None).reason == "BTC 54.00% > 52.50%"
    scheduled = RebalanceRule(interval_minutes=60)
    assert check_trigger(inside, targets, scheduled, 59) is None
    assert check_trigger(inside, targets, scheduled, 60).reason == "every 1h"
    empty = PortfolioState(("BTC", "ETH"), np.zeros(2), np.array([100.0, 100.0]), 1000.0)
    assert check_trigger(empty, targets, rule, None).kind is TriggerKind.INITIAL


def test_small_orders_are_skipped_with_a_reason():
    targets = Targets(("BTC", "ETH"), (0.5, 0.5))
    state = PortfolioState(("BTC", "ETH"), np.array([0.51, 0.49]), np.array([100.0, 100.0]), 0.0)
    plan = plan_rebalance(state, targets, (CoinRules(5.0), CoinRules(5.0)), 0.0, MANUAL)
    assert plan.orders == ()
    assert {s.coin for s in plan.skipped} == {"BTC", "ETH"}
    assert all("below the minimum order of 5.00" in s.why for s in plan.skipped)


def test_sale_never_leaves_an_unsellable_remainder():
    # Target 1% of 1000 = 10 of A, minimum order 8: selling down to 10 would be fine, but with a 6
    # remainder rule it must keep at least the minimum order.
    targets = Targets(("A", "B"), (0.004, 0.996))
    state = PortfolioState(("A", "B"), np.array([0.5, 0.0]), np.array([100.0, 1.0]), 950.0)
    plan = plan_rebalance(state, targets, (CoinRules(8.0), CoinRules(8.0)), 0.0, MANUAL)
    sell = plan.sells[0]
    remainder = (0.5 - sell.amount) * 100.0
    assert remainder == 0 or remainder >= 8.0 - 1e-9


def test_lot_size_rounds_sales_down():
    targets = Targets(("A", "B"), (0.5, 0.5))
    state = PortfolioState(("A", "B"), np.array([1.0, 0.0]), np.array([100.0, 10.0]), 0.0)
    plan = plan_rebalance(state, targets, (CoinRules(1.0, 0.03), CoinRules(1.0, 0.1)), 0.0, MANUAL)
    sell = plan.sells[0]
    assert sell.amount == pytest.approx(0.48)  # 0.5 floored to a multiple of 0.03


def test_relative_band_does_not_trigger_on_leftover_cash_without_a_cash_target():
    targets = Targets(("BTC", "ETH"), (0.5, 0.5))
    state = PortfolioState(("BTC", "ETH"), np.array([0.499, 0.499]), np.array([100.0, 100.0]), 0.2)
    rule = RebalanceRule(threshold=0.05, relative=True)
    assert check_trigger(state, targets, rule, None) is None
    poor = PortfolioState(("BTC", "ETH"), np.array([0.45, 0.45]), np.array([100.0, 100.0]), 10.0)
    assert check_trigger(poor, targets, rule, None).reason == "cash 10.00% > 5.00%"


def test_a_completion_only_buys_with_the_cash_sales_freed():
    targets = Targets(("BTC", "ETH", "SOL"), (0.4, 0.3, 0.3))
    state = PortfolioState(targets.coins, np.array([0.5, 0.2, 0.2]), np.array([100.0, 100.0, 100.0]), 10.0)
    full = plan_rebalance(state, targets, (CoinRules(1.0),) * 3, 0.001, MANUAL)
    assert full.sells and full.buys
    completion = plan_rebalance(
        state, targets, (CoinRules(1.0),) * 3, 0.001, Trigger(TriggerKind.COMPLETION, "buys waiting")
    )
    assert not completion.sells and completion.buys
    assert sum(o.value for o in completion.buys) * 1.001 <= state.cash + 1e-9


@pytest.mark.parametrize(
    ("amounts", "cash", "rule", "kind", "reason"),
    [
        # A 60% (band 50% +- 5%): only a sale brings it back, so a full band rebalance (its reason
        # names the worst weight, as out_of_band_reason does)
        ((0.6, 0.2), 200.0, RebalanceRule(threshold=0.05), TriggerKind.THRESHOLD, "B 20.00% < 45.00%"),
        # B under its band and the cash over its own: what the waiting buys fix
        ((0.5, 0.2), 300.0, RebalanceRule(threshold=0.05), TriggerKind.COMPLETION, "buys waiting"),
        # no band, a schedule only: nothing to measure a coin against
        ((0.6, 0.2), 200.0, RebalanceRule(interval_minutes=60), TriggerKind.COMPLETION, "buys waiting"),
        # relative band: A's 50% +- 10% of 50% leaves room up to 55%
        ((0.54, 0.2), 260.0, RebalanceRule(threshold=0.1, relative=True), TriggerKind.COMPLETION, "buys"),
    ],
)
def test_a_completion_becomes_a_band_rebalance_when_a_coin_is_over(amounts, cash, rule, kind, reason):
    """The candle after buys waited for cash: a completion (buys only), unless a coin moved over its
    band meanwhile (seeds 511 and 514 of benchmarks/random_windows.py on real candles)."""
    targets = Targets(("A", "B"), (0.5, 0.5))
    state = PortfolioState(("A", "B"), np.array(amounts), np.array([1000.0, 1000.0]), cash)
    trigger = completion_trigger(state, targets, rule)
    assert trigger.kind is kind
    assert trigger.reason.startswith(reason)
