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
from datetime import UTC, datetime
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_smartfolio.adapter import funding
from freqtrade_smartfolio.adapter.allocation import SmartAllocation
from freqtrade_smartfolio.adapter.cash import FilledCash
from freqtrade_smartfolio.adapter.cash_accounting import CashAccounting
from freqtrade_smartfolio.adapter.exits import HALT_LOCK as HALT_LOCK  # re-exported
from freqtrade_smartfolio.adapter.exits import HALT_REASONS as HALT_REASONS  # re-exported
from freqtrade_smartfolio.adapter.exits import PortfolioExits
from freqtrade_smartfolio.adapter.held_coins import HeldCoins
from freqtrade_smartfolio.adapter.market_watch import MarketWatch
from freqtrade_smartfolio.adapter.markets import MarketAwareness
from freqtrade_smartfolio.adapter.orders import InFlight, OrderTracking
from freqtrade_smartfolio.adapter.prices import PriceBook
from freqtrade_smartfolio.adapter.state import PortfolioView
from freqtrade_smartfolio.adapter.status_columns import StatusColumns
from freqtrade_smartfolio.adapter.trades import TradeView as TradeView  # re-exported (tests, benchmarks)
from freqtrade_smartfolio.adapter.trades import protect_trade_cheaply, removed_coin_sales
from freqtrade_smartfolio.adapter.triggers import Triggers
from freqtrade_smartfolio.config import (
    AllocationSettings,
    SmartfolioSettings,
    check_against_exchange,
    parse_settings,
)
from freqtrade_smartfolio.portfolio.exits import PortfolioExitRule, check_exit
from freqtrade_smartfolio.portfolio.lots import round_to_tick
from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PlannedOrder,
    Trigger,
    plan_rebalance,
)
from freqtrade_smartfolio.portfolio.targets import Targets

logger = logging.getLogger(__name__)

ENTRY_TAG = "initial allocation"


class SmartPortfolio(
    OrderTracking,
    CashAccounting,
    MarketAwareness,
    PortfolioExits,
    PortfolioView,
    Triggers,
    SmartAllocation,
    StatusColumns,
    HeldCoins,
    IStrategy,
):
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
        self.settings: SmartfolioSettings = parse_settings(config)
        self.targets: Targets = self.settings.targets
        self.exit_rule: PortfolioExitRule = self.settings.exit_rule
        self.pairs: tuple[str, ...] = self.settings.pairs
        self.prices: PriceBook = PriceBook()
        self.allocation: AllocationSettings | None = self.settings.allocation
        self.allocated_at: datetime | None = None
        if self.allocation is not None:
            # freqtrade loads this many candles before the first one traded (backtest and live)
            minutes = timeframe_to_seconds(config.get("timeframe", self.timeframe)) // 60
            self.startup_candle_count = math.ceil(self.allocation.lookback_minutes / minutes) + 1
        self.coin_rules: tuple[CoinRules, ...] = ()
        self.fee: float = 0.001
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
        self._last_skip_message: str = ""
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
        self.configured_wallet: dict[str, Any] | None = dict(wallet) if isinstance(wallet, dict) else None
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

    def _exchange_fee(self) -> float:
        configured = self.config.get("fee")
        if configured is not None:
            return float(configured)
        try:
            return float(self.dp._exchange.get_fee(self.pairs[0]))
        except Exception:  # pragma: no cover - exchanges without fee data
            return 0.001

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

    def _switch_adjustment(self) -> None:
        self.position_adjustment_enable = bool(self.pending)

    # ------------------------------------------------------------------ why, and what, to rebalance

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
