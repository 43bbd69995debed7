"""Pins the freqtrade 2026.9 details SmartPortfolio relies on, so an upgrade that changes one fails here
loudly instead of silently slowing down or mis-sizing orders (see docs/performance.md)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from freqtrade.exchange.exchange import Exchange
from freqtrade.freqtradebot import FreqtradeBot
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.persistence import LocalTrade, Order
from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper

from freqtrade_smartfolio.adapter.strategy import TradeView, protect_trade_cheaply
from freqtrade_smartfolio.config import exchange_min_order


def _trade_with_orders(n: int) -> LocalTrade:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    trade = LocalTrade(
        pair="BTC/USDT",
        stake_amount=100.0,
        amount=0.01,
        open_rate=10_000.0,
        open_date=now,
        fee_open=0.001,
        fee_close=0.001,
        exchange="binance",
        is_open=True,
    )
    trade.orders = [
        Order(
            ft_order_side="buy",
            ft_pair="BTC/USDT",
            ft_is_open=False,
            order_id=str(i),
            status="closed",
            amount=0.001,
            filled=0.001,
            price=10_000.0,
            average=10_000.0,
            order_date=now,
        )
        for i in range(n)
    ]
    return trade


def test_callbacks_receive_a_deepcopy_that_honours_the_instance_hook():
    """freqtrade deep-copies `trade` before every overridden callback that takes it; our hook makes
    that copy an O(1) read-only view instead of a copy of every order."""
    trade = _trade_with_orders(500)

    def callback(trade, **kwargs):
        return trade

    plain = strategy_safe_wrapper(callback)(trade=trade)
    assert plain is not trade and len(plain.orders) == 500  # freqtrade's own deep copy
    protect_trade_cheaply(trade)
    viewed = strategy_safe_wrapper(callback)(trade=trade)
    assert isinstance(viewed, TradeView)
    assert viewed.pair == "BTC/USDT" and viewed.amount == trade.amount
    with pytest.raises(AttributeError, match="read-only"):
        viewed.amount = 1.0
    assert 'deepcopy(kwargs["trade"])' in inspect.getsource(strategy_safe_wrapper)


def test_position_adjustment_flag_is_read_on_every_candle_and_loop():
    """The strategy switches `position_adjustment_enable` per candle; both loops must read it live."""
    assert "if self.strategy.position_adjustment_enable:" in inspect.getsource(Backtesting._check_trade_exit)
    assert "if self.strategy.position_adjustment_enable:" in inspect.getsource(FreqtradeBot.process)


def test_partial_exit_amount_is_derived_from_stake_over_trade_stake():
    """adjust_trade_position returns a negative stake; freqtrade converts it with
    trade.amount / trade.stake_amount (not the current rate), which the strategy inverts."""
    source = inspect.getsource(Backtesting._check_adjust_trade_for_candle)
    assert "FtPrecise(stake_amount)" in source and "FtPrecise(trade.amount)" in source
    assert "FtPrecise(trade.stake_amount)" in source


def test_pairs_with_open_trades_are_processed_first_in_open_order():
    """Within a candle, a buy processed before a sale has no cash yet and waits (engine parity)."""
    source = inspect.getsource(Backtesting._time_pair_generator_det)
    assert "[t.pair for t in LocalTrade.bt_trades_open] + pairs" in source


def test_min_order_mirrors_freqtrade_min_stake():
    class Fake:
        _config: ClassVar[dict] = {}
        markets: ClassVar[dict] = {"BTC/USDT": {"limits": {"cost": {"min": 5.0}, "amount": {"min": 0.00001}}}}

        def _contracts_to_amount(self, pair, num):
            return num

        def _get_max_notional_from_tiers(self, pair, leverage):
            return None

        def _get_stake_amount_considering_leverage(self, stake, leverage):
            return stake / leverage

    for price in (100.0, 60_000.0, 1_000_000.0):
        ours = exchange_min_order(5.0, 0.00001, price)
        theirs = Exchange._get_stake_amount_limit(Fake(), "BTC/USDT", price, -0.1, "min")
        assert ours == pytest.approx(theirs)
    # the -0.1 stoploss is what the backtester passes for position adjustments
    assert "get_min_pair_stake_amount(trade.pair, current_rate, -0.1)" in inspect.getsource(
        Backtesting._check_adjust_trade_for_candle
    )


def test_coins_removed_from_the_portfolio_are_sold_in_full():
    from types import SimpleNamespace

    from freqtrade_smartfolio.adapter.strategy import removed_coin_sales

    trades = {"BTC/USDT": SimpleNamespace(amount=0.1), "DOGE/USDT": SimpleNamespace(amount=1500.0)}
    sales = removed_coin_sales(trades, ("BTC/USDT", "ETH/USDT"))
    assert list(sales) == ["DOGE/USDT"]
    assert sales["DOGE/USDT"].side == "sell" and sales["DOGE/USDT"].amount == 1500.0
    assert sales["DOGE/USDT"].tag == "removed from the portfolio | sell DOGE/USDT"
