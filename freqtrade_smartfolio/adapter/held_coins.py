# mypy: disable-error-code="misc"
"""Positions that change without a trade: coins already held taken over as the investment
(``use_held_coins``), and long trades compacted (:mod:`adapter.funding`, :mod:`adapter.compaction`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from freqtrade.exchange import timeframe_to_seconds

from freqtrade_smartfolio.adapter import compaction, funding
from freqtrade_smartfolio.config import market_min_order
from freqtrade_smartfolio.portfolio.funding import plan_funding
from freqtrade_smartfolio.portfolio.plan import (
    Trigger,
    TriggerKind,
)

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)


class HeldCoins:
    """Take-over of held coins and compaction of long trades."""

    funded: Trigger | None

    def _take_over_held_coins(self: SmartPortfolio, candle: datetime, current_time: datetime) -> bool:
        """``use_held_coins``: take the listed coins on the account over as positions (once, on the
        first loop with prices). False while a price is missing (tried again next loop)."""
        assert self.settings.held_coins is not None
        stake = self.settings.stake_currency
        listed = self.settings.held_coins
        pairs = [f"{coin}/{stake}" for coin in listed]
        markets = {pair: self.dp.market(pair) or {} for pair in pairs}
        prices: dict[str, float] = {}
        steps, min_values = {}, {}
        for coin, pair in zip(listed, pairs, strict=True):
            price = self._close_of(pair, candle)
            if price is None and pair not in self.pairs:  # not traded: no candles, ask the ticker
                price = (self.dp.ticker(pair) or {}).get("last")
            if not price:
                logger.info("Taking over held coins waits for a %s price.", pair)
                return False
            prices[coin] = float(price)
            steps[coin] = float((markets[pair].get("precision") or {}).get("amount") or 0.0)
            min_values[coin] = market_min_order(markets[pair], prices[coin], self.settings.min_trade)
        held = {coin: float(self.wallets.get_free(coin)) for coin in listed} if self.wallets else {}
        plan = plan_funding(
            held, prices, self.targets, self.settings.investment, listed, steps=steps, min_values=min_values
        )
        self.takeover_due = False
        for note in plan.notes:
            logger.info("Taking over held coins: %s", note)
        if not plan.takeovers:
            return True
        stake_free = float(self.wallets.get_free(stake)) if self.wallets else 0.0
        if stake_free + 1e-9 < plan.stake_needed:
            logger.warning(
                "The investment needs %.2f %s besides the held coins, the account has %.2f free: the "
                "portfolio starts smaller than configured.",
                plan.stake_needed,
                stake,
                stake_free,
            )
        funding.record_takeover(
            plan,
            stake=stake,
            now=current_time,
            strategy=self.get_strategy_name(),
            exchange=self.config["exchange"]["name"],
            timeframe_minutes=timeframe_to_seconds(self.timeframe) // 60,
            fee=self.fee,
            markets=markets,
            precision_mode=getattr(self.dp._exchange, "precisionMode", None),
        )
        funding.correct_dry_run_wallet(self.config, self.configured_wallet, stake)
        if self.wallets:
            self.wallets.update()
        message = f"SmartPortfolio {plan.summary()}"
        logger.info(message)
        self.dp.send_msg(message, always_send=True)
        self.funded = Trigger(TriggerKind.INITIAL, "funded with held coins: rebalance to target")
        return True

    def _compact(self: SmartPortfolio, candle: datetime, current_time: datetime) -> None:
        """Dry-run/live: close and reopen, without trading, each coin's trade holding more than
        ``compact_after_orders`` orders (:mod:`adapter.compaction`); orders still watched wait."""
        limit = self.settings.compact_after_orders
        assert limit is not None
        done = compaction.compact_trades(
            limit, lambda pair: self._close_of(pair, candle), current_time, skip=set(self.in_flight)
        )
        if done and self.wallets:
            self.wallets.update()
