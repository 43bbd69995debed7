"""Compaction without trading (dry-run and live): a coin's open trade that holds too many orders is
closed at the current price and a new trade opened for the same amount, with no exchange order.

freqtrade reads every order of every open trade several times per loop (``docs/reliability.md``, "Long
run"), and a portfolio keeps one trade per coin for ever, so its loop slows with every rebalance. Once a
trade holds more than ``compact_after_orders`` orders, :func:`compact_trades` writes, for each such coin
and in **one database transaction** (all or nothing: a kill at any point leaves either the old trade or
the closed one and its successor, never both open nor neither):

* on the old trade, a closed, fee-free exit "order" for its whole amount at the price, tagged
  :data:`COMPACTION_TAG`; the trade is closed (``exit_reason`` :data:`COMPACTION_TAG`);
* a new open trade with the same pair, amount, fee rates and ``enter_tag``, whose one closed, fee-free
  entry "order" (same tag) carries the amount at the price: the mechanism of the take-over of held coins
  (:mod:`adapter.funding`).

Nothing moves on the account. The books stay where they were too:

* the old trade's ``close_profit_abs`` is its realised profit so far plus the difference between the
  new trade's and the old trade's ``open_trade_value`` (value at entry including the entry fee freqtrade
  has not charged yet). So freqtrade's "closed profit + open trades' realised profit - their stake" less
  the unpaid entry fees, the portfolio's cash as the strategy computes it (``SmartPortfolio._cash``),
  is exactly what it was;
* the cash the fills left (:mod:`adapter.cash`), ``smartfolio records`` and the ledger skip the two
  tagged orders: they are bookkeeping, not fills.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from freqtrade.persistence import Order, Trade
from freqtrade.util import FtPrecise
from sqlalchemy import func, select

from freqtrade_smartfolio.adapter.cash import COMPACTION_TAG

logger = logging.getLogger(__name__)

ORDER_ID_PREFIX = "smartfolio-compaction-"
# Test hook (tests/test_compaction_live.py): hold the compaction at this point ("prepared": written in
# the session, not committed; "committed") so that a test can SIGKILL the bot there.
HOLD_ENV = "SMARTFOLIO_COMPACTION_HOLD"

__all__ = ["COMPACTION_TAG", "TradeHistory", "compact_trades", "is_compaction", "trades_over"]


def is_compaction(order: Any) -> bool:
    """True for the bookkeeping orders a compaction writes (an ORM order or a dict of one)."""
    tag = order.get("ft_order_tag") if isinstance(order, dict) else getattr(order, "ft_order_tag", None)
    return tag == COMPACTION_TAG


def hold(point: str) -> None:
    """Block for good at ``point`` when :data:`HOLD_ENV` names it (tests only: never set in use)."""
    if os.environ.get(HOLD_ENV) == point:
        logger.warning("SmartPortfolio: compaction held at %s (%s)", point, HOLD_ENV)
        while True:
            time.sleep(60)


def trades_over(limit: int) -> list[int]:
    """Ids of the open trades holding more than ``limit`` orders (one SQL count, nothing loaded)."""
    query = (
        select(Order.ft_trade_id)
        .join(Trade, Trade.id == Order.ft_trade_id)
        .filter(Trade.is_open.is_(True))
        .group_by(Order.ft_trade_id)
        .having(func.count(Order.id) > limit)
    )
    return [int(i) for i in Trade.session.scalars(query).all()]


def _order(trade: Trade, side: str, amount: float, price: float, now: datetime, suffix: str) -> Order:
    return Order(
        order_id=f"{ORDER_ID_PREFIX}{trade.id}-{suffix}",
        ft_order_side=side,
        ft_pair=trade.pair,
        ft_is_open=False,
        ft_amount=amount,
        ft_price=price,
        ft_order_tag=COMPACTION_TAG,
        status="closed",
        symbol=trade.pair,
        order_type="market",
        side=side,
        price=price,
        average=price,
        amount=amount,
        filled=amount,
        remaining=0.0,
        cost=amount * price,
        order_date=now,
        order_filled_date=now,
        order_update_date=now,
    )


def _successor(trade: Trade, amount: float, price: float, now: datetime) -> Trade:
    new = Trade(
        pair=trade.pair,
        base_currency=trade.base_currency,
        stake_currency=trade.stake_currency,
        stake_amount=amount * price,
        amount=0,
        is_open=True,
        amount_requested=amount,
        fee_open=trade.fee_open,
        fee_open_cost=0.0,
        # marks the entry fee as known: freqtrade never asks the exchange about the bookkeeping order
        fee_open_currency=trade.fee_open_currency or trade.stake_currency,
        fee_close=trade.fee_close,
        open_rate=price,
        open_rate_requested=price,
        open_date=now,
        exchange=trade.exchange,
        strategy=trade.strategy,
        enter_tag=trade.enter_tag,
        timeframe=trade.timeframe,
        leverage=trade.leverage or 1.0,
        is_short=False,
        trading_mode=trade.trading_mode,
        amount_precision=trade.amount_precision,
        price_precision=trade.price_precision,
        precision_mode=trade.precision_mode,
        precision_mode_price=trade.precision_mode_price,
        contract_size=trade.contract_size or 1.0,
    )
    return new


def held_amount(trade: Trade) -> float:
    """The coins the trade's fills add up to, before freqtrade floors ``trade.amount`` to the lot step:
    a fee taken in the coin leaves a fraction of a step that freqtrade keeps counting in its sum of the
    orders (and that the account holds). The successor carries it on, so later fills floor the same."""
    held = FtPrecise(0.0)
    for order in trade.orders:
        if order.ft_is_open or not order.filled:
            continue
        amount = FtPrecise(order.safe_amount_after_fee)
        held += amount if order.ft_order_side == trade.entry_side else -amount
    return float(held)


def compact(trade: Trade, price: float, now: datetime) -> Trade:
    """Close ``trade`` at ``price`` and return its open successor (added to the session, not committed)."""
    amount = held_amount(trade)
    stamp = int(now.timestamp() * 1000)
    realised = float(trade.realized_profit or 0.0)
    entry_value = float(trade.open_trade_value)  # amount at the average entry, entry fee included

    new = _successor(trade, amount, price, now)
    new.orders.append(_order(trade, new.entry_side, amount, price, now, f"{stamp}-open"))
    new.recalc_trade_from_orders()

    trade.orders.append(_order(trade, trade.exit_side, amount, price, now, f"{stamp}-close"))
    trade.close_date = now
    trade.exit_reason = COMPACTION_TAG
    trade.close(price, show_msg=False)
    # freqtrade's close charged the exit fee (and the entry fee at the old average) on the whole amount;
    # no fee was paid, and the successor still owes its entry fee at the new price: set the profit so
    # that "closed profit - stake - unpaid entry fees" does not move (see the module docstring)
    profit = realised + float(new.open_trade_value) - entry_value
    trade.close_profit_abs = profit
    trade.realized_profit = profit
    trade.close_profit = profit / trade.max_stake_amount if trade.max_stake_amount else 0.0
    if trade.fee_close_currency is None:
        # marks the exit fee as known: freqtrade would otherwise fetch the closing "order" from the
        # exchange at its next start (update_trades_without_assigned_fees)
        trade.fee_close_currency = trade.stake_currency
        trade.fee_close_cost = 0.0
    Trade.session.add(new)
    return new


def compact_trades(
    limit: int,
    price_of: Callable[[str], float | None],
    now: datetime,
    skip: Collection[str] = (),
) -> list[tuple[Trade, Trade]]:
    """Compact every open trade holding more than ``limit`` orders, in one transaction.

    Trades with an open order, whose pair is in ``skip`` (orders the strategy still watches) or without
    a price (``price_of(pair)`` None or 0) wait for a later loop. Returns (closed, successor) pairs."""
    ids = trades_over(limit)
    if not ids:
        return []
    done = []
    try:
        for trade in Trade.session.scalars(select(Trade).filter(Trade.id.in_(ids))).all():
            if trade.pair in skip or trade.has_open_orders or not trade.is_open or trade.amount <= 0:
                continue
            price = price_of(trade.pair)
            if not price:
                continue
            done.append((trade, compact(trade, float(price), now)))
        if done:
            hold("prepared")
            Trade.commit()
            hold("committed")
    except BaseException:
        # freqtrade's session is shared: a half-made compaction must not ride on its next commit
        Trade.session.rollback()
        raise
    if done:
        for old, new in done:
            logger.info(
                "SmartPortfolio: compacted %s: trade %s (%d orders) closed at %.8g, trade %s opened for "
                "%.8g %s, no order, no fee",
                old.pair,
                old.id,
                len(old.orders),
                old.close_rate,
                new.id,
                new.amount,
                new.base_currency,
            )
    return done


class TradeHistory:
    """Every trade of the portfolio as dicts (``Trade.to_json()``) for readers of the whole history (the
    "vs holding" figures), without loading every order of every trade on each call: a closed trade's
    orders no longer change, so each is converted once by ``convert`` (a frame of its rows) and kept;
    only the open trades, which compaction keeps short, are read each time. Compaction's bookkeeping
    orders are left out (they are no fills)."""

    def __init__(self, convert: Callable[[Iterable[dict[str, Any]]], pd.DataFrame]) -> None:
        self.convert = convert
        self._closed_ids: set[int] = set()
        self._closed = pd.DataFrame()

    def orders(self) -> pd.DataFrame:
        ids = set(Trade.session.scalars(select(Trade.id).filter(Trade.is_open.is_(False))).all())
        new = sorted(ids - self._closed_ids)
        if new:
            trades = Trade.session.scalars(select(Trade).filter(Trade.id.in_(new)).order_by(Trade.id)).all()
            frame = self._convert(t.to_json() for t in trades)
            if not self._closed.empty:
                frame = pd.concat([self._closed, frame], ignore_index=True)
            self._closed = frame
            self._closed_ids |= set(new)
        live = self._convert(t.to_json() for t in Trade.get_trades_proxy(is_open=True))
        frames = [f for f in (self._closed, live) if not f.empty]
        if not frames:
            return live
        joined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return joined.sort_values("time", kind="stable").reset_index(drop=True)

    def _convert(self, trades: Iterable[dict[str, Any]]) -> pd.DataFrame:
        return self.convert(
            {**t, "orders": [o for o in t.get("orders") or [] if not is_compaction(o)]} for t in trades
        )
