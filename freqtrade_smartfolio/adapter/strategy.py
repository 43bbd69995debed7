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
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import PairLocks, Trade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_smartfolio.config import check_against_exchange, parse_settings
from freqtrade_smartfolio.portfolio.allocation import allocate_from_prices
from freqtrade_smartfolio.portfolio.exits import check_exit
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
from freqtrade_smartfolio.portfolio.targets import Targets

logger = logging.getLogger(__name__)

ENTRY_TAG = "initial allocation"
HALT_REASONS = ("take_profit:", "stop_loss:")
HALT_LOCK = timedelta(days=3650)


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
    """Full sales of open positions in coins no longer in the portfolio (after a config reload)."""
    return {
        pair: PlannedOrder(
            pair.split("/")[0],
            "sell",
            float(trade.amount),
            0.0,
            0.0,
            f"removed from the portfolio | sell {pair}",
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
    # FreqUI: actual vs target weight per pair (columns added in dry-run/live, see populate_indicators).
    plot_config: dict = {  # noqa: RUF012
        "main_plot": {},
        "subplots": {
            "Weight %": {
                "sf_weight": {"color": "#2f80ed", "type": "line"},
                "sf_target": {"color": "#9b9b9b", "type": "line"},
            }
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
        self.last_schedule_tick: datetime | None = None
        self.last_planned_candle: datetime | None = None
        self._last_skip_message = ""
        # Set when the portfolio take-profit or stop-loss fired: no more rebalancing.
        self.halted: str | None = None
        # Dry-run/live status for FreqUI and `smartfolio status`: weight (percent) per pair and candle.
        self.weight_history: dict[str, dict[int, float]] = {pair: {} for pair in self.pairs}

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
        # After a restart (or /reload_config) the schedule counts from the last scheduled rebalance.
        self.last_schedule_tick = self._last_tagged_order_time(("schedule:", ENTRY_TAG, "initial:"))
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
        """After a restart: the last filled order of the open trades whose tag starts with one of
        ``prefixes`` (any tag by default), if any."""
        if self.is_backtest:
            return None
        latest = None
        for trade in Trade.get_trades_proxy(is_open=True):
            for order in trade.orders:
                tag = order.ft_order_tag or ""
                if tag and tag.startswith(prefixes) and order.order_filled_date and order.status == "closed":
                    when = order.order_filled_utc
                    if when and (latest is None or when > latest):
                        latest = when
        return latest

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
        """``sf_weight``/``sf_target`` (percent) per candle, as checked at its close: FreqUI plots
        them and ``/pair_candles`` serves them (``smartfolio status``)."""
        coin = pair.split("/")[0]
        history = self.weight_history[pair]
        dates = dataframe["date"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        keys = dates.astype(np.int64).tolist()
        dataframe["sf_weight"] = [history.get(k, np.nan) for k in keys]
        dataframe["sf_target"] = self.targets.percent(coin)

    def _tick_size(self, pair: str) -> float:
        market = self.dp.market(pair) if self.dp else None
        tick = market["precision"]["price"] if market else None
        return float(tick) if tick else 0.0

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        dataframe["enter_tag"] = ENTRY_TAG
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
        if candle == self.last_planned_candle:
            self._switch_adjustment()
            return
        open_trades = {t.pair: t for t in Trade.get_trades_proxy(is_open=True)}
        for trade in open_trades.values():
            protect_trade_cheaply(trade)
        state = self._portfolio_state(candle, open_trades)
        if state is None:
            return
        self.last_planned_candle = candle
        self.pending = removed_coin_sales(open_trades, self.pairs)
        if not self.is_backtest:
            self._record_weights(state, candle)
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
        if reallocated is not None and float(state.values.sum()) > 0 and not self.incomplete:
            trigger: Trigger | None = reallocated
        else:
            trigger = self._trigger(state, current_time)
        if trigger is None:
            self._switch_adjustment()
            return
        plan = plan_rebalance(state, self.targets, self.coin_rules, self.fee, trigger)
        self.incomplete = False
        if not plan.orders:
            self._log_skip(plan)
            self._switch_adjustment()
            return
        self._last_skip_message = ""
        summary = plan.summary()
        logger.info("Candle %s: %s", f"{candle:%Y-%m-%d %H:%M}", summary)
        if not self.is_backtest and self.dp:
            # One message per rebalance through freqtrade's RPC (Telegram, webhook "strategy_msg").
            self.dp.send_msg(f"SmartPortfolio {summary}", always_send=True)
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

    def _trigger(self, state: PortfolioState, current_time: datetime) -> Trigger | None:
        if self.incomplete:
            return Trigger(TriggerKind.COMPLETION, "buys waiting for cash from sales")
        rule = self.settings.rebalance.rule
        since = None
        if self.last_schedule_tick is not None:
            since = (current_time - self.last_schedule_tick).total_seconds() / 60.0
        trigger = check_trigger(state, self.targets, rule, since)
        if trigger is not None and trigger.kind in (TriggerKind.SCHEDULE, TriggerKind.INITIAL):
            self.last_schedule_tick = current_time
        return trigger

    def _portfolio_state(self, candle: datetime, open_trades: dict[str, Any]) -> PortfolioState | None:
        prices = np.empty(len(self.pairs))
        for i, pair in enumerate(self.pairs):
            if not self.is_backtest:
                self.prices.store(pair, self.dp.get_pair_dataframe(pair, self.timeframe))
            price = self.prices.close_at(pair, candle)
            if price is None or price <= 0:
                message = (
                    f"No closed {self.timeframe} candle at {candle} for {pair}: not planning this candle."
                )
                if message != self._last_skip_message:
                    logger.info(message)
                    self._last_skip_message = message
                return None
            prices[i] = price
        amounts = np.array([open_trades[p].amount if p in open_trades else 0.0 for p in self.pairs])
        return PortfolioState(self.targets.coins, amounts, prices, self._cash(open_trades))

    def _cash(self, open_trades: dict[str, Any]) -> float:
        """Stake currency the portfolio holds: freqtrade's free stake, less the entry fees freqtrade
        has not yet charged against it (it realises them on exit)."""
        free = float(self.wallets.get_available_stake_amount()) if self.wallets else 0.0
        if not self.is_backtest and not self.config.get("dry_run", True):
            # Live, the account may hold more than the portfolio: its cash is the investment plus
            # every profit realised, less what sits in its trades (freqtrade's dry-run bookkeeping).
            realised = Trade.get_total_closed_profit() + sum(t.realized_profit for t in open_trades.values())
            in_trades = sum(t.stake_amount for t in open_trades.values())
            free = min(free, self.settings.investment + realised - in_trades)
        unpaid_entry_fees = sum(t.open_trade_value - t.stake_amount for t in open_trades.values())
        return max(free - unpaid_entry_fees, 0.0)

    def _log_skip(self, plan: RebalancePlan) -> None:
        message = f"Rebalance ({plan.trigger.label}) skipped: " + "; ".join(
            f"{s.side} {s.coin} ~{s.value:.2f} {s.why}" for s in plan.skipped
        )
        if message != self._last_skip_message:
            logger.info(message)
            self._last_skip_message = message

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
        del self.pending[pair]
        self._switch_adjustment()
        return order.value

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
        sales_first = any(o.side == "sell" for o in self.pending.values())
        if order.side == "buy" and sales_first and not self.is_backtest:
            # Dry-run/live: this rebalance's sales come first (freqtrade visits trades in id order);
            # the buy stays pending and is placed on a later loop of the same candle.
            return None
        del self.pending[trade.pair]
        if order.side == "sell":
            # freqtrade turns a negative stake into an amount with trade.amount / trade.stake_amount
            # and truncates it to the lot size: nudge up so float error cannot drop one lot.
            amount = min(order.amount, trade.amount)
            return -amount * trade.stake_amount / trade.amount * (1 + 1e-9), order.tag
        # Spend no more than the cash the portfolio really has now (sales earlier in this candle
        # included): fills come at the candle's open, not at the close the plan was priced at.
        cash_now = self._cash({t.pair: t for t in Trade.get_trades_proxy(is_open=True)})
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
            return None
        return stake, order.tag
