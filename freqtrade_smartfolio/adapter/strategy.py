"""SmartPortfolio: a thin freqtrade strategy over the pure portfolio layer.

Once per closed candle (``bot_loop_start``) it reads the last closed candle's prices and the open
positions, asks :mod:`freqtrade_smartfolio.portfolio.plan` for a rebalance plan, and hands the plan's
orders to freqtrade: the initial buys through ``custom_stake_amount``, later sells and buys through
``adjust_trade_position`` (partial exits and added entries). It holds otherwise: no ROI, no
stoploss, no exit signals.

Speed: freqtrade calls ``adjust_trade_position`` for every open trade on every candle while
``position_adjustment_enable`` is on, deep-copying the trade with all its orders first. The strategy
switches the flag on only for candles whose plan has orders, and gives each trade a read-only
:class:`TradeView` as its deep copy (see docs/performance.md; tests/test_freqtrade_contract.py pins
the freqtrade details this relies on).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import PairLocks, Trade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_smartfolio.adapter import compaction, funding
from freqtrade_smartfolio.adapter.cash import FilledCash
from freqtrade_smartfolio.adapter.market_watch import MarketWatch
from freqtrade_smartfolio.config import check_against_exchange, market_min_order, parse_settings
from freqtrade_smartfolio.portfolio.allocation import allocate_from_prices
from freqtrade_smartfolio.portfolio.exits import check_exit
from freqtrade_smartfolio.portfolio.funding import plan_funding
from freqtrade_smartfolio.portfolio.lots import fit_buy_to_lot
from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PlannedOrder,
    PortfolioState,
    RebalancePlan,
    Trigger,
    TriggerKind,
    check_trigger,
    plan_rebalance,
)
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets
from freqtrade_smartfolio.portfolio.vs_hold import (
    orders_from_trade_dicts,
    start_orders,
    vs_hold,
    vs_hold_series,
)

logger = logging.getLogger(__name__)

ENTRY_TAG = "initial allocation"
HALT_REASONS = ("take_profit:", "stop_loss:")
HALT_LOCK = timedelta(days=3650)
# A rebalance that placed nothing says why once per trigger kind, and again at most this often.
SKIP_LOG_EVERY = timedelta(days=1)
# Reason prefix of the pair locks that mark a market that does not trade (see _mark_markets).
MARKET_LOCK_PREFIX = "smartfolio market:"
# Dry-run/live: how often an order freqtrade could not place (the exchange refused it or failed) is
# handed to it again within a candle before the plan gives it up.
MAX_ATTEMPTS = 3
# Dry-run/live: the share of the cash (in fees, 2 x 0.1% on Binance) a buy leaves unspent.
LIVE_CASH_MARGIN_FEES = 2.0
# Dry-run/live: how often freqtrade's delisting schedule (Binance) is asked for.
DELISTING_CHECK = timedelta(hours=1)


@dataclass(frozen=True)
class InFlight:
    """An order of a trade whose outcome the strategy waits for (dry-run/live): the trade had
    ``orders_before`` orders before it; ``handed`` when this plan handed it to freqtrade, else it was
    found open when planning (e.g. after a restart)."""

    orders_before: int
    side: str
    handed: bool


class TradeView:
    """Read-only stand-in for a freqtrade trade, handed to the strategy instead of a deep copy.

    Reading any attribute reads the live trade; writing raises, which protects the trade better than
    a copy would, at no cost however many orders the trade has gathered.
    """

    __slots__ = ("_trade",)

    def __init__(self, trade: Any) -> None:
        object.__setattr__(self, "_trade", trade)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trade, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TradeView is read-only: cannot set {name!r} on {self._trade!r}")

    def __repr__(self) -> str:
        return f"TradeView({self._trade!r})"


def _view_copier(trade: Any):
    def copier(memo: dict | None = None) -> TradeView:
        return TradeView(trade)

    return copier


def protect_trade_cheaply(trade: Any) -> None:
    """Make ``copy.deepcopy(trade)`` return a :class:`TradeView` (Python's copy protocol looks the
    ``__deepcopy__`` hook up on the instance)."""
    if "__deepcopy__" not in vars(trade):
        trade.__deepcopy__ = _view_copier(trade)


class PriceBook:
    """Closing prices per pair: by candle open time (a dict, O(1) per candle) and as sorted arrays
    for look-back windows (Smart Allocation)."""

    def __init__(self) -> None:
        self._closes: dict[str, dict[int, float]] = {}
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def store(self, pair: str, dataframe: DataFrame, closes: np.ndarray | None = None) -> None:
        dates = dataframe["date"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        seconds = dates.astype(np.int64)
        values = dataframe["close"].to_numpy(dtype=float) if closes is None else closes
        self._closes[pair] = dict(zip(seconds.tolist(), values.tolist(), strict=True))
        self._series[pair] = (seconds, values)

    def close_at(self, pair: str, candle_open: datetime) -> float | None:
        return self._closes.get(pair, {}).get(int(candle_open.timestamp()))

    def last_close(self, pair: str, candle_open: datetime) -> float | None:
        """Close of the last candle opening at or before ``candle_open`` (None before the first)."""
        seconds, values = self._series.get(pair, (np.array([], dtype=np.int64), np.array([])))
        at = int(np.searchsorted(seconds, int(candle_open.timestamp()), side="right"))
        return float(values[at - 1]) if at else None

    def window(
        self, pairs: tuple[str, ...], names: tuple[str, ...], start: datetime, end: datetime
    ) -> DataFrame:
        """Closes of ``pairs`` (columns ``names``) for candles opening in ``[start, end]``, on the dates
        every pair has."""
        columns = {}
        for pair, name in zip(pairs, names, strict=True):
            seconds, values = self._series.get(pair, (np.array([], dtype=np.int64), np.array([])))
            lo = np.searchsorted(seconds, int(start.timestamp()), side="left")
            hi = np.searchsorted(seconds, int(end.timestamp()), side="right")
            columns[name] = pd.Series(values[lo:hi], index=seconds[lo:hi])
        return pd.concat(columns, axis=1, join="inner").sort_index()


def removed_coin_sales(open_trades: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, PlannedOrder]:
    """Full sales of open positions in coins no longer in the portfolio (after a config reload), or
    taken over from the account only to fund the investment (``use_held_coins``)."""
    return {
        pair: PlannedOrder(
            pair.split("/")[0],
            "sell",
            float(trade.amount),
            0.0,
            0.0,
            f"funding: sell held {pair.split('/')[0]}"
            if getattr(trade, "enter_tag", None) == funding.HELD_TAG
            else f"removed from the portfolio | sell {pair}",
        )
        for pair, trade in open_trades.items()
        if pair not in pairs and trade.amount > 0
    }


def round_to_tick(values: np.ndarray, tick: float) -> np.ndarray:
    """Prices on the exchange's tick grid, as the nearest floats to the decimal values."""
    if not tick or tick <= 0:
        return values
    decimals = max(0, math.ceil(-math.log10(tick) - 1e-9))
    return np.round(np.round(values / tick) * tick, decimals)


