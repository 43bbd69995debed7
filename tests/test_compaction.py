"""Compaction without trading (adapter/compaction.py) on freqtrade's own models and a sqlite database:
the trade is closed and continued for the same amount, no fee, one transaction, and every reader of the
history (cash from the fills, freqtrade's wallet arithmetic, the strategy's cash, records, the schedule
clock) reads the same before and after."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta

import pytest
from freqtrade.persistence import Order, Trade, init_db
from sqlalchemy import select

from freqtrade_smartfolio.adapter import compaction
from freqtrade_smartfolio.adapter.cash import FilledCash
from freqtrade_smartfolio.adapter.strategy import SmartPortfolio
from freqtrade_smartfolio.config import ConfigError, parse_settings
from freqtrade_smartfolio.live.records import group_rebalances, orders_from_db
from freqtrade_smartfolio.verify.longrun.seed import closed_order, open_trade

FEE = 0.001
START = datetime(2026, 1, 1, tzinfo=UTC)
INVESTMENT = 2000.0


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "trades.sqlite"
    init_db(f"sqlite:///{path}")
    yield path
    Trade.session.remove()


def make_trade(coin: str, price: float, orders: int, *, step: float = 0.0001, drift: float = 0.01) -> Trade:
    """An open trade: an initial buy, then alternating sales and buys of ~5% at drifting prices."""
    pair = f"{coin}/USDT"
    amount = round(1000 / price, 4)
    trade = open_trade(coin, amount, price, START, step=step, tick=0.01, fee=FEE, fee_close_currency=None)
    trade.orders.append(closed_order(pair, f"{pair}-0", "buy", amount, price, START, "initial allocation"))
    for i in range(1, orders):
        side = "sell" if i % 2 else "buy"
        fill = round(price * (1 + drift * ((i % 7) - 3)), 2)
        size = round(amount * 0.05, 4)
        tag = f"{'schedule: every 1d' if i == orders - 1 else 'threshold: drift'} | {side} {coin}"
        trade.orders.append(
            closed_order(pair, f"{pair}-{i}", side, size, fill, START + timedelta(minutes=i), tag)
        )
    trade.recalc_trade_from_orders()
    Trade.session.add(trade)
    return trade


def books(limit_trades=None) -> dict[str, float]:
    """What must not move: coins per pair, the cash from the fills, and freqtrade's books."""
    open_trades = Trade.session.scalars(select(Trade).filter(Trade.is_open.is_(True))).all()
    closed = Trade.get_total_closed_profit()
    realised = closed + sum(t.realized_profit for t in open_trades)
    stake = sum(t.stake_amount for t in open_trades)
    unpaid = sum(t.open_trade_value - t.stake_amount for t in open_trades)
    out = {f"amount {t.pair}": t.amount for t in open_trades}
    out["cash from fills"] = FilledCash(INVESTMENT).cash_live(open_trades)
    # SmartPortfolio._cash (live): investment + realised - in trades - unpaid entry fees
    out["strategy cash"] = INVESTMENT + realised - stake - unpaid
    out["open trades"] = len(open_trades)
    return out


def test_a_trade_over_the_limit_is_closed_and_continued_for_the_same_amount(db):
    make_trade("BTC", 60000.0, 30)
    make_trade("ETH", 3000.0, 8)  # under the limit: untouched
    Trade.commit()
    before = books()
    records_before = orders_from_db(db)

    done = compaction.compact_trades(
        10, {"BTC/USDT": 61234.56, "ETH/USDT": 3100.0}.get, START + timedelta(days=1)
    )

    assert [(old.pair, new.pair) for old, new in done] == [("BTC/USDT", "BTC/USDT")]
    old, new = done[0]
    Trade.session.remove()  # read back what was committed
    old = Trade.session.get(Trade, old.id)
    new = Trade.session.get(Trade, new.id)
    assert not old.is_open and old.exit_reason == compaction.COMPACTION_TAG
    assert old.close_rate == 61234.56 and len(old.orders) == 31
    assert new.is_open and len(new.orders) == 1 and new.amount == old.amount
    assert new.open_rate == 61234.56 and new.enter_tag == "initial allocation"
    assert new.fee_open == FEE and new.fee_close == FEE and new.fee_open_currency == "USDT"
    assert old.fee_close_currency == "USDT"  # no exchange look-up at the next start
    for order in (old.orders[-1], new.orders[0]):
        assert order.ft_order_tag == compaction.COMPACTION_TAG and order.status == "closed"
        assert not order.ft_is_open and order.filled == pytest.approx(new.amount, abs=1e-4)
    eth = Trade.session.scalars(select(Trade).filter(Trade.pair == "ETH/USDT")).one()
    assert eth.is_open and len(eth.orders) == 8

    after = books()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] == pytest.approx(value, abs=1e-9), key
    # records read across the chain and leave the bookkeeping out
    records_after = orders_from_db(db)
    assert records_after.equals(records_before)
    assert len(group_rebalances(records_after)) == 30 + 8  # every fill, no compaction row


