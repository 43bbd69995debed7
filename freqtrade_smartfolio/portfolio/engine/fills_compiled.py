"""freqtrade mode's bridge to its compiled loop (:func:`compiled_freqtrade.freqtrade_kernel`): the arrays
it takes, and its results back as the kernel's output (the reasons in plan.py's words). :mod:`.fills`
runs it where it applies, else its Python loop."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from freqtrade_smartfolio.portfolio.durations import format_minutes
from freqtrade_smartfolio.portfolio.engine import compiled, compiled_exact, compiled_freqtrade_sweep
from freqtrade_smartfolio.portfolio.engine import compiled_freqtrade as cf
from freqtrade_smartfolio.portfolio.engine.kernel import Kernel, KernelOutput
from freqtrade_smartfolio.portfolio.engine.market import Market
from freqtrade_smartfolio.portfolio.engine.rules import tick_key
from freqtrade_smartfolio.portfolio.lots import decimals_of, stoploss_reserve
from freqtrade_smartfolio.portfolio.plan import TriggerKind


class CompiledFreqtradeRun(Kernel):
    """The kernel's freqtrade mode through the compiled loop."""

    def __init__(self, market: Market, *args: Any, **kwargs: Any) -> None:
        super().__init__(market, *args, **kwargs)
        self.market = market  # what it keeps: the entry ticks' decimals (Market.kept)

    def _compiled_inputs(self) -> dict[str, Any] | None:
        """The arrays :func:`compiled_freqtrade.freqtrade_kernel` takes, or None where the compiled
        loop does not apply (coins lacking candles, lots that are not powers of ten <= 1, more than
        22 decimals, more than 128 coins)."""
        if self.valid is not None or len(self.special) or self.n > compiled_exact.MAX_COINS:
            return None
        for step, decimals in zip(self.steps, self.step_decimals, strict=True):
            if step and step > 0 and (decimals > 22 or step != float(f"1e-{decimals}")):
                return None
        entry_decimals, too_many = self.market.kept(
            ("decimals of the entry ticks", tick_key(self.exchange)), self._entry_decimals
        )
        if too_many:
            return None
        reserves = [stoploss_reserve(stoploss) for stoploss in (-0.1, 0.0, -0.05)]  # rules.min_stake's
        has_range = self.high_r is not None and self.low_r is not None
        close = np.ascontiguousarray(self.close_r, dtype=np.float64)
        return {
            "open_r": np.ascontiguousarray(self.open_r, dtype=np.float64),
            "close_r": close,
            "high_r": np.ascontiguousarray(self.high_r if has_range else close, dtype=np.float64),
            "low_r": np.ascontiguousarray(self.low_r if has_range else close, dtype=np.float64),
            "has_range": has_range,
            "dates": np.ascontiguousarray(self.dates, dtype=np.int64),
            "plan_dates": np.ascontiguousarray(self.plan_dates, dtype=np.int64),
            "tf_ns": int(self.tf_ns),
            "entry_decimals": np.ascontiguousarray(entry_decimals),
            "goal": np.ascontiguousarray(self.goal, dtype=np.float64),
            "target_cash": float(self.targets.cash),
            "width": np.zeros(self.n + 1)
            if self.width is None
            else np.ascontiguousarray(self.width, dtype=float),
            "banded": self.width is not None,
            "interval_ns": compiled.schedule_ns(self.rule.interval_minutes),
            "min_orders": np.array(self.min_orders, dtype=np.float64),
            "steps": np.array(self.steps, dtype=np.float64),
            "step_decimals": np.array(self.step_decimals, dtype=np.int64),
            "min_cost": np.array([ex.min_cost for ex in self.exchange], dtype=np.float64),
            "min_amount": np.array([ex.min_amount for ex in self.exchange], dtype=np.float64),
            "reserves": np.array(reserves, dtype=np.float64),
            "fee": float(self.fee),
            "investment": float(self.investment),
        }

    def _entry_decimals(self) -> tuple[np.ndarray, bool]:
        """The decimals of the price precision a trade opened at each bar gets (the bar's, else the
        exchange's tick; -1: none), and whether any is beyond 22 (the compiled loop does not apply)."""
        decimals_by_tick: dict[float, int] = {}

        def tick_decimals(tick: float) -> int:
            if tick not in decimals_by_tick:
                bad = not tick or tick <= 0 or math.isnan(tick)
                decimals_by_tick[tick] = -1 if bad else decimals_of(tick)
            return decimals_by_tick[tick]

        bars = len(self.dates)
        exchange_ticks = np.array([ex.tick for ex in self.exchange], dtype=float)
        use_price = self.price_ticks is not None
        price_ticks = self.price_ticks if self.price_ticks is not None else np.zeros((0, self.n))
        # the ticks (the price precision, else the exchange's) change a few times a year: decimals_of
        # once per run of equal ticks in each column
        rows, cols, values = compiled.tick_runs(
            np.ascontiguousarray(price_ticks, dtype=np.float64), exchange_ticks, use_price, bars
        )
        run_decimals = np.array([tick_decimals(t) for t in values.tolist()], dtype=np.int64)
        entry_decimals = compiled.spread_runs(bars, self.n, rows, cols, run_decimals)
        return entry_decimals, bool((entry_decimals > 22).any())

    def _run_compiled(self, hold: bool) -> KernelOutput | None:
        """freqtrade mode through :func:`compiled_freqtrade.freqtrade_kernel` (None: not applicable,
        or a rounding it could not decide; the Python loop runs then)."""
        inputs = self._compiled_inputs()
        if inputs is None:
            return None
        status, events, held, cash, seen, fills, totals, _, _ = cf.freqtrade_kernel(**inputs, hold=hold)
        if status != 0:
            return None
        out, n = self.out, self.n
        out.fees, out.traded_value = float(totals[0]), float(totals[1])
        out.rebalances, out.final_value = int(totals[2]), float(totals[3])
        traded = np.flatnonzero(events[:, 3])  # holdings after the events that traded (one per bar)
        out.change_rows = events[traded, 0].tolist()
        out.amounts = list(held[traded])
        out.cash = cash[traded].tolist()
        self._record_holdings(len(self.dates) - 1, np.zeros(n), out.final_value)
        if not self.record:
            return out

        def columns() -> dict[str, np.ndarray]:
            return self._compiled_columns(events, held, seen, fills)

        if self.lazy:
            out.columns_fn = columns
        else:
            self._fill_lists(columns())
        return out

    def _compiled_columns(
        self, events: np.ndarray, held: np.ndarray, seen: np.ndarray, fills: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The compiled run's fills and events as columns (reasons in out_of_band_reason's words)."""
        n = self.n
        names = {
            cf.KIND_INITIAL: TriggerKind.INITIAL,
            cf.KIND_THRESHOLD: TriggerKind.THRESHOLD,
            cf.KIND_SCHEDULE: TriggerKind.SCHEDULE,
            cf.KIND_COMPLETION: TriggerKind.COMPLETION,
        }
        interval = self.rule.interval_minutes
        schedule = f"every {format_minutes(interval)}" if interval is not None else ""
        rows_array = events[:, 0]
        # the states the plans were made from: the holdings and the strategy's cash after the event
        # before (nothing and the investment before the first), the closes of the bar before
        before = np.vstack([np.zeros((1, n)), held[:-1]]) if len(held) else np.zeros((0, n))
        cash_before = np.concatenate([[self.investment], seen[:-1]]) if len(seen) else np.zeros(0)
        worst, weight, limit = compiled_freqtrade_sweep.band_reasons(
            np.ascontiguousarray(before),
            np.ascontiguousarray(cash_before),
            np.ascontiguousarray(self.close_r[np.maximum(rows_array - 1, 0)]),
            np.ascontiguousarray(self.goal, dtype=np.float64),
            float(self.rule.threshold or 0.0),
            bool(self.rule.relative),
        )
        labels = (*self.coins, "cash")
        fixed = {
            cf.KIND_COMPLETION: "buys waiting for cash from sales",
            cf.KIND_INITIAL: "buy every coin at its target weight",
            cf.KIND_SCHEDULE: schedule,
        }
        reasons = [
            fixed[code]
            if code != cf.KIND_THRESHOLD
            else ""
            if at < 0
            else f"{labels[at]} {w:.2%} {'>' if w > edge else '<'} {edge:.2%}"  # out_of_band_reason's words
            for code, at, w, edge in zip(
                events[:, 1].tolist(), worst.tolist(), weight.tolist(), limit.tolist(), strict=True
            )
        ]
        kinds = [names[code].value for code in events[:, 1].tolist()]
        incomplete = events[:, 2].astype(bool)
        event = fills[:, 0].astype(np.int64)
        coin = fills[:, 1].astype(np.int64)
        fill_rows = rows_array[event]
        sides = np.where(fills[:, 2] > 0, "buy", "sell")
        amount, price, fee = fills[:, 3], fills[:, 4], fills[:, 5]
        return {
            "row": fill_rows,
            "coin": coin,
            "side": sides,
            "amount": amount,
            "price": price,
            "fee": fee,
            "rebalance": event,
            "event_row": rows_array,
            "kind": np.array(kinds, dtype=object),
            "reason": np.array(reasons, dtype=object),
            "incomplete": incomplete,
        }
