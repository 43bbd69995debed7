# mypy: disable-error-code="misc"
"""What a running portfolio shows: the weight and vs-holding columns FreqUI plots and ``smartfolio status``
reads, and the per-rebalance message."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from pandas import DataFrame

from freqtrade_smartfolio.adapter import compaction
from freqtrade_smartfolio.portfolio.plan import (
    PortfolioState,
)
from freqtrade_smartfolio.portfolio.vs_hold import (
    orders_from_trade_dicts,
    start_orders,
    vs_hold,
    vs_hold_series,
)

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)


class StatusColumns:
    """The sf_* columns and the rebalance message."""

    def _add_status_columns(self: SmartPortfolio, pair: str, dataframe: DataFrame) -> None:
        """Per candle, as checked at its close (FreqUI plots them, ``/pair_candles`` serves them to
        ``smartfolio status``): ``sf_weight``/``sf_target`` and the band ``sf_band_low``/``sf_band_high``
        (percent; the weight NaN before the first allocation, two decimals); ``sf_vs_hold`` the
        portfolio's value against holding the coins it started with and ``sf_coins_vs_hold`` this
        coin's amount against holding's (percent, from the orders: :mod:`portfolio.vs_hold`)."""
        coin = pair.split("/")[0]
        history = self.weight_history[pair]
        dates = dataframe["date"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        keys = dates.astype(np.int64).tolist()
        orders = self._portfolio_orders()
        weight = np.round(np.array([history.get(k, np.nan) for k in keys], dtype=float), 2)
        # NaN before the candle of the first fill: the checks before it saw an empty portfolio
        step = timeframe_to_seconds(self.timeframe)
        first = int(orders["time"].min().timestamp()) if len(orders) else None
        weight[np.array(keys) < (first - first % step if first is not None else np.inf)] = np.nan
        vs, coins = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
        frame = self._vs_hold_frame(orders)
        if frame is not None:
            at = frame.reindex(keys)
            vs = at["vs_hold"].to_numpy(dtype=float)
            if f"{coin}_gained" in at:
                coins = at[f"{coin}_gained"].to_numpy(dtype=float)
        dataframe["sf_weight"] = weight
        target = self.targets.percent(coin)
        dataframe["sf_target"] = round(target, 2)
        threshold = self.settings.rebalance.threshold_percent
        if threshold is None:
            dataframe["sf_band_low"] = dataframe["sf_band_high"] = np.nan
        else:
            width = threshold * target / 100.0 if self.settings.rebalance.relative else threshold
            dataframe["sf_band_low"] = round(max(target - width, 0.0), 2)
            dataframe["sf_band_high"] = round(min(target + width, 100.0), 2)
        dataframe["sf_vs_hold"] = np.round(vs, 2)
        dataframe["sf_coins_vs_hold"] = np.round(coins, 2)
        # the capital the portfolio manages: its cash is this plus realised profit less its trades,
        # not the account's whole free balance (see _cash)
        dataframe["sf_investment"] = self.settings.investment

    def _portfolio_orders(self: SmartPortfolio) -> pd.DataFrame:
        """Dry-run/live: every filled order of the portfolio's trades (open and closed), from freqtrade's
        database: what :mod:`portfolio.vs_hold` measures (so it survives restarts). Closed trades are
        read once each and compaction's bookkeeping orders left out (:class:`compaction.TradeHistory`)."""
        if self.config.get("runmode") not in (RunMode.DRY_RUN, RunMode.LIVE):
            return orders_from_trade_dicts([])  # plot-dataframe, webserver: no bot, no orders
        history = getattr(self, "_trade_history", None)
        if history is None:
            history = self._trade_history = compaction.TradeHistory(orders_from_trade_dicts)
        return history.orders()

    def _vs_hold_frame(self: SmartPortfolio, orders: DataFrame) -> DataFrame | None:
        """:func:`vs_hold_series` indexed by candle open second, once per candle and order count; None
        before the first allocation (or if it cannot be computed: said once in the log)."""
        key = (self.last_planned_candle, len(orders), self.settings.investment)
        cached = getattr(self, "_vs_hold_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        frame = None
        try:
            if len(orders) and start_orders(orders).any():
                closes = self._closes_frame()
                if len(closes) >= 2:
                    frame = vs_hold_series(orders, closes, self.settings.investment)
                    seconds = frame.index.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[s]")
                    frame.index = seconds.astype(np.int64)
        except Exception as err:  # the status columns must not stop the strategy
            if cached is None or cached[1] is not None:
                logger.warning("vs holding not available: %s", err)
        self._vs_hold_cache = (key, frame)
        return frame

    def _closes_frame(self: SmartPortfolio) -> DataFrame:
        """Closes of the portfolio's coins (columns), indexed by candle open time (UTC), from the
        candles freqtrade holds."""
        columns = {}
        for coin, pair in zip(self.targets.coins, self.pairs, strict=True):
            frame = self.dp.get_pair_dataframe(pair, self.timeframe) if self.dp else DataFrame()
            if len(frame):
                columns[coin] = pd.Series(frame["close"].to_numpy(dtype=float), index=frame["date"])
        if not columns:
            return DataFrame()
        closes = pd.concat(columns, axis=1).sort_index().ffill()
        closes.index = pd.DatetimeIndex(closes.index).tz_convert("UTC")
        return closes

    def _rebalance_message(self: SmartPortfolio, summary: str, state: PortfolioState) -> str:
        """The per-rebalance message (Telegram, webhooks): the plan, and whether rebalancing paid so far
        (the portfolio at the plan's prices against holding the coins it started with)."""
        message = f"SmartPortfolio {summary}"
        try:
            prices = dict(zip(state.coins, state.prices.tolist(), strict=True))
            result = vs_hold(self._portfolio_orders(), prices, self.settings.investment)
        except Exception as err:  # the message must go out whatever the comparison does
            logger.warning("vs holding not available: %s", err)
            return message
        if result is None:
            return message
        return f"{message}\nSo far, {result.summary(self.settings.stake_currency)}"

    def _record_weights(self: SmartPortfolio, state: PortfolioState, candle: datetime) -> None:
        weights, _ = state.weights()
        key = int(candle.timestamp())
        for pair, weight in zip(self.pairs, weights.tolist(), strict=True):
            history = self.weight_history.setdefault(pair, {})
            history[key] = 100.0 * weight
            if len(history) > 5000:  # keep memory bounded on long runs
                del history[next(iter(history))]