def test_compaction_repeats_as_the_successor_fills_up_and_the_books_stay(db):
    make_trade("BTC", 60000.0, 12)
    Trade.commit()
    before = books()
    for day in range(1, 4):
        trade = Trade.session.scalars(select(Trade).filter(Trade.is_open.is_(True))).one()
        assert compaction.compact_trades(
            5, lambda pair, day=day: 60000.0 + 1000 * day, START + timedelta(days=day)
        )
        # the successor trades on: a sale and a buy with fees, as freqtrade books them
        trade = Trade.session.scalars(select(Trade).filter(Trade.is_open.is_(True))).one()
        for n, side in enumerate(("sell", "buy", "sell", "buy", "sell")):
            when = START + timedelta(days=day, minutes=n + 1)
            trade.orders.append(
                closed_order(
                    "BTC/USDT",
                    f"BTC/USDT-{100 * day + n}",
                    side,
                    0.0005,
                    60000.0 + 1000 * day + n,
                    when,
                    "threshold: x",
                )
            )
        trade.recalc_trade_from_orders()
        Trade.commit()
    trades = Trade.session.scalars(select(Trade)).all()
    assert [t.is_open for t in trades] == [False, False, False, True]
    # the same history without compaction: one trade holding every fill
    fills = [o for t in trades for o in t.orders if o.ft_order_tag != compaction.COMPACTION_TAG]
    assert len(fills) == 12 + 3 * 5
    amount = sum(o.filled if o.ft_order_side == "buy" else -o.filled for o in fills)
    assert trades[-1].amount == pytest.approx(amount, abs=1e-12)
    cash = INVESTMENT + sum(
        (o.filled * o.safe_price) * ((1 - FEE) if o.ft_order_side == "sell" else -(1 + FEE)) for o in fills
    )
    assert books()["cash from fills"] == pytest.approx(cash, abs=1e-9)
    assert before["open trades"] == 1


def test_a_fee_taken_in_the_coin_leaves_the_same_fraction_of_a_lot_after_compaction(db):
    """Binance takes a buy's fee in the coin: freqtrade sums the fills unrounded and floors the total to
    the lot step. The successor must carry the fraction on, or the next fill floors one step short."""
    trade = make_trade("BTC", 60000.0, 1, step=0.00001)
    fills = [("buy", 0.02125), ("sell", 0.01061), ("buy", 0.01052), ("sell", 0.01052), ("buy", 0.01056)]
    trade.orders.clear()
    for n, (side, size) in enumerate(fills[:4]):
        order = closed_order(
            "BTC/USDT", f"BTC/USDT-{n}", side, size, 60000.0, START + timedelta(minutes=n), "threshold: x"
        )
        order.ft_fee_base = size * FEE if side == "buy" else None
        trade.orders.append(order)
    trade.recalc_trade_from_orders()
    Trade.commit()
    before = trade.amount
    ((_, new),) = compaction.compact_trades(2, lambda pair: 60000.0, START + timedelta(hours=1))
    assert new.amount == before
    side, size = fills[4]
    order = closed_order(
        "BTC/USDT", "BTC/USDT-9", side, size, 60000.0, START + timedelta(hours=2), "threshold: x"
    )
    order.ft_fee_base = size * FEE
    new.orders.append(order)
    new.recalc_trade_from_orders()
    held = sum(s * (1 - FEE) if d == "buy" else -s for d, s in fills)  # what the account holds
    assert new.amount == pytest.approx(int(held / 0.00001 + 1e-9) * 0.00001, abs=1e-12)


def test_a_trade_with_an_open_order_skipped_pair_or_no_price_waits(db):
    busy = make_trade("BTC", 60000.0, 12)
    open_order = closed_order("BTC/USDT", "BTC/USDT-99", "sell", 0.001, 60000.0, START, "threshold: x")
    open_order.ft_is_open, open_order.status = True, "open"
    busy.orders.append(open_order)
    make_trade("ETH", 3000.0, 12)
    make_trade("SOL", 100.0, 12)
    Trade.commit()
    prices = {"BTC/USDT": 60000.0, "ETH/USDT": 3000.0, "SOL/USDT": None}
    assert compaction.compact_trades(5, prices.get, START, skip={"ETH/USDT"}) == []
    assert len(Trade.session.scalars(select(Trade).filter(Trade.is_open.is_(True))).all()) == 3
    done = compaction.compact_trades(5, {**prices, "SOL/USDT": 100.0}.get, START)
    assert sorted(old.pair for old, _ in done) == ["ETH/USDT", "SOL/USDT"]