class SmartPortfolio(IStrategy):
    """Keeps a portfolio of coins at target weights (see the ``smartfolio`` config section)."""

    INTERFACE_VERSION = 3
    timeframe = "1h"
    can_short = False
    # Hold: the portfolio decides every exit. An empty ROI table never triggers; a -100% stoploss
    # never triggers on spot (its stop price is 0).
    minimal_roi: dict = {}  # noqa: RUF012
    stoploss = -1.0
    trailing_stop = False
    use_exit_signal = False
    exit_profit_only = False
    ignore_roi_if_entry_signal = True
    # Switched per candle by bot_loop_start; starts True so freqtrade's startup copies of the
    # config (/show_config, Telegram) and /forceenter see it enabled.
    position_adjustment_enable = True
    max_entry_position_adjustment = -1
    process_only_new_candles = True
    startup_candle_count = 0
    # FreqUI (dry-run/live; columns from _add_status_columns): FreqUI applies it after "From strategy",
    # "Save" in its plot configurator (docs/frequi.md).
    plot_config: dict = {  # noqa: RUF012
        "main_plot": {},
        "subplots": {
            # this pair's coin: actual weight at each check against its target and the rebalance band
            "Weight %": {
                "sf_weight": {"color": "#2f80ed", "type": "line"},
                "sf_target": {"color": "#9b9b9b", "type": "line"},
                "sf_band_high": {"color": "#d9d9d9", "type": "line", "fill_to": "sf_band_low"},
                "sf_band_low": {"color": "#d9d9d9", "type": "line"},
            },
            # the whole portfolio against holding the coins it started with (same on every pair)
            "vs holding %": {
                "sf_vs_hold": {"color": "#27ae60", "type": "line"},
            },
            # this pair's coin: amount held against the amount holding would have
            "Coins vs holding %": {
                "sf_coins_vs_hold": {"color": "#e67e22", "type": "bar"},
            },
        },
    }

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.settings = parse_settings(config)
        self.targets = self.settings.targets
        self.exit_rule = self.settings.exit_rule
        self.pairs = self.settings.pairs
        self.prices = PriceBook()
        self.allocation = self.settings.allocation
        self.allocated_at: datetime | None = None
        if self.allocation is not None:
            # freqtrade loads this many candles before the first one traded (backtest and live)
            minutes = timeframe_to_seconds(config.get("timeframe", self.timeframe)) // 60
            self.startup_candle_count = math.ceil(self.allocation.lookback_minutes / minutes) + 1
        self.coin_rules: tuple[CoinRules, ...] = ()
        self.fee = 0.001
        self.pending: dict[str, PlannedOrder] = {}
        self.incomplete = False
        # Dry-run/live: orders handed to freqtrade (or found open) whose outcome is not known yet,
        # how often each pending order was handed out, and the candle of the last replan.
        self.in_flight: dict[str, InFlight] = {}
        self.attempts: dict[str, int] = {}
        self.replanned_candle: datetime | None = None
        # The plan time (close of the last closed candle) of the last scheduled rebalance.
        self.last_schedule_tick: datetime | None = None
        self.last_planned_candle: datetime | None = None
        self._last_skip_message = ""
        self._skip_logged: tuple[str, datetime] | None = None
        # Which markets trade (listings, halts, delistings) and the cash the fills really left.
        self.watch = MarketWatch(self.pairs)
        self.filled_cash = FilledCash(self.settings.investment)
        self.delisting_checked: datetime | None = None
        # Set when the portfolio take-profit or stop-loss fired: no more rebalancing.
        self.halted: str | None = None
        # Dry-run/live status for FreqUI and `smartfolio status`: weight (percent) per pair and candle.
        self.weight_history: dict[str, dict[int, float]] = {pair: {} for pair in self.pairs}
        # use_held_coins: the user's dry-run wallet as configured (before the take-over correction),
        # whether the take-over is still to do, and the rebalance it triggers.
        wallet = config.get("dry_run_wallet")
        self.configured_wallet = dict(wallet) if isinstance(wallet, dict) else None
        self.takeover_due = False
        self.funded: Trigger | None = None

    # ------------------------------------------------------------------ start
    @property
    def is_backtest(self) -> bool:
        return self.config.get("runmode") in (RunMode.BACKTEST, RunMode.HYPEROPT)

    def bot_start(self, **kwargs) -> None:
        markets = {pair: self.dp.market(pair) for pair in self.pairs}
        markets = {pair: m for pair, m in markets.items() if m is not None}
        prices = {}
        for coin, pair in zip(self.targets.coins, self.pairs, strict=True):
            frame = self.dp.get_pair_dataframe(pair, self.timeframe)
            prices[coin] = float(frame["close"].iloc[-1]) if len(frame) else 0.0
        min_orders = check_against_exchange(self.settings, markets, prices)
        self.coin_rules = tuple(
            CoinRules(min_order=min_orders[coin], step=float(markets[pair]["precision"]["amount"] or 0))
            for coin, pair in zip(self.targets.coins, self.pairs, strict=True)
        )
        self.fee = self._exchange_fee()
        self.halted = self._halt_lock_reason()
        if not self.is_backtest:
            funding.correct_dry_run_wallet(self.config, self.configured_wallet, self.settings.stake_currency)
            if self.wallets:
                self.wallets.update()
            self.takeover_due = self.settings.held_coins is not None and not funding.takeover_orders()
        # After a restart (or /reload_config) the schedule counts from the last scheduled rebalance.
        placed = self._last_tagged_order_time(("schedule:", ENTRY_TAG, "initial:"))
        self.last_schedule_tick = None if placed is None else self._plan_time_of(placed)
        logger.info(
            "SmartPortfolio: %s, %s rebalancing, minimum order %s",
            ", ".join(f"{c} {self.targets.percent(c):.1f}%" for c in self.targets.coins)
            + (f", cash {100 * self.targets.cash:.1f}%" if self.targets.cash else ""),
            self.settings.rebalance.mode,
            ", ".join(
                f"{c} {r.min_order:.2f}" for c, r in zip(self.targets.coins, self.coin_rules, strict=True)
            ),
        )

    def _halt_lock_reason(self) -> str | None:
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

    def _exchange_fee(self) -> float:
        configured = self.config.get("fee")
        if configured is not None:
            return float(configured)
        try:
            return float(self.dp._exchange.get_fee(self.pairs[0]))
        except Exception:  # pragma: no cover - exchanges without fee data
            return 0.001

    def _last_tagged_order_time(self, prefixes: tuple[str, ...] = ("",)) -> datetime | None:
        """After a restart: when the last filled order whose tag starts with one of ``prefixes`` (any
        tag by default) was placed, if any. Reads every trade, closed ones included (a compaction closes
        a coin's trade and continues it in a new one), in one query; compaction orders do not count."""
        if self.is_backtest:
            return None
        from freqtrade.persistence import Order
        from sqlalchemy import and_, func, or_, select

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

    def _plan_time_of(self, when: datetime) -> datetime:
        """The plan time (a candle close) at or before ``when``: orders are placed just after it."""
        step = timeframe_to_seconds(self.timeframe)
        now = int(when.timestamp())
        return datetime.fromtimestamp(now - now % step, tz=UTC)

    # ------------------------------------------------------------------ dataframe
    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        pair = metadata["pair"]
        if self.is_backtest and len(dataframe):
            # Put backtest prices on the exchange's tick grid: data files carry float noise
            # (4.995000000000001e-05) that freqtrade's price rounding would push outside the candle's
            # low-high range, leaving orders unfilled. freqtrade forbids changing the last close, so
            # the close column stays as it is and the price book keeps a rounded copy.
            tick = self._tick_size(pair)
            for column in ("open", "high", "low"):
                dataframe[column] = round_to_tick(dataframe[column].to_numpy(dtype=float), tick)
            self.prices.store(pair, dataframe, round_to_tick(dataframe["close"].to_numpy(dtype=float), tick))
        elif not self.is_backtest and pair in self.weight_history:
            self._add_status_columns(pair, dataframe)
        return dataframe

    def _add_status_columns(self, pair: str, dataframe: DataFrame) -> None:
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

    def _portfolio_orders(self) -> pd.DataFrame:
        """Dry-run/live: every filled order of the portfolio's trades (open and closed), from freqtrade's
        database: what :mod:`portfolio.vs_hold` measures (so it survives restarts). Closed trades are
        read once each and compaction's bookkeeping orders left out (:class:`compaction.TradeHistory`)."""
        if self.config.get("runmode") not in (RunMode.DRY_RUN, RunMode.LIVE):
            return orders_from_trade_dicts([])  # plot-dataframe, webserver: no bot, no orders
        history = getattr(self, "_trade_history", None)
        if history is None:
            history = self._trade_history = compaction.TradeHistory(orders_from_trade_dicts)
        return history.orders()

    def _vs_hold_frame(self, orders: DataFrame) -> DataFrame | None:
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

    def _closes_frame(self) -> DataFrame:
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

    def _rebalance_message(self, summary: str, state: PortfolioState) -> str:
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

    def _tick_size(self, pair: str) -> float:
        market = self.dp.market(pair) if self.dp else None
        tick = market["precision"]["price"] if market else None
        return float(tick) if tick else 0.0

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        """The entry signal opens a coin's trade (its initial buy); later orders go through
        ``adjust_trade_position``. A backtest reads the signal of every candle (shifted by one), so it
        stands on every candle there; dry-run/live freqtrade reads only the last candle's, so only the
        last candle of a pair without an open trade carries it (no marker on every candle in FreqUI);
        other modes (plot-dataframe, webserver) trade nothing and get no signal."""
        if self.is_backtest:
            dataframe["enter_long"] = 1
            dataframe["enter_tag"] = ENTRY_TAG
            return dataframe
        dataframe["enter_long"] = 0
        dataframe["enter_tag"] = None
        trading = self.config.get("runmode") in (RunMode.DRY_RUN, RunMode.LIVE)
        if trading and len(dataframe) and not Trade.get_trades_proxy(pair=metadata["pair"], is_open=True):
            last = dataframe.index[-1]
            dataframe.loc[last, "enter_long"] = 1
            dataframe.loc[last, "enter_tag"] = ENTRY_TAG
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    # ------------------------------------------------------------------ the plan, once per candle
    def last_closed_candle(self, current_time: datetime) -> datetime:
        """Open time of the last candle that has closed at ``current_time`` (backtest and live alike)."""
        step = timeframe_to_seconds(self.timeframe)
        now = int(current_time.timestamp())
        return datetime.fromtimestamp(now - now % step - step, tz=UTC)

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        candle = self.last_closed_candle(current_time)
        if self.in_flight and not self.is_backtest:
            self._settle(candle)
        if candle == self.last_planned_candle:
            self._switch_adjustment()
            return
        if self.takeover_due and not self._take_over_held_coins(candle, current_time):
            return
        if not self.is_backtest and self.settings.compact_after_orders is not None:
            self._compact(candle, current_time)
        open_trades = {t.pair: t for t in Trade.get_trades_proxy(is_open=True)}
        for trade in open_trades.values():
            protect_trade_cheaply(trade)
        observed = self._portfolio_state(candle, open_trades)
        if observed is None:
            return
        state, tradable = observed
        self.last_planned_candle = candle
        self.pending = removed_coin_sales(open_trades, self.pairs)
        if self.is_backtest:
            self._note_unfilled_sales(open_trades)
        else:
            self._watch_open_orders(open_trades)
            self._check_delistings(current_time)
            self._record_weights(state, candle)
        listing = self._note_markets(candle, state, tradable)
        if self.halted is None:
            fired = check_exit(state.total, self.settings.investment, self.exit_rule)
            if fired is not None:
                self._halt(fired.reason, current_time)
        if self.halted is not None:
            if self.exit_rule.sell_all:
                self._sell_everything(state, self.halted)
            self._switch_adjustment()
            return
        reallocated = self._reallocate(candle) if self.allocation is not None else None
        steer = self._steering_targets(state, tradable)
        if reallocated is not None and float(state.values.sum()) > 0 and not self.incomplete:
            trigger: Trigger | None = reallocated
        else:
            trigger = self._trigger(state, steer, candle, listing)
        if trigger is None:
            self._switch_adjustment()
            return
        plan = plan_rebalance(state, steer, self.coin_rules, self.fee, trigger, tradable)
        self.incomplete = False
        if not plan.orders:
            self._log_skip(plan, candle)
            self._switch_adjustment()
            return
        self._skip_logged = None
        summary = plan.summary()
        logger.info("Candle %s: %s", f"{candle:%Y-%m-%d %H:%M}", summary)
        if not self.is_backtest and self.dp:
            # One message per rebalance through freqtrade's RPC (Telegram, webhook "strategy_msg").
            self.dp.send_msg(self._rebalance_message(summary, state), always_send=True)
        self.pending.update({f"{o.coin}/{self.settings.stake_currency}": o for o in plan.orders})
        self._switch_adjustment()

    def _halt(self, reason: str, current_time: datetime) -> None:
        """Portfolio take-profit / stop-loss fired: stop rebalancing and set a global lock whose reason
        says what fired (shown by /locks, FreqUI and Telegram, and in the backtest result's locks)."""
        self.halted = reason
        PairLocks.lock_pair("*", current_time + HALT_LOCK, reason, now=current_time)
        what = "selling every coin" if self.exit_rule.sell_all else "keeping the coins"
        message = f"SmartPortfolio {reason}: {what}; rebalancing stopped (global lock)."
        logger.info(message)
        if not self.is_backtest and self.dp:
            self.dp.send_msg(message, always_send=True)

    def _sell_everything(self, state: PortfolioState, reason: str) -> None:
        """Full exits of every coin still held (repeated each candle until nothing is left)."""
        self.pending = {
            f"{coin}/{self.settings.stake_currency}": PlannedOrder(
                coin, "sell", float(amount), float(amount * price), float(price), f"{reason} | sell all"
            )
            for coin, amount, price in zip(state.coins, state.amounts, state.prices, strict=True)
            if amount > 0
        }

    def _record_weights(self, state: PortfolioState, candle: datetime) -> None:
        weights, _ = state.weights()
        key = int(candle.timestamp())
        for pair, weight in zip(self.pairs, weights.tolist(), strict=True):
            history = self.weight_history.setdefault(pair, {})
            history[key] = 100.0 * weight
            if len(history) > 5000:  # keep memory bounded on long runs
                del history[next(iter(history))]

    def _switch_adjustment(self) -> None:
        self.position_adjustment_enable = bool(self.pending)

    # ------------------------------------------------------------------ orders in flight (dry-run/live)
    def _watch_open_orders(self, open_trades: dict[str, Any]) -> None:
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

    def _settle(self, candle: datetime) -> None:
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

    def _sales_in_flight(self) -> bool:
        return any(o.side == "sell" for o in self.pending.values()) or any(
            f.side == "sell" for f in self.in_flight.values()
        )

    def _open_orders(self, trade: Any) -> tuple[float, float, float]:
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
            committed = 0.0  # the first entry's stake is in trade.stake_amount from the start
        return bought, committed, sold

    def _reallocate(self, candle: datetime) -> Trigger | None:
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

    def _trigger(
        self, state: PortfolioState, steer: Targets, candle: datetime, listing: Trigger | None
    ) -> Trigger | None:
        """Why to rebalance at the close of ``candle``. The schedule counts on candle times: its clock
        is the plan time (the candle's close) of the last scheduled rebalance, not the loop's clock."""
        if self.funded is not None:
            funded = self.funded
            self.funded = None
            return funded
        if listing is not None and float(state.values.sum()) > 0:
            return listing
        if self.incomplete:
            return Trigger(TriggerKind.COMPLETION, "buys waiting for cash from sales")
        rule = self.settings.rebalance.rule
        plan_time = candle + timedelta(seconds=timeframe_to_seconds(self.timeframe))
        since = None
        if self.last_schedule_tick is not None:
            since = (plan_time - self.last_schedule_tick).total_seconds() / 60.0
        trigger = check_trigger(state, steer, rule, since)
        if trigger is not None and trigger.kind in (TriggerKind.SCHEDULE, TriggerKind.INITIAL):
            self.last_schedule_tick = plan_time
        return trigger

    def _steering_targets(self, state: PortfolioState, tradable: np.ndarray) -> Targets:
        """The targets for this candle: coins that do not trade keep what they hold, coins being
        delisted go to 0 (they are sold), and their targets go to the coins that trade."""
        leaving = np.array([pair in self.watch.delisting for pair in self.pairs], dtype=bool)
        if not leaving.any():
            return tradable_targets(self.targets, tradable, state.values, state.total)
        values = np.where(leaving, 0.0, state.values)
        return tradable_targets(self.targets, tradable & ~leaving, values, state.total)

    def _note_markets(self, candle: datetime, state: PortfolioState, tradable: np.ndarray) -> Trigger | None:
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

    def _mark_markets(self, candle: datetime) -> None:
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
                PairLocks.lock_pair(pair, now + HALT_LOCK, reason, now=now)

    def _tell(self, message: str) -> None:
        """Log a notice, and live send it through freqtrade's messaging (Telegram, webhooks)."""
        logger.info("SmartPortfolio: %s", message)
        if not self.is_backtest and self.dp:
            self.dp.send_msg(f"SmartPortfolio: {message}", always_send=True)

    def _check_delistings(self, current_time: datetime) -> None:
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

    def _restore_delistings(self) -> None:
        """After a restart: the delistings this bot acted on, from its market locks (kept in the
        database), so a coin sold for its delisting is never bought again, even once the exchange's
        schedule no longer lists it."""
        now = datetime.now(UTC)
        for pair in self.pairs:
            for lock in PairLocks.get_pair_locks(pair, now):
                if lock.reason.startswith(MARKET_LOCK_PREFIX):
                    self.watch.restore_delisting(pair, lock.reason[len(MARKET_LOCK_PREFIX) :].strip())

    def _note_unfilled_sales(self, open_trades: dict[str, Any]) -> None:
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

    def _portfolio_state(
        self, candle: datetime, open_trades: dict[str, Any]
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

    def _proceeds_of_coins_to_sell(self, open_trades: dict[str, Any], candle: datetime) -> float:
        """Cash the plan can count on from positions outside the portfolio (removed coins, held coins
        taken over to fund it): they are sold in full. Buys still wait for the sales' real cash."""
        proceeds = 0.0
        for pair, trade in open_trades.items():
            if pair in self.pairs or trade.amount <= 0:
                continue
            price = self._close_of(pair, candle) or float(trade.open_rate)
            proceeds += float(trade.amount) * price * (1 - self.fee)
        return proceeds

    def _close_of(self, pair: str, candle: datetime) -> float | None:
        """Close of ``candle`` for a pair outside the price book's per-candle refresh (dry-run/live:
        read from freqtrade's candles first; None when freqtrade has none)."""
        if not self.is_backtest:
            frame = self.dp.get_pair_dataframe(pair, self.timeframe)
            if len(frame):
                self.prices.store(pair, frame)
        return self.prices.close_at(pair, candle)

    def _cash(self, open_trades: dict[str, Any]) -> float:
        """Stake currency the portfolio holds: freqtrade's free stake, less the entry fees freqtrade
        has not yet charged against it (it realises them on exit)."""
        free = float(self.wallets.get_available_stake_amount()) if self.wallets else 0.0
        if not self.is_backtest:
            # Open buys commit stake that freqtrade adds to trade.stake_amount only once they fill:
            # live, the exchange already holds it back from the free balance; dry-run, it does not.
            committed = sum(self._open_orders(t)[1] for t in open_trades.values() if t.has_open_orders)
            if self.config.get("dry_run", True):
                free -= committed
            # Live, the account may hold more than the portfolio (in dry-run too, when held coins
            # fund part of the investment): its cash is the investment plus every profit realised,
            # less what sits in its trades (freqtrade's dry-run bookkeeping).
            realised = Trade.get_total_closed_profit() + sum(t.realized_profit for t in open_trades.values())
            in_trades = sum(t.stake_amount for t in open_trades.values())
            free = min(free, self.settings.investment + realised - in_trades - committed)
        unpaid_entry_fees = sum(t.open_trade_value - t.stake_amount for t in open_trades.values())
        return max(free - unpaid_entry_fees, 0.0)

    def _compact(self, candle: datetime, current_time: datetime) -> None:
        """Dry-run/live: close and reopen, without trading, each coin's trade holding more than
        ``compact_after_orders`` orders (:mod:`adapter.compaction`); orders still watched wait."""
        limit = self.settings.compact_after_orders
        assert limit is not None
        done = compaction.compact_trades(
            limit, lambda pair: self._close_of(pair, candle), current_time, skip=set(self.in_flight)
        )
        if done and self.wallets:
            self.wallets.update()

    def _take_over_held_coins(self, candle: datetime, current_time: datetime) -> bool:
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

    def _log_skip(self, plan: RebalancePlan, candle: datetime) -> None:
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

    # ------------------------------------------------------------------ execution
    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> float:
        order = self.pending.get(pair)
        if order is None or order.side != "buy":
            return 0.0
        if not self.is_backtest and pair in self.in_flight:
            return 0.0
        cash_now = self._spendable_cash(Trade.get_trades_proxy(is_open=True))
        stake = min(order.value, max_stake, cash_now / (1 + self.fee))
        fit = self._fit_to_lot(pair, stake, current_rate, min(cash_now, max_stake * (1 + self.fee)))
        if not self.is_backtest:
            if fit is None:
                self.pending.pop(pair, None)
                return 0.0
            # kept pending until the trade shows the order (see _settle)
            self.attempts[pair] = self.attempts.get(pair, 0) + 1
            self.in_flight[pair] = InFlight(0, "buy", handed=True)
            return fit
        del self.pending[pair]
        self._switch_adjustment()
        return fit or 0.0

    def _spendable_cash(self, open_trades: Any) -> float:
        """Cash a buy may spend now: the strategy's view of freqtrade's free stake, never more than the
        cash the fills really left (:mod:`adapter.cash`); live, less a margin for late fees."""
        trades = {t.pair: t for t in open_trades}
        if self.is_backtest:
            filled = self.filled_cash.cash(Trade.get_trades_proxy())
        else:  # closed trades (compaction makes one per coin every N orders) read once each
            filled = self.filled_cash.cash_live(trades.values())
        cash = max(min(self._cash(trades), filled), 0.0)
        if not self.is_backtest:
            # Live fills are not the candle's: keep back two fees' worth of the cash for the fee a
            # sale pays in the stake currency, which freqtrade may book after the buys it funds
            # are sized, and for market-order slippage (test_live_faults caught 0.25 USDT over).
            cash *= 1 - LIVE_CASH_MARGIN_FEES * self.fee
        return cash

    def _fit_to_lot(self, pair: str, stake: float, rate: float, cash: float) -> float | None:
        """The stake to hand freqtrade for a buy of ``stake`` at ``rate``, so that after freqtrade
        truncates it to the lot it still meets the minimum order (rounded up one lot when the cash
        pays for it); None, with the reason logged, when it cannot."""
        i = self.pairs.index(pair)
        rules = self.coin_rules[i]
        fit = fit_buy_to_lot(stake, rate, rules.step, rules.min_order, cash, self.fee, pair.split("/")[0])
        if fit.note:
            logger.info("Rebalance: %s.", fit.note)
        return fit.stake if fit.amount > 0 else None

    def adjust_trade_position(
        self,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        min_stake: float | None,
        max_stake: float,
        current_entry_rate: float,
        current_exit_rate: float,
        current_entry_profit: float,
        current_exit_profit: float,
        **kwargs,
    ) -> float | tuple[float | None, str | None] | None:
        order = self.pending.get(trade.pair)
        if order is None:
            return None
        if self.is_backtest:
            del self.pending[trade.pair]
        else:
            if trade.pair in self.in_flight or trade.has_open_orders:
                # Its last order is still working: wait (freqtrade would cancel and replace it).
                return None
            if order.side == "buy" and self._sales_in_flight():
                # This rebalance's sales come first and fill first (freqtrade visits trades in id
                # order): the buy stays pending and is placed on a later loop of the same candle.
                return None
            # kept pending until the trade shows the order (see _settle)
            self.attempts[trade.pair] = self.attempts.get(trade.pair, 0) + 1
            self.in_flight[trade.pair] = InFlight(len(trade.orders), order.side, handed=True)
        if order.side == "sell":
            # freqtrade turns a negative stake into an amount with trade.amount / trade.stake_amount
            # and truncates it to the lot size: nudge up so float error cannot drop one lot.
            amount = min(order.amount, trade.amount)
            return -amount * trade.stake_amount / trade.amount * (1 + 1e-9), order.tag
        # Spend no more than the cash the portfolio really has now (sales earlier in this candle
        # included): fills come at the candle's open, not at the close the plan was priced at.
        cash_now = self._spendable_cash(Trade.get_trades_proxy(is_open=True))
        affordable = min(max_stake, cash_now / (1 + self.fee))
        stake = min(order.value, affordable)
        min_order = self.coin_rules[self.pairs.index(trade.pair)].min_order
        if order.value - stake >= min_order or stake < min_order:
            # What is left (or the whole buy, deferred) is itself a tradable order: finish the
            # rebalance on the next candle.
            self.incomplete = True
        if stake < min_order:
            logger.info(
                "Buy of %s waits for cash: %.2f wanted, %.2f available now.",
                trade.pair,
                order.value,
                affordable,
            )
            self.pending.pop(trade.pair, None)
            self.in_flight.pop(trade.pair, None)
            return None
        fitted = self._fit_to_lot(trade.pair, stake, current_rate, min(cash_now, max_stake * (1 + self.fee)))
        if fitted is None:
            self.pending.pop(trade.pair, None)
            self.in_flight.pop(trade.pair, None)
            return None
        return fitted, order.tag
