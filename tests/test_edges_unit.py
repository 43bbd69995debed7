"""Unit tests of the pure pieces behind "real markets at the edges": targets for the coins that trade,
buys fitted to the lot, the market watch, the filled cash and the trigger order."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_smartfolio.adapter.cash import FilledCash
from freqtrade_smartfolio.adapter.market_watch import MarketWatch
from freqtrade_smartfolio.portfolio.lots import fit_buy_to_lot, truncate_to_step
from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PortfolioState,
    RebalanceRule,
    Trigger,
    TriggerKind,
    check_trigger,
    plan_rebalance,
)
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets

TARGETS = Targets(("BTC", "ETH", "TRUMP"), (0.4, 0.3, 0.2), 0.1)


def test_every_coin_trading_leaves_the_targets_as_they_are():
    values = np.array([400.0, 300.0, 200.0])
    assert tradable_targets(TARGETS, np.ones(3, dtype=bool), values, 1000.0) is TARGETS


def test_a_coin_not_listed_yet_gives_its_target_to_the_others_pro_rata_cash_kept():
    steer = tradable_targets(TARGETS, np.array([True, True, False]), np.zeros(3), 1000.0)
    assert steer.weights == pytest.approx((0.9 * 4 / 7, 0.9 * 3 / 7, 0.0))
    assert steer.cash == pytest.approx(0.1)


def test_a_held_coin_that_stopped_trading_keeps_its_weight_and_is_never_out_of_band():
    values = np.array([400.0, 300.0, 100.0])
    steer = tradable_targets(TARGETS, np.array([True, True, False]), values, 900.0)
    assert steer.weights[2] == pytest.approx(100 / 900)
    state = PortfolioState(TARGETS.coins, np.array([4.0, 3.0, 1.0]), np.array([100.0, 100.0, 100.0]), 100.0)
    plan = plan_rebalance(
        state,
        steer,
        [CoinRules(5, 0.0)] * 3,
        0.001,
        Trigger(TriggerKind.MANUAL, ""),
        np.array([1, 1, 0], bool),
    )
    assert all(o.coin != "TRUMP" for o in plan.orders)
    assert plan.orders  # BTC/ETH/cash go to 0.4/0.3/0.1 scaled to the 8/9 that trades


@given(
    st.lists(st.floats(0, 1e6), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.floats(0, 1e5),
)
def test_steering_targets_always_sum_to_one(values, tradable, cash):
    values = np.array(values)
    total = float(values.sum()) + cash
    if total <= 0:
        return
    steer = tradable_targets(TARGETS, np.array(tradable), values, total)
    assert sum(steer.weights) + steer.cash == pytest.approx(1.0)
    assert min(steer.weights) >= 0 and steer.cash >= -1e-12


def test_a_buy_truncated_under_the_minimum_is_rounded_up_one_lot_when_the_cash_pays():
    # the case: 5.83 at 122,157.71 truncates to 0.00004 = 4.89 USDT
    fit = fit_buy_to_lot(5.83, 122_157.71, 0.00001, 5.83, cash=100.0, fee=0.001, coin="BTC")
    assert fit.amount == 0.00005 and "rounded up one lot" in fit.note
    assert truncate_to_step(fit.stake / 122_157.71, 0.00001) == 0.00005  # freqtrade's own truncation


def test_a_buy_truncated_under_the_minimum_is_skipped_with_the_reason_when_cash_is_short():
    fit = fit_buy_to_lot(5.83, 122_157.71, 0.00001, 5.83, cash=6.0, fee=0.001, coin="BTC")
    assert fit.amount == 0.0 and fit.stake == 0.0
    assert "4.89, below the minimum order of 5.83" in fit.note and "more than the cash 6.00" in fit.note


@given(
    st.floats(0.01, 1e4),
    st.floats(1e-4, 2e5),
    st.sampled_from([0.0, 1e-5, 1e-3, 0.1, 1.0]),
    st.floats(0, 1e4),
)
def test_a_fitted_buy_is_never_below_the_minimum_nor_above_the_cash(stake, price, step, cash):
    fit = fit_buy_to_lot(stake, price, step, 5.0, cash, 0.001)
    assert fit.amount >= 0 and fit.stake >= 0
    if fit.amount > 0:
        assert fit.amount * price >= 5.0 * (1 - 1e-12)
        if fit.note:  # rounded up: paid from the cash
            assert fit.amount * price * 1.001 <= cash + 1e-9


def test_market_watch_says_each_change_once_and_triggers_a_listing():
    watch = MarketWatch(("BTC/USDT", "TRUMP/USDT"))
    when = datetime(2025, 1, 18, 8, tzinfo=UTC)
    messages, trigger = watch.update(when, np.array([True, False]), np.zeros(2), np.array([1.0, 0.0]))
    assert trigger is None and messages == [
        "TRUMP has no candle at 2025-01-18 08:00 (not listed yet, or halted): its target goes to the coins "
        "that trade, pro rata, until it trades."
    ]
    messages, trigger = watch.update(
        when, np.array([True, False]), np.array([1.0, 0.0]), np.array([1.0, 0.0])
    )
    assert messages == [] and trigger is None
    messages, trigger = watch.update(when, np.array([True, True]), np.array([1.0, 0.0]), np.array([1.0, 9.0]))
    assert trigger == Trigger(TriggerKind.LISTING, "TRUMP trades from 2025-01-18 08:00")
    assert messages == ["TRUMP trades from the candle of 2025-01-18 08:00: brought in at its target."]
    assert watch.status("TRUMP/USDT") == ""


def _trade(tid, orders, fee=0.001):
    return SimpleNamespace(
        id=tid,
        entry_side="buy",
        fee_open=fee,
        fee_close=fee,
        orders=[SimpleNamespace(ft_order_side=s, safe_filled=a, safe_price=p) for s, a, p in orders],
        has_open_orders=False,
    )


def test_filled_cash_is_the_investment_plus_sales_less_buys_with_fees():
    trades = [_trade(1, [("buy", 1.0, 100.0), ("sell", 0.5, 120.0)]), _trade(2, [("buy", 2.0, 10.0)])]
    cash = FilledCash(1000.0)
    expected = 1000 - 100 * 1.001 + 60 * 0.999 - 20 * 1.001
    assert cash.cash(trades) == pytest.approx(expected)
    assert cash.cash(trades) == pytest.approx(expected)  # cached per trade


def test_a_due_schedule_fires_even_when_a_weight_is_out_of_band():
    targets = Targets(("BTC", "ETH"), (0.5, 0.5))
    state = PortfolioState(("BTC", "ETH"), np.array([1.0, 1.0]), np.array([70.0, 30.0]), 0.0)
    rule = RebalanceRule(threshold=0.05, interval_minutes=60)
    assert check_trigger(state, targets, rule, 60.0).kind is TriggerKind.SCHEDULE
    assert check_trigger(state, targets, rule, 59.0).kind is TriggerKind.THRESHOLD
