# mypy: disable-error-code="misc"
"""Smart Allocation in the bot: new target weights from the look-back window, at start and every refresh
(the optimisers: :mod:`portfolio.allocation`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from freqtrade_smartfolio.portfolio.allocation import allocate_from_prices
from freqtrade_smartfolio.portfolio.plan import Trigger, TriggerKind
from freqtrade_smartfolio.portfolio.targets import Targets

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)


class SmartAllocation:
    """Target weights recomputed from price history."""

    allocated_at: datetime | None

    def _reallocate(self: SmartPortfolio, candle: datetime) -> Trigger | None:
        """Smart Allocation: new target weights from the look-back window ending at ``candle`` (the
        last closed candle: no look-ahead), at start and every ``refresh``. A trigger if they changed."""
        assert self.allocation is not None
        refresh = self.allocation.refresh_minutes
        if self.allocated_at is not None and (
            refresh is None or (candle - self.allocated_at).total_seconds() < refresh * 60
        ):
            return None
        start = candle - timedelta(minutes=self.allocation.lookback_minutes)
        prices = self.prices.window(self.pairs, self.targets.coins, start, candle)
        try:
            result = allocate_from_prices(
                prices, self.allocation.method, bounds=self.allocation.bounds, timeframe=self.timeframe
            )
        except ValueError as err:
            logger.warning("Smart Allocation (%s) not possible yet: %s", self.allocation.method, err)
            return None
        self.allocated_at = candle
        weights = tuple(float(result.weights[c]) for c in self.targets.coins)
        if np.allclose(weights, self.targets.weights, atol=1e-9, rtol=0):
            return None
        self.targets = Targets(self.targets.coins, weights, self.targets.cash)
        shown = result.display_weights()
        used = result.method_used + (f" (fell back from {result.method})" if result.fallbacks else "")
        reason = f"{used} over {len(prices)} candles: " + ", ".join(
            f"{c} {shown[c]:.1f}%" for c in shown.index
        )
        logger.info("Candle %s: new allocation %s", f"{candle:%Y-%m-%d %H:%M}", reason)
        return Trigger(TriggerKind.ALLOCATION, reason)
