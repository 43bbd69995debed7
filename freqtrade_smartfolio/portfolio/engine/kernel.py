"""The kernel: one run of one :class:`Settings` over prepared arrays.

Clean mode runs whole in compiled code (:func:`compiled.clean_kernel`). In freqtrade mode speed comes
from skipping the quiet bars: between two rebalances holdings and cash are constant, so the kernel
finds the next bar whose weights leave the band (or whose schedule is due) with one compiled pass
(:meth:`Kernel.scan`, :func:`compiled.band_scan`); only the bars that trade run Python code. This
module holds the shared state, the trigger search and clean mode; freqtrade mode (the trade book and
the fills) is :mod:`.fills`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio.engine import compiled
from freqtrade_smartfolio.portfolio.engine.market import NS_PER_MINUTE, Market
from freqtrade_smartfolio.portfolio.engine.rules import prepare_prices
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.lots import decimals_of
from freqtrade_smartfolio.portfolio.plan import TriggerKind


@dataclass
class KernelOutput:
    """Raw kernel results (plain arrays/lists; the wrapper turns them into pandas)."""

    change_rows: list[int] = field(default_factory=list)  # bars after which holdings changed
    amounts: list[np.ndarray] = field(default_factory=list)  # holdings after those bars
    cash: list[float] = field(default_factory=list)  # real cash after those bars
    events: list[tuple[int, str, str, bool]] = field(default_factory=list)  # row, kind, reason, incomplete
    fills: list[tuple[int, int, str, float, float, float, int]] = field(
        default_factory=list
    )  # row, coin, side, amount, price, fee, event number
    final_value: float = 0.0
    fees: float = 0.0
    traded_value: float = 0.0  # rebalance orders only (not the initial buys, not the final sale)
    rebalances: int = 0  # events that traded, the initial allocation excluded
    # a compiled run's fills and events as columns too (the same values as ``fills``/``events``)
    columns: dict[str, np.ndarray] | None = None
    # a run that deferred its columns (``lazy``): builds them on demand (:meth:`build_columns`)
    columns_fn: Callable[[], dict[str, np.ndarray]] | None = field(default=None, repr=False)
    # a clean run's change rows, holdings and cash as the kernel returned them (int64, events x coins
    # float64, float64): the same values as ``change_rows``, ``amounts`` and ``cash`` (which a lazy
    # run leaves empty)
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def build_columns(self) -> dict[str, np.ndarray] | None:
        """``columns``, built from ``columns_fn`` the first time when the run deferred them."""
        if self.columns is None and self.columns_fn is not None:
            self.columns = self.columns_fn()
            self.columns_fn = None
        return self.columns


class Kernel:
    """One run of one parameter set over prepared arrays."""

    def __init__(
        self,
        market: Market,
        settings: Settings,
        record: bool,
        prepared: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.coins = market.coins
        self.n = len(market.coins)
        self.dates = market.dates
        self.tf_ns = round(market.timeframe_minutes * NS_PER_MINUTE)
        self.settings = settings
        targets, rule, mode = settings.targets, settings.rule, settings.mode
        self.targets = targets
        self.rule = rule
        self.rules = settings.rules
        self.fee = settings.fee
        self.investment = settings.investment
        self.exchange = settings.exchange
        self.mode = mode
        self.bt_quantities = settings.bt_quantities
        self.record = record
        self.steps = [r.step for r in self.rules]
        self.step_decimals = [decimals_of(step) for step in self.steps]
        self.min_orders = [r.min_order for r in self.rules]
        prep = prepared or prepare_prices(market, self.exchange, mode)
        self.open_r = prep["open"]
        self.close_r = prep["close"]
        self.high_r = prep.get("high")
        self.low_r = prep.get("low")
        self.mark = market.close
        self.price_ticks = market.price_ticks
        # Which coins have a candle on each bar (None: all of them, on every bar). A bar r is
        # "special" when a coin lacks the candle r-1 the plan is made from, or the set of coins with
        # a candle changed: the compiled scan stops there and the bar is checked one by one.
        self.valid = None if mode == "clean" or market.valid is None else market.valid
        bars = len(self.dates)
        self.special = np.zeros(0, dtype=np.int64)
        self.last_rows = [bars - 1] * self.n  # each pair's last candle (freqtrade's data[pair][-1])
        self.prev_checked = np.zeros(0, dtype=np.int64)
        if self.valid is not None:
            valid = self.valid
            flags = np.zeros(bars, dtype=bool)
            flags[1:] = ~valid[:-1].all(axis=1)
            flags[2:] |= (valid[1:-1] != valid[:-2]).any(axis=1)
            self.special = np.flatnonzero(flags)
            self.last_rows = [
                int(np.flatnonzero(valid[:, i])[-1]) if valid[:, i].any() else -1 for i in range(self.n)
            ]
            # the last bar before each bar on which some coin had a candle (MarketWatch's last check)
            checked = valid.any(axis=1)
            marks = np.where(checked, np.arange(bars), -1)
            self.prev_checked = np.concatenate([[-1], np.maximum.accumulate(marks)[:-1]])
        self.trade_tick = np.zeros(self.n)  # price precision of each open trade (set at entry)
        # plan.out_of_band_reason: out when |weight - goal| - width > 1e-12 (cash included)
        self.goal = np.append(targets.array, targets.cash)
        self.width: np.ndarray | None = None
        if rule.threshold is not None:
            # relative bands scale with the target; a zero target (cash) keeps the absolute width
            relative_width = np.where(self.goal > 0, self.goal * rule.threshold, rule.threshold)
            self.width = relative_width if rule.relative else np.full(self.n + 1, rule.threshold)
        self.out = KernelOutput()
        # True: the fills and events stay as columns built on demand (``KernelOutput.columns_fn``),
        # the lists are not filled (``simulate``'s result reads the columns only)
        self.lazy = False

    @functools.cached_property
    def plan_dates(self) -> np.ndarray:
        """When the plan from each bar is made (bar r+1's time); built on first use (clean mode's
        compiled kernel never asks)."""
        return self.dates + self.tf_ns

    def _fill_lists(self, columns: dict[str, np.ndarray]) -> None:
        """``out.columns`` and the same fills and events as lists (``out.fills``, ``out.events``)."""
        out = self.out
        out.columns = columns
        out.events = list(
            zip(
                columns["event_row"].tolist(),
                columns["kind"].tolist(),
                columns["reason"].tolist(),
                columns["incomplete"].tolist(),
                strict=True,
            )
        )
        names = ("row", "coin", "side", "amount", "price", "fee", "rebalance")
        out.fills = list(zip(*(columns[name].tolist() for name in names), strict=True))

    # ------------------------------------------------------------ trigger search (compiled)
    def scan(self, first: int, amounts: np.ndarray, cash: float, last_tick: int | None, lag: int) -> int:
        """First bar ``r >= first`` whose plan (prices of bar ``r - lag``) triggers, or -1."""
        total_bars = len(self.dates)
        rule = self.rule
        if len(self.special):  # bars with coins that lack a candle are checked one by one
            at = int(np.searchsorted(self.special, first, side="left"))
            if at < len(self.special):
                total_bars = int(self.special[at])
                if total_bars <= first:
                    return first
        schedule_row = total_bars
        if rule.interval_minutes is not None:
            if last_tick is None:
                return first
            due = last_tick + rule.interval_minutes * NS_PER_MINUTE
            plan_times = self.plan_dates if lag else self.dates
            # the strategy compares minutes as floats; the dates are whole minutes, so this is exact
            schedule_row = max(first, int(np.searchsorted(plan_times, due, side="left")) + lag)
        if self.width is None:
            if schedule_row < total_bars:
                return schedule_row
            return total_bars if total_bars < len(self.dates) else -1
        if not (amounts > 0).any():
            return first  # nothing held: the initial allocation is due now
        stop = min(total_bars, schedule_row)
        if first < stop:  # the compiled band test over every quiet bar up to the schedule
            hit = compiled.band_scan(self.close_r, first, stop, lag, amounts, cash, self.goal, self.width)
            if hit >= 0:
                return hit
        if schedule_row < total_bars:
            return schedule_row
        return total_bars if total_bars < len(self.dates) else -1

    # ------------------------------------------------------------ freqtrade mode
    def _is_special(self, r: int) -> bool:
        at = int(np.searchsorted(self.special, r, side="left"))
        return at < len(self.special) and int(self.special[at]) == r

    def index_time(self, row: int) -> str:
        return pd.Timestamp(int(self.dates[row]), tz="UTC").strftime("%Y-%m-%d %H:%M")

    def _record_holdings(self, row: int, amounts: np.ndarray, cash: float) -> None:
        out = self.out
        if out.change_rows and out.change_rows[-1] == row:
            out.amounts[-1] = amounts.copy()
            out.cash[-1] = cash
        else:
            out.change_rows.append(row)
            out.amounts.append(amounts.copy())
            out.cash.append(cash)

    # ------------------------------------------------------------ clean mode
    def run_clean(self, hold: bool = False) -> KernelOutput:
        """Clean mode, compiled (:func:`compiled.clean_kernel`; docs/engine.md, "clean mode")."""
        n, fee, out, record = self.n, self.fee, self.out, self.record
        rule = self.rule
        interval_ns = compiled.schedule_ns(rule.interval_minutes)
        close = self.close_r  # C or Fortran order, as DataFrame.to_numpy gives it (market._close_only)
        if close.dtype != np.float64 or not (close.flags.c_contiguous or close.flags.f_contiguous):
            close = np.ascontiguousarray(close, dtype=np.float64)
        rows, kinds, held_after, cash_after, qty, traded, totals = compiled.clean_kernel(
            close,
            np.ascontiguousarray(self.dates, dtype=np.int64),
            np.ascontiguousarray(self.goal, dtype=np.float64),
            self.width is not None,
            float(rule.threshold or 0.0),
            bool(rule.relative),
            self.targets.cash > 0,
            interval_ns,
            fee,
            self.investment,
            bool(self.bt_quantities),
            hold,
        )
        out.fees, out.traded_value, out.rebalances = float(totals[0]), float(totals[1]), int(totals[2])
        out.arrays = (rows, held_after, cash_after)
        if not self.lazy:  # a lazy run (simulate) reads the arrays only
            out.change_rows = rows.tolist()
            out.amounts = list(held_after)
            out.cash = cash_after.tolist()
        if record:

            def columns() -> dict[str, np.ndarray]:
                names = np.array(
                    [TriggerKind.INITIAL.value, TriggerKind.THRESHOLD.value, TriggerKind.SCHEDULE.value]
                )
                kind_names = names[kinds]
                reasons = np.where(kinds == compiled.KIND_INITIAL, "", kind_names)
                event, coin = np.nonzero(traded)  # event by event, coins in order: the order of the fills
                q = qty[event, coin]
                fill_rows = rows[event]
                prices = close[fill_rows, coin]
                amount = np.abs(q)
                return {
                    "row": fill_rows,
                    "coin": coin,
                    "side": np.where(q > 0, "buy", "sell"),
                    "amount": amount,
                    "price": prices,
                    "fee": amount * prices * fee,
                    "rebalance": event,
                    "event_row": rows,
                    "kind": kind_names,
                    "reason": reasons,
                    "incomplete": np.zeros(len(rows), dtype=bool),
                }

            if self.lazy:
                out.columns_fn = columns
            else:
                self._fill_lists(columns())
        amounts = held_after[-1] if len(rows) else np.zeros(n)
        cash = float(cash_after[-1]) if len(rows) else self.investment
        gross = float(np.dot(amounts, close[-1]))
        out.fees += gross * fee
        out.final_value = cash + gross * (1 - fee)
        return out