def test_nothing_is_written_unless_the_whole_transaction_commits(db):
    make_trade("BTC", 60000.0, 12)
    make_trade("ETH", 3000.0, 12)
    Trade.commit()
    calls = []

    def price(pair: str) -> float:
        calls.append(pair)
        if len(calls) == 2:
            raise RuntimeError("killed in the middle")
        return 100.0

    with pytest.raises(RuntimeError):
        compaction.compact_trades(5, price, START)
    Trade.session.remove()  # a new session, as after a restart
    trades = Trade.session.scalars(select(Trade)).all()
    assert [(t.is_open, len(t.orders)) for t in trades] == [(True, 12), (True, 12)]
    assert not Trade.session.scalars(
        select(Order).filter(Order.ft_order_tag == compaction.COMPACTION_TAG)
    ).all()


def test_the_schedule_clock_reads_across_the_chain(db):
    make_trade("BTC", 60000.0, 12)  # its last order is tagged 'schedule: ...' at START + 11 min
    Trade.commit()
    fake = types.SimpleNamespace(is_backtest=False)
    before = SmartPortfolio._last_tagged_order_time(fake, ("schedule:",))
    assert before == START + timedelta(minutes=11)
    compaction.compact_trades(5, lambda pair: 61000.0, START + timedelta(days=3))
    assert SmartPortfolio._last_tagged_order_time(fake, ("schedule:",)) == before
    assert SmartPortfolio._last_tagged_order_time(fake) == before  # compaction orders are no rebalance


def test_compact_after_orders_setting():
    base = {
        "stake_currency": "USDT",
        "smartfolio": {
            "portfolio": {"BTC": 50, "ETH": 50},
            "investment": 1000,
            "rebalance": {"mode": "proportional", "threshold": 5},
        },
    }
    assert parse_settings(base).compact_after_orders == 100
    for raw, expected in ((250, 250), (2, 2), (False, None)):
        config = {**base, "smartfolio": {**base["smartfolio"], "compact_after_orders": raw}}
        assert parse_settings(config).compact_after_orders == expected
    for raw in (1, 0, -5, 10.5, "100", True, None, [100]):
        config = {**base, "smartfolio": {**base["smartfolio"], "compact_after_orders": raw}}
        with pytest.raises(ConfigError) as err:
            parse_settings(config)
        (message,) = err.value.problems
        assert message.startswith(f"smartfolio.compact_after_orders: {raw!r} is not a whole number")
        assert "e.g. 100" in message and "false to never compact" in message


def test_the_trade_history_reads_closed_trades_once_and_leaves_compaction_out(db, monkeypatch):
    from freqtrade_smartfolio.portfolio.vs_hold import orders_from_trade_dicts

    make_trade("BTC", 60000.0, 12)
    make_trade("ETH", 3000.0, 12)
    Trade.commit()
    history = compaction.TradeHistory(orders_from_trade_dicts)
    before = history.orders()
    assert len(before) == 24
    compaction.compact_trades(5, lambda pair: 100.0, START + timedelta(days=1))
    after = history.orders()
    assert after.equals(before)  # the chain reads as one history, without the bookkeeping
    converted = []
    monkeypatch.setattr(history, "convert", lambda trades: converted.append(list(trades)) or before[:0])
    history.orders()
    assert [len(batch) for batch in converted] == [2]  # only the open trades again: the closed ones are kept


def test_the_report_and_vs_holding_read_the_chain_as_one_history(db):
    from freqtrade_smartfolio.portfolio.vs_hold import orders_from_trade_dicts
    from freqtrade_smartfolio.report.sources import orders_from_db as report_orders

    make_trade("BTC", 60000.0, 12)
    make_trade("ETH", 3000.0, 12)
    Trade.commit()
    report_before, _ = report_orders(db)
    vs_before = orders_from_trade_dicts(t.to_json() for t in Trade.session.scalars(select(Trade)).all())
    compaction.compact_trades(5, lambda pair: 100.0, START + timedelta(days=1))
    Trade.session.remove()
    report_after, _ = report_orders(db)
    vs_after = orders_from_trade_dicts(t.to_json() for t in Trade.session.scalars(select(Trade)).all())
    assert report_after.equals(report_before)
    assert vs_after.equals(vs_before)
