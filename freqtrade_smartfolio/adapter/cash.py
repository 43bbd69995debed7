"""The portfolio's cash as its fills left it, read from freqtrade's orders.

freqtrade's free stake is bookkeeping (start + realised profit - stakes at the rounded average entry
price), which can sit a few cents above the cash the fills really left. Every buy is capped by this
cash instead: the investment, plus each sale's proceeds, less each buy's cost, fees included, which is
exactly how the ledger rebuilds the portfolio from the exported orders (so it can never go below 0).
A compaction's two bookkeeping orders (:mod:`adapter.compaction`) are no fills and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMPACTION_TAG = "smartfolio compaction"  # adapter.compaction.COMPACTION_TAG (no freqtrade import here)


def trade_cash_flow(trade: Any) -> float:
    """Cash one trade's filled orders moved: + sales net of fee, - buys with fee (as the ledger)."""
    flow = 0.0
    for order in trade.orders:
        if getattr(order, "ft_order_tag", None) == COMPACTION_TAG:
            continue
        filled = float(order.safe_filled or 0.0)
        if not filled:
            continue
        gross = filled * float(order.safe_price)
        if order.ft_order_side == trade.entry_side:
            flow -= gross * (1 + float(trade.fee_open or 0.0))
        else:
            flow += gross * (1 - float(trade.fee_close or 0.0))
    return flow


class FilledCash:
    """Cash = ``start`` + the cash flow of every trade's filled orders.

    A trade's flow is cached while its orders do not change (same count, none open), so a loop costs
    one look per trade however many orders the trades hold.
    """

    def __init__(self, start: float) -> None:
        self.start = float(start)
        self._flows: dict[int, tuple[int, float]] = {}
        self._closed: dict[int, float] = {}

    def cash(self, trades: Iterable[Any]) -> float:
        total = self.start
        for trade in trades:
            key = id(trade) if trade.id is None else int(trade.id)
            count = len(trade.orders)
            cached = self._flows.get(key)
            if cached is not None and cached[0] == count:
                total += cached[1]
                continue
            flow = trade_cash_flow(trade)
            if not trade.has_open_orders:
                self._flows[key] = (count, flow)
            total += flow
        return total

    def cash_live(self, open_trades: Iterable[Any]) -> float:
        """Dry-run/live: :meth:`cash` of the open trades plus the flows of the closed trades in
        freqtrade's database, each read once (a closed trade's orders no longer change), so a loop does
        not load every order of every trade the portfolio ever had (compaction closes one per coin
        every ``compact_after_orders`` orders)."""
        from freqtrade.persistence import Trade
        from sqlalchemy import select

        ids = Trade.session.scalars(select(Trade.id).filter(Trade.is_open.is_(False))).all()
        new = [i for i in ids if i not in self._closed]
        if new:
            for trade in Trade.session.scalars(select(Trade).filter(Trade.id.in_(new))).all():
                self._closed[int(trade.id)] = trade_cash_flow(trade)
        return self.cash(open_trades) + sum(self._closed.get(int(i), 0.0) for i in ids)
