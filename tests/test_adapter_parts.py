"""The strategy's parts on their own: the order tracker (adapter/orders.py) and the cash accounting
(adapter/cash_accounting.py), on stand-ins for freqtrade's trades (the end-to-end behaviour is in the
dry-run, live-fault and kill tests)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from freqtrade.enums import TradingMode
from freqtrade.persistence import Order, Trade, init_db

from freqtrade_smartfolio.adapter import orders as orders_module
from freqtrade_smartfolio.adapter.cash import FilledCash
from freqtrade_smartfolio.adapter.cash_accounting import CashAccounting
from freqtrade_smartfolio.adapter.orders import MAX_ATTEMPTS, InFlight, OrderTracking
from freqtrade_smartfolio.portfolio.plan import CoinRules, PlannedOrder

CANDLE = datetime(2024, 3, 1, 12, tzinfo=UTC)


def order(side: str, filled: float, is_open: bool = False):
    return SimpleNamespace(ft_order_side=side, safe_filled=filled, ft_is_open=is_open)


def trade(pair: str, orders: list, open_orders: bool = False):
    return SimpleNamespace(pair=pair, orders=orders, has_open_orders=open_orders)


class Tracker(OrderTracking):
    def __init__(self, pending: dict, in_flight: dict, attempts: dict | None = None) -> None:
        self.pending = pending
        self.in_flight = in_flight
        self.attempts = attempts or {}
        self.replanned_candle = None
        self.last_planned_candle = CANDLE
        self.incomplete = False

    def _switch_adjustment(self) -> None:
        self.position_adjustment_enable = bool(self.pending)


@pytest.fixture
def trades(monkeypatch):
    """The open trades freqtrade would return, set by each test."""
    book: dict[str, object] = {}
    monkeypatch.setattr(
        orders_module.Trade, "get_trades_proxy", staticmethod(lambda is_open=True: list(book.values()))
    )
    return book


SELL = PlannedOrder("BTC", "sell", 0.01, 600.0, 60_000.0, "threshold: x | sell BTC")
BUY = PlannedOrder("ETH", "buy", 0.2, 600.0, 3_000.0, "threshold: x | buy ETH")


def test_a_placed_order_that_filled_is_settled_and_leaves_the_plan(trades):
    trades["BTC/USDT"] = trade("BTC/USDT", [order("buy", 0.02), order("sell", 0.01)])
    tracker = Tracker({"BTC/USDT": SELL}, {"BTC/USDT": InFlight(1, "sell", handed=True)}, {"BTC/USDT": 1})
    tracker._settle(CANDLE)
    assert tracker.pending == {} and tracker.in_flight == {} and tracker.attempts == {}


def test_an_order_freqtrade_could_not_place_is_handed_out_again_then_given_up(trades, caplog):
    trades["ETH/USDT"] = trade("ETH/USDT", [order("buy", 0.1)])  # no new order: placing it failed
    tracker = Tracker({"ETH/USDT": BUY}, {"ETH/USDT": InFlight(1, "buy", handed=True)}, {"ETH/USDT": 1})
    tracker._settle(CANDLE)
    assert tracker.pending == {"ETH/USDT": BUY} and tracker.in_flight == {}  # handed out again next loop
    tracker.in_flight["ETH/USDT"] = InFlight(1, "buy", handed=True)
    tracker.attempts["ETH/USDT"] = MAX_ATTEMPTS
    tracker._settle(CANDLE)
    assert tracker.pending == {} and tracker.incomplete  # given up; the buy waits for a completion
    assert f"could not place it in {MAX_ATTEMPTS} attempts" in caplog.text


def test_a_sale_that_ended_unfilled_voids_the_buys_and_replans_the_candle_once(trades):
    trades["BTC/USDT"] = trade("BTC/USDT", [order("buy", 0.02), order("sell", 0.0)])  # cancelled, no fill
    tracker = Tracker({"BTC/USDT": SELL, "ETH/USDT": BUY}, {"BTC/USDT": InFlight(1, "sell", handed=True)})
    tracker._settle(CANDLE)
    assert "ETH/USDT" not in tracker.pending  # the buy counted on the sale's proceeds
    assert tracker.last_planned_candle is None and tracker.replanned_candle == CANDLE


def test_an_order_still_on_the_book_is_left_waiting(trades):
    trades["BTC/USDT"] = trade("BTC/USDT", [order("sell", 0.0, is_open=True)], open_orders=True)
    tracker = Tracker({"BTC/USDT": SELL}, {"BTC/USDT": InFlight(0, "sell", handed=True)})
    tracker._settle(CANDLE)
    assert tracker.pending == {"BTC/USDT": SELL} and "BTC/USDT" in tracker.in_flight


class Purse(CashAccounting):
    pairs = ("BTC/USDT",)
    coin_rules = (CoinRules(min_order=5.83, step=0.00001),)
    fee = 0.001


def test_a_buy_fitted_to_the_lot_rounds_up_one_lot_or_is_skipped(caplog):
    caplog.set_level(logging.INFO)
    purse = Purse()
    stake = purse._fit_to_lot("BTC/USDT", 5.83, 122_157.71, cash=100.0)
    assert stake is not None and 0.00005 * 122_157.71 <= stake <= 0.00005 * 122_157.71 * (1 + 1e-8)
    assert purse._fit_to_lot("BTC/USDT", 5.83, 122_157.71, cash=6.0) is None
    assert "skipped buy BTC ~5.83" in caplog.text


# ---- a plan made at a new candle while the first entry orders are still open ----------------------
INVESTMENT = 1000.0
FIRST_ENTRIES = {"BTC/USDT": (0.005, 60_000.0), "ETH/USDT": (0.1, 3_000.0)}  # 300 USDT each


class Planner(CashAccounting, OrderTracking):
    """The strategy's cash and open-order arithmetic (dry-run/live) over freqtrade's own trade rows."""

    is_backtest = False
    fee = 0.001

    def __init__(self, dry_run: bool, wallet_free: float) -> None:
        self.config = {"dry_run": dry_run}
        self.settings = SimpleNamespace(investment=INVESTMENT)
        self.wallets = SimpleNamespace(get_available_stake_amount=lambda: wallet_free)
        self.filled_cash = FilledCash(INVESTMENT)


@pytest.fixture
def db(tmp_path):
    init_db(f"sqlite:///{tmp_path / 'trades.sqlite'}")
    yield
    Trade.session.remove()


def first_entry(pair: str, amount: float, price: float, filled: float) -> Trade:
    """A first buy as freqtrade records it on placing it (freqtradebot.execute_entry): a trade with
    ``amount=0`` and the order's stake, the order still open (``filled`` of it so far)."""
    trade = Trade(
        pair=pair,
        base_currency=pair.split("/")[0],
        stake_currency="USDT",
        stake_amount=amount * price,
        amount=0,
        is_open=True,
        amount_requested=amount,
        fee_open=Planner.fee,
        fee_close=Planner.fee,
        open_rate=price,
        open_rate_requested=price,
        open_date=CANDLE,
        exchange="binance",
        strategy="SmartPortfolio",
        leverage=1.0,
        is_short=False,
        trading_mode=TradingMode.SPOT,
        amount_precision=1e-5,
        price_precision=0.01,
        precision_mode=4,
        precision_mode_price=4,
        contract_size=1.0,
    )
    stamp = int(CANDLE.timestamp() * 1000)
    ccxt_order = {
        "id": f"{pair}-1",
        "symbol": pair,
        "status": "open",
        "type": "limit",
        "side": "buy",
        "price": price,
        "average": price if filled else None,
        "amount": amount,
        "filled": filled,
        "remaining": amount - filled,
        "cost": filled * price,
        "timestamp": stamp,
    }
    trade.orders.append(Order.parse_from_ccxt_object(ccxt_order, pair, "buy"))
    trade.recalc_trade_from_orders()
    Trade.session.add(trade)
    return trade


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "live"])
@pytest.mark.parametrize("filled", [0.0, 0.5], ids=["unfilled", "half filled"])
def test_a_plan_made_while_the_first_entries_are_open_counts_their_stake_once(db, dry_run, filled):
    """A new candle's plan while the first buys are still on the book: it counts their coins as bought
    (so it does not buy them again) and their stake as spent, never also as cash. freqtrade holds such
    a trade with ``amount=0`` and ``open_trade_value=0`` but ``stake_amount`` already set: read as an
    "unpaid entry fee" that difference was minus the whole stake, and the plan saw the investment
    plus the stakes of the open buys (live runs on the fast FastAPI server waited on buys it sized
    with that cash)."""
    for pair, (amount, price) in FIRST_ENTRIES.items():
        first_entry(pair, amount, price, filled * amount)
    Trade.commit()
    stakes = sum(amount * price for amount, price in FIRST_ENTRIES.values())
    # freqtrade's free stake: dry-run its bookkeeping (start - stakes), live the exchange's free USDT
    planner = Planner(dry_run, wallet_free=INVESTMENT - stakes)
    trades = {t.pair: t for t in Trade.get_trades_proxy(is_open=True)}

    cash = planner._cash(trades)
    coins = 0.0
    for pair, trade in trades.items():
        assert trade.amount == 0 and trade.has_open_orders  # freqtrade books the coins once it fills
        bought, _, sold = planner._open_orders(trade)
        coins += (trade.amount + bought - sold) * FIRST_ENTRIES[pair][1]
    # the plan's portfolio: the investment less the buys' fees, nothing counted twice
    assert INVESTMENT * (1 - 3 * planner.fee) <= cash + coins <= INVESTMENT
    assert cash <= INVESTMENT - stakes
    assert planner._spendable_cash(trades.values()) <= INVESTMENT - stakes
