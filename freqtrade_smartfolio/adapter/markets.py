# mypy: disable-error-code="misc"
"""Markets that do not trade, in the strategy: the targets to steer by, what is said once, the pair locks
that mark them, and freqtrade's delisting schedule (see :mod:`adapter.market_watch`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from freqtrade.persistence import PairLocks

from freqtrade_smartfolio.portfolio.plan import (
    PortfolioState,
    Trigger,
    TriggerKind,
)
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)

# Reason prefix of the pair locks that mark a market that does not trade (see _mark_markets).
MARKET_LOCK_PREFIX = "smartfolio market:"
# Dry-run/live: how often freqtrade's delisting schedule (Binance) is asked for.
DELISTING_CHECK = timedelta(hours=1)
# A market lock lasts until the pair trades again (then it is lifted).
MARKET_LOCK_SPAN = timedelta(days=3650)


class MarketAwareness:
    """Listings, halts and delistings, as the strategy meets them."""

    delisting_checked: datetime | None

    def _steering_targets(self: SmartPortfolio, state: PortfolioState, tradable: np.ndarray) -> Targets:
        """The targets for this candle: coins that do not trade keep what they hold, coins being
        delisted go to 0 (they are sold), and their targets go to the coins that trade."""
        leaving = np.array([pair in self.watch.delisting for pair in self.pairs], dtype=bool)
        if not leaving.any():
            return tradable_targets(self.targets, tradable, state.values, state.total)
        values = np.where(leaving, 0.0, state.values)
        return tradable_targets(self.targets, tradable & ~leaving, values, state.total)

    def _note_markets(
        self: SmartPortfolio, candle: datetime, state: PortfolioState, tradable: np.ndarray
    ) -> Trigger | None:
        """Say once what changed in the markets (listing, halt, data ended); a DELISTING trigger while
        a coin announced for delisting still holds a sellable amount (whatever the rebalancing rule:
        it is sold at once), else a LISTING trigger when a coin that holds nothing starts to trade."""
        before = self.watch.trading
        messages, listing = self.watch.update(candle, tradable, state.amounts, state.prices)
        for message in messages:
            self._tell(message)
        if not self.is_backtest and (before is None or not np.array_equal(before, tradable)):
            self._mark_markets(candle)
        leaving = [
            f"{coin} at {self.watch.delisting[pair]:%Y-%m-%d %H:%M} UTC"
            for i, (pair, coin) in enumerate(zip(self.pairs, self.targets.coins, strict=True))
            if pair in self.watch.delisting
            and tradable[i]
            and state.amounts[i] * state.prices[i] >= self.coin_rules[i].min_order
        ]
        if leaving:
            return Trigger(TriggerKind.DELISTING, ", ".join(leaving))
        return listing

    def _mark_markets(self: SmartPortfolio, candle: datetime) -> None:
        """Dry-run/live: a pair lock on each pair that does not trade (or is being delisted), whose
        reason says why (shown by /locks, FreqUI, Telegram and ``smartfolio status``); lifted when it
        trades again. Locks only gate new trades: the portfolio's own orders are not affected."""
        now = datetime.now(UTC)
        for pair in self.pairs:
            note = self.watch.status(pair)
            reason = f"{MARKET_LOCK_PREFIX} {note}" if note else ""
            current = [
                lock
                for lock in PairLocks.get_pair_locks(pair, now)
                if lock.reason.startswith(MARKET_LOCK_PREFIX)
            ]
            if current and (not reason or current[0].reason != reason):
                PairLocks.unlock_reason(current[0].reason, now)
                current = []
            if reason and not current:
                PairLocks.lock_pair(pair, now + MARKET_LOCK_SPAN, reason, now=now)

    def _tell(self: SmartPortfolio, message: str) -> None:
        """Log a notice, and live send it through freqtrade's messaging (Telegram, webhooks)."""
        logger.info("SmartPortfolio: %s", message)
        if not self.is_backtest and self.dp:
            self.dp.send_msg(f"SmartPortfolio: {message}", always_send=True)

    def _check_delistings(self: SmartPortfolio, current_time: datetime) -> None:
        """Dry-run/live: freqtrade's delisting schedule (Binance spot publishes one; freqtrade asks it in
        live mode only). A coin to be delisted is sold and its target spread over the others."""
        if self.delisting_checked is not None and current_time - self.delisting_checked < DELISTING_CHECK:
            return
        if self.delisting_checked is None:
            self._restore_delistings()
        self.delisting_checked = current_time
        exchange = getattr(self.dp, "_exchange", None)
        if exchange is None or not exchange.get_option("has_delisting", False):
            return
        for pair in self.pairs:
            if pair in self.watch.delisting:
                continue
            try:
                when = exchange.check_delisting_time(pair)
            except Exception as err:  # an exchange error must not stop the portfolio
                logger.warning("Delisting schedule for %s not available: %s", pair, err)
                return
            if when is not None:
                self.watch.delisting[pair] = when
                self._mark_markets(current_time)
                self._tell(
                    f"{pair} will be delisted at {when:%Y-%m-%d %H:%M} UTC: it is sold now and its target "
                    "goes to the other coins, pro rata."
                )

    def _restore_delistings(self: SmartPortfolio) -> None:
        """After a restart: the delistings this bot acted on, from its market locks (kept in the
        database), so a coin sold for its delisting is never bought again, even once the exchange's
        schedule no longer lists it."""
        now = datetime.now(UTC)
        for pair in self.pairs:
            for lock in PairLocks.get_pair_locks(pair, now):
                if lock.reason.startswith(MARKET_LOCK_PREFIX):
                    self.watch.restore_delisting(pair, lock.reason[len(MARKET_LOCK_PREFIX) :].strip())
