"""Pins the freqtrade 2026.9 details SmartPortfolio relies on, so an upgrade that changes one fails here
loudly instead of silently slowing down or mis-sizing orders (see docs/performance.md)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import ClassVar

import pytest
from ccxt import TICK_SIZE
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
    plain = strategy_safe_wrapper(callback)(trade=_trade_with_orders(3))
    assert plain.orders[0] is not _trade_with_orders(3).orders[0]  # a deep copy: orders copied too


def test_position_adjustment_flag_is_read_on_every_candle_and_loop():
    """The strategy switches `position_adjustment_enable` per candle; both loops must read it live.

    The backtester's candle step is called with the flag off, then on: only the second call adjusts.
    The bot's loop (``FreqtradeBot.process``) needs an exchange, a database and a wallet to run, so
    its line is still matched in the source."""
    adjusted: list[bool] = []
    closed = _trade_with_orders(1)
    closed.is_open = False  # nothing after the adjustment runs
    fake = SimpleNamespace(
        strategy=SimpleNamespace(position_adjustment_enable=False),
        _run_funding_fees=lambda trade, now: None,
        _check_adjust_trade_for_candle=lambda trade, row, now: adjusted.append(True) or trade,
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    Backtesting._check_trade_exit(fake, closed, (), now)  # type: ignore[arg-type]
    assert adjusted == []
    fake.strategy.position_adjustment_enable = True
    Backtesting._check_trade_exit(fake, closed, (), now)  # type: ignore[arg-type]
    assert adjusted == [True]
    assert "if self.strategy.position_adjustment_enable:" in inspect.getsource(FreqtradeBot.process)


def _adjusting_backtester(stake: float, exits: list[float], min_stakes: list[tuple]) -> SimpleNamespace:
    """Just enough of a Backtesting for ``_check_adjust_trade_for_candle``: the strategy asks for
    ``stake``; the exit amounts freqtrade derives and its minimum-stake calls are recorded."""

    def min_stake(pair: str, rate: float, stoploss: float) -> float:
        min_stakes.append((pair, rate, stoploss))
        return 0.0

    def exit_for_signal(trade, row, exit_, now, amount):
        exits.append(amount)

    return SimpleNamespace(
        exchange=SimpleNamespace(
            get_min_pair_stake_amount=min_stake, get_max_pair_stake_amount=lambda pair, rate: 1e12
        ),
        wallets=SimpleNamespace(get_available_stake_amount=lambda: 1e12),
        strategy=SimpleNamespace(_adjust_trade_position_internal=lambda **kwargs: (stake, "tag")),
        precision_mode=TICK_SIZE,
        _get_exit_for_signal=exit_for_signal,
    )


def test_partial_exit_amount_is_derived_from_stake_over_trade_stake():
    """adjust_trade_position returns a negative stake; freqtrade converts it with
    trade.amount / trade.stake_amount (not the current rate), which the strategy inverts."""
    trade = _trade_with_orders(1)  # 0.01 BTC for a stake of 100 (10,000 a coin)
    trade.amount_precision = 1e-8
    exits: list[float] = []
    fake = _adjusting_backtester(-25.0, exits, [])
    row = (datetime(2024, 1, 1, tzinfo=UTC), 20_000.0)  # open at 20,000: the rate is not used
    Backtesting._check_adjust_trade_for_candle(fake, trade, row, row[0])  # type: ignore[arg-type]
    assert exits == [pytest.approx(0.01 * 25.0 / 100.0)]  # a quarter of the coins, not 25 / 20,000


def test_pairs_with_open_trades_are_processed_first_in_open_order(monkeypatch):
    """Within a candle, a buy processed before a sale has no cash yet and waits (engine parity)."""
    now = datetime(2024, 1, 1, tzinfo=UTC)
    fake = SimpleNamespace(
        timeframe_td=timedelta(hours=1),
        _time_generator_det=lambda start, end: iter([(start, True, False, 0)]),
    )
    open_trades = [SimpleNamespace(pair="SOL/USDT"), SimpleNamespace(pair="ETH/USDT")]
    monkeypatch.setattr(LocalTrade, "bt_trades_open", open_trades)
    pairs = [
        p for *_, p in Backtesting._time_pair_generator_det(fake, now, ["BTC/USDT", "ETH/USDT", "XRP/USDT"])
    ]
    assert pairs == ["SOL/USDT", "ETH/USDT", "BTC/USDT", "XRP/USDT"]


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
    calls: list[tuple] = []
    fake = _adjusting_backtester(0.0, [], calls)
    row = (datetime(2024, 1, 1, tzinfo=UTC), 20_000.0)
    Backtesting._check_adjust_trade_for_candle(fake, _trade_with_orders(1), row, row[0])  # type: ignore[arg-type]
    assert calls == [("BTC/USDT", 20_000.0, -0.1)]


def test_coins_removed_from_the_portfolio_are_sold_in_full():
    from freqtrade_smartfolio.adapter.strategy import removed_coin_sales

    trades = {"BTC/USDT": SimpleNamespace(amount=0.1), "DOGE/USDT": SimpleNamespace(amount=1500.0)}
    sales = removed_coin_sales(trades, ("BTC/USDT", "ETH/USDT"))
    assert list(sales) == ["DOGE/USDT"]
    assert sales["DOGE/USDT"].side == "sell" and sales["DOGE/USDT"].amount == 1500.0
    assert sales["DOGE/USDT"].tag == "removed from the portfolio | sell DOGE/USDT"
