# mypy: disable-error-code="misc"
"""The portfolio take-profit and stop-loss in freqtrade: the global lock that says what fired (kept across
restarts), and the sale of every coin when the rule says so (the rule itself: :mod:`portfolio.exits`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from freqtrade.persistence import PairLocks

from freqtrade_smartfolio.portfolio.plan import PlannedOrder, PortfolioState

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)

HALT_REASONS = ("take_profit:", "stop_loss:")
HALT_LOCK = timedelta(days=3650)


class PortfolioExits:
    """What happens when the portfolio take-profit or stop-loss fires."""

    halted: str | None

    def _halt_lock_reason(self: SmartPortfolio) -> str | None:
        """After a restart: the take-profit / stop-loss lock this strategy set, if still active."""
        if self.is_backtest:
            return None
        for lock in PairLocks.get_pair_locks("*"):
            if (lock.reason or "").startswith(HALT_REASONS):
                # Say so: with every slot taken (keep_coins) freqtrade logs nothing about the lock.
                logger.info(
                    "SmartPortfolio halted since %s by %s: no rebalancing while this global lock is "
                    "active (to resume: change the take_profit/stop_loss, delete the lock, /reload_config).",
                    f"{lock.lock_time:%Y-%m-%d %H:%M:%S} UTC",
                    lock.reason,
                )
                return lock.reason
        return None

    def _halt(self: SmartPortfolio, reason: str, current_time: datetime) -> None:
        """Portfolio take-profit / stop-loss fired: stop rebalancing and set a global lock whose reason
        says what fired (shown by /locks, FreqUI and Telegram, and in the backtest result's locks)."""
        self.halted = reason
        PairLocks.lock_pair("*", current_time + HALT_LOCK, reason, now=current_time)
        what = "selling every coin" if self.exit_rule.sell_all else "keeping the coins"
        message = f"SmartPortfolio {reason}: {what}; rebalancing stopped (global lock)."
        logger.info(message)
        if not self.is_backtest and self.dp:
            self.dp.send_msg(message, always_send=True)

    def _sell_everything(self: SmartPortfolio, state: PortfolioState, reason: str) -> None:
        """Full exits of every coin still held (repeated each candle until nothing is left)."""
        self.pending = {
            f"{coin}/{self.settings.stake_currency}": PlannedOrder(
                coin, "sell", float(amount), float(amount * price), float(price), f"{reason} | sell all"
            )
            for coin, amount, price in zip(state.coins, state.amounts, state.prices, strict=True)
            if amount > 0
        }
