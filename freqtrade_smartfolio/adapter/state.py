# mypy: disable-error-code="misc"
"""The portfolio as the strategy sees it at a candle's close: holdings (open orders counted as done
live), prices (a coin without a candle at its last close), which coins trade, and the cash."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from freqtrade_smartfolio.portfolio.plan import PortfolioState

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)


class PortfolioView:
    """Builds the :class:`PortfolioState` a plan is made from."""

    def _portfolio_state(
        self: SmartPortfolio, candle: datetime, open_trades: dict[str, Any]
    ) -> tuple[PortfolioState, np.ndarray] | None:
        """Holdings and prices at the close of ``candle``, and which coins trade on it (a coin without
        a candle is valued at its last close, or its entry price)."""
        prices = np.empty(len(self.pairs))
        tradable = np.zeros(len(self.pairs), dtype=bool)
        for i, pair in enumerate(self.pairs):
            if not self.is_backtest:
                self.prices.store(pair, self.dp.get_pair_dataframe(pair, self.timeframe))
            price = self.prices.close_at(pair, candle)
            tradable[i] = price is not None and price > 0
            if not tradable[i]:
                price = self.prices.last_close(pair, candle)
                if price is None and pair in open_trades:
                    price = float(open_trades[pair].open_rate)
            prices[i] = price or 0.0
        if not tradable.any():
            message = f"No closed {self.timeframe} candle at {candle} for any coin: not planning this candle."
            if message != self._last_skip_message:
                logger.info(message)
                self._last_skip_message = message
            return None
        amounts = np.array([open_trades[p].amount if p in open_trades else 0.0 for p in self.pairs])
        cash = self._cash(open_trades)
        if not self.is_backtest:
            # Count the orders still open as done (the planned state after them), so a new plan
            # neither repeats them nor spends their cash twice; buys still wait for open sales.
            for i, pair in enumerate(self.pairs):
                trade = open_trades.get(pair)
                if trade is not None and trade.has_open_orders:
                    bought, _, sold = self._open_orders(trade)
                    amounts[i] += bought - sold
                    cash += sold * prices[i] * (1 - self.fee)
        cash += self._proceeds_of_coins_to_sell(open_trades, candle)
        return PortfolioState(self.targets.coins, amounts, prices, cash), tradable
