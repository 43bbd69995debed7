# mypy: disable-error-code="misc"
"""Orders in flight (dry-run/live): what the plan handed to freqtrade, or found open, and what became
of it: settled, handed out again after a failure, or a sale that ended unfilled and voids the buys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from freqtrade.persistence import Trade

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)

# Dry-run/live: how often an order freqtrade could not place (the exchange refused it or failed) is
# handed to it again within a candle before the plan gives it up.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class InFlight:
    """An order of a trade whose outcome the strategy waits for (dry-run/live): the trade had
    ``orders_before`` orders before it; ``handed`` when this plan handed it to freqtrade, else it was
    found open when planning (e.g. after a restart)."""

    orders_before: int
    side: str
    handed: bool


class OrderTracking:
    """Watches the orders the plan handed to freqtrade until they settle."""

    attempts: dict[str, int]
    in_flight: dict[str, InFlight]
    replanned_candle: datetime | None
    last_planned_candle: datetime | None

    def _watch_open_orders(self: SmartPortfolio, open_trades: dict[str, Any]) -> None:
        """A new plan: forget the last plan's hand-outs and watch the orders still open (the plan
        counts them as done, see :meth:`_portfolio_state`)."""
        self.attempts = {}
        self.in_flight = {}
        for pair, trade in open_trades.items():
            orders = list(trade.orders)
            for index, order in enumerate(orders):
                if order.ft_is_open and order.ft_order_side != "stoploss":
                    self.in_flight[pair] = InFlight(index, order.ft_order_side, handed=False)
                    break

    def _settle(self: SmartPortfolio, candle: datetime) -> None:
        """What became of the orders handed to freqtrade (or found open) on earlier loops.

        An order that left the exchange's book is done: its pending entry goes. One freqtrade did not
        place (its ``create_order`` raised: timeout, 5xx, 429, a rejection; freqtrade does not retry
        order creation itself) is handed out again on the next loop, up to ``MAX_ATTEMPTS`` times, as
        freqtrade would re-enter on a signal that still stands. A sale that ended without any fill
        (cancelled after ``unfilledtimeout``, expired) voids the plan's buys: the plan is made again
        from the holdings now, once per candle.
        """
        trades = {t.pair: t for t in Trade.get_trades_proxy(is_open=True)}
        sold_nothing = False
        for pair, flight in list(self.in_flight.items()):
            trade = trades.get(pair)
            if trade is not None and trade.has_open_orders:
                continue  # still working on the exchange
            del self.in_flight[pair]
            new_orders = list(trade.orders)[flight.orders_before :] if trade is not None else []
            # a trade that is gone was sold in full; one that never appeared was never bought
            placed = bool(new_orders) or (trade is None and flight.side == "sell")
            order = self.pending.get(pair)
            if placed:
                if new_orders and flight.side == "sell" and not any(o.safe_filled for o in new_orders):
                    sold_nothing = True
                if flight.handed and order is not None:
                    del self.pending[pair]
                    self.attempts.pop(pair, None)
                continue
            if order is not None and self.attempts.get(pair, 0) >= MAX_ATTEMPTS:
                logger.warning(
                    "%s %s: freqtrade could not place it in %d attempts (see the exchange errors above); "
                    "the plan gives it up until the next candle.",
                    order.side.capitalize(),
                    pair,
                    MAX_ATTEMPTS,
                )
                del self.pending[pair]
                if order.side == "buy":
                    self.incomplete = True
        if sold_nothing:
            # The buys counted on the sale's proceeds: drop them and plan again from what is held.
            self.pending = {p: o for p, o in self.pending.items() if o.side == "sell"}
            if self.replanned_candle != candle:
                self.replanned_candle = candle
                self.last_planned_candle = None
                logger.info("A sale ended unfilled: planning this candle again.")
        self._switch_adjustment()

    def _sales_in_flight(self: SmartPortfolio) -> bool:
        return any(o.side == "sell" for o in self.pending.values()) or any(
            f.side == "sell" for f in self.in_flight.values()
        )

    def _open_orders(self: SmartPortfolio, trade: Any) -> tuple[float, float, float]:
        """Open orders of ``trade`` that its amount and stake do not show yet (freqtrade books an
        order only once it has filled): coins its open buys add (after the fee), the stake (fee
        included) they commit, and the coins its open sells remove."""
        bought = committed = sold = 0.0
        for order in trade.open_orders:
            if order.ft_order_side == trade.entry_side:
                bought += order.safe_amount * (1 - self.fee)
                committed += order.safe_amount * order.safe_price * (1 + self.fee)
            else:
                sold += order.safe_amount
        if committed and not any(
            o.ft_order_side == trade.entry_side and not o.ft_is_open and o.safe_filled for o in trade.orders
        ):
            # the first entry's stake may already sit in trade.stake_amount (set when the trade is
            # created); once freqtrade recalculates an unfilled trade from its orders it is 0 again:
            # count only what stake_amount does not hold, or a plan made while it is open counts the
            # coins it buys and the cash that pays for them both (a fresh-clone CI run caught it)
            committed = max(committed - float(trade.stake_amount or 0.0), 0.0)
        return bought, committed, sold

    def _note_unfilled_sales(self: SmartPortfolio, open_trades: dict[str, Any]) -> None:
        """Backtest: a sale still open at the next candle did not fill (freqtrade prices it on the
        trade's price precision from the day it opened, which can fall outside the candle after the
        exchange changed its tick). freqtrade cancels it (``unfilledtimeout``); the plan is made from
        what is held, and no buy ever spent its proceeds (buys are capped by the filled cash)."""
        for pair, trade in open_trades.items():
            for order in trade.open_orders:
                if order.ft_order_side != trade.entry_side:
                    logger.info(
                        "Sale of %.8g %s at %.8g did not fill in its candle: freqtrade cancels it; "
                        "planning from the holdings.",
                        order.safe_amount,
                        pair,
                        order.safe_price,
                    )
