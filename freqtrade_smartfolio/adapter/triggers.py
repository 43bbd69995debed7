# mypy: disable-error-code="misc"
"""Why to rebalance on a candle, as the strategy decides it: the trigger order around
:func:`portfolio.plan.check_trigger` (funded, listing, completion or a band rebalance when a coin moved
over its band meanwhile, then the rule), the schedule's clock on
candle times (restored after a restart from the orders), and saying once why a rebalance placed nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Order, Trade
from sqlalchemy import or_, select

from freqtrade_smartfolio.adapter import compaction
from freqtrade_smartfolio.portfolio.plan import (
    PortfolioState,
    RebalancePlan,
    Trigger,
    TriggerKind,
    check_trigger,
    completion_trigger,
)
from freqtrade_smartfolio.portfolio.targets import Targets

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)

# A rebalance that placed nothing says why once per trigger kind, and again at most this often.
SKIP_LOG_EVERY = timedelta(days=1)


class Triggers:
    """The trigger and the schedule's clock."""

    last_schedule_tick: datetime | None
    funded: Trigger | None
    _skip_logged: tuple[str, datetime] | None

    def _trigger(
        self: SmartPortfolio, state: PortfolioState, steer: Targets, candle: datetime, listing: Trigger | None
    ) -> Trigger | None:
        """Why to rebalance at the close of ``candle``. The schedule counts on candle times: its clock
        is the plan time (the candle's close) of the last scheduled rebalance, not the loop's clock."""
        if self.funded is not None:
            funded = self.funded
            self.funded = None
            return funded
        if listing is not None and float(state.values.sum()) > 0:
            return listing
        rule = self.settings.rebalance.rule
        if self.incomplete:
            return completion_trigger(state, steer, rule)
        plan_time = candle + timedelta(seconds=timeframe_to_seconds(self.timeframe))
        since = None
        if self.last_schedule_tick is not None:
            since = (plan_time - self.last_schedule_tick).total_seconds() / 60.0
        trigger = check_trigger(state, steer, rule, since)
        if trigger is not None and trigger.kind in (TriggerKind.SCHEDULE, TriggerKind.INITIAL):
            self.last_schedule_tick = plan_time
        return trigger

    def _last_tagged_order_time(self: SmartPortfolio, prefixes: tuple[str, ...] = ("",)) -> datetime | None:
        """After a restart: when the last filled order whose tag starts with one of ``prefixes`` (any
        tag by default) was placed, if any. Reads every trade, closed ones included (a compaction closes
        a coin's trade and continues it in a new one), in one query; compaction orders do not count."""
        if self.is_backtest:
            return None
        from sqlalchemy import and_, func

        tags = [Order.ft_order_tag.startswith(p, autoescape=True) for p in prefixes]
        query = select(func.max(Order.order_date)).filter(
            and_(
                Order.ft_order_tag.is_not(None),
                Order.ft_order_tag != "",
                Order.ft_order_tag != compaction.COMPACTION_TAG,
                Order.order_filled_date.is_not(None),
                Order.status == "closed",
                or_(*tags),
            )
        )
        latest = Trade.session.scalar(query)
        return None if latest is None else latest.replace(tzinfo=UTC)

    def _plan_time_of(self: SmartPortfolio, when: datetime) -> datetime:
        """The plan time (a candle close) at or before ``when``: orders are placed just after it."""
        step = timeframe_to_seconds(self.timeframe)
        now = int(when.timestamp())
        return datetime.fromtimestamp(now - now % step, tz=UTC)

    def _log_skip(self: SmartPortfolio, plan: RebalancePlan, candle: datetime) -> None:
        """Say why a triggered rebalance placed nothing: when the trigger's kind changes, else at most
        once a day (a band narrower than the minimum order would otherwise say it on every candle)."""
        kind = str(plan.trigger.kind)
        if self._skip_logged is not None:
            last_kind, last_candle = self._skip_logged
            if kind == last_kind and candle - last_candle < SKIP_LOG_EVERY:
                return
        logger.info(
            "Rebalance (%s) skipped: %s",
            plan.trigger.label,
            "; ".join(f"{s.side} {s.coin} ~{s.value:.2f} {s.why}" for s in plan.skipped)
            or "nothing to trade",
        )
        self._skip_logged = (kind, candle)
