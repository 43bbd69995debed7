"""freqtrade mode of the kernel: what the strategy does inside freqtrade's backtester (docs/engine.md).

The plan is made at bar ``r`` from the close of bar ``r-1``; orders fill at the open of bar ``r``, pair
by pair in the order the trades were opened, with freqtrade's bookkeeping mirrored in :class:`TradeBook`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from freqtrade_smartfolio.portfolio.engine.fills_compiled import CompiledFreqtradeRun
from freqtrade_smartfolio.portfolio.engine.kernel import NS_PER_MINUTE, KernelOutput
from freqtrade_smartfolio.portfolio.engine.planner import fast_plan
from freqtrade_smartfolio.portfolio.engine.rules import SELL_NUDGE, min_stake, on_grid, price_to_precision
from freqtrade_smartfolio.portfolio.lots import (
    fit_buy_to_lot,
    truncate_to_step,
)
from freqtrade_smartfolio.portfolio.plan import PortfolioState, TriggerKind, check_trigger, completion_trigger
from freqtrade_smartfolio.portfolio.targets import tradable_targets

COMPILED = True  # freqtrade mode through the compiled loop where it applies (tests switch it off)


class _TradeBook:
    """freqtrade's view of the open trades, one slot per coin (plain floats: the fills are scalar)."""

    def __init__(self, n: int) -> None:
        self.amount = [0.0] * n  # trade.amount
        self.stake = [0.0] * n  # trade.stake_amount: cost basis at the average entry price
        self.avg = [0.0] * n  # average entry price, unrounded
        self.open_rate = [0.0] * n  # trade.open_rate: the average entry price on the price grid
        self.realized = [0.0] * n  # trade.realized_profit
        self.flow = [0.0] * n  # cash the trade's filled orders moved (adapter/cash.py's trade_cash_flow)
        self.opened: list[int] = []  # trades in the order they were opened


class FreqtradeKernel(CompiledFreqtradeRun):
    """The kernel in freqtrade mode."""

    def run_freqtrade(self, hold: bool = False) -> KernelOutput:
        compiled_out = self._run_compiled(hold) if COMPILED else None
        if compiled_out is not None:
            return compiled_out
        return self._run_python(hold)

    # ------------------------------------------------------------ the Python loop
    def _run_python(self, hold: bool = False) -> KernelOutput:
        n, fee, out = self.n, self.fee, self.out
        last = len(self.dates) - 1
        book = _TradeBook(n)
        amounts = np.zeros(n)  # the same holdings as book.amount, as an array for the scans
        cash = self.investment  # the real cash
        seen = self._strategy_cash(book)
        last_tick: int | None = None
        incomplete = False
        interval = self.rule.interval_minutes
        r = 1
        while r <= last:
            if not incomplete:
                if hold and book.opened:
                    break
                r = self.scan(r, amounts, seen, last_tick, lag=1)
                if r < 0:
                    break
            prices = self.close_r[r - 1]
            plan_time = int(self.dates[r - 1]) + self.tf_ns
            tradable: np.ndarray | None = None  # None: every coin has the candle r-1
            listing = ""
            if self.valid is not None:
                mask = self.valid[r - 1]
                if not mask.any():  # no coin has a candle: no plan, nothing updated
                    r += 1
                    continue
                listing = self._listing(r, mask, amounts)
                tradable = None if mask.all() else mask
            state = PortfolioState(self.coins, amounts.copy(), prices, seen)
            steer = self.targets
            if tradable is not None:  # the strategy's _steering_targets
                steer = tradable_targets(self.targets, tradable, state.values, state.total)
            special = tradable is not None or (len(self.special) > 0 and self._is_special(r))
            # SmartPortfolio._trigger: LISTING > plan.completion_trigger > plan.check_trigger
            if listing and float(state.values.sum()) > 0:
                kind, reason = TriggerKind.LISTING, listing
            elif incomplete:
                completion = completion_trigger(state, steer, self.rule)
                kind, reason = completion.kind, completion.reason
            else:
                if self.record or special:  # plan.py's own verdict, with its human reason
                    since = None if last_tick is None else (plan_time - last_tick) / NS_PER_MINUTE
                    trigger = check_trigger(state, steer, self.rule, since)
                    if trigger is None:  # a quiet special bar (the scan never stops on a quiet one)
                        r += 1
                        continue
                    kind, reason = trigger.kind, trigger.reason
                elif float(state.values.sum()) <= 0:
                    kind, reason = TriggerKind.INITIAL, ""
                elif interval is not None and (
                    last_tick is None or (plan_time - last_tick) / NS_PER_MINUTE >= interval
                ):
                    kind, reason = TriggerKind.SCHEDULE, ""  # a due schedule comes before the band
                else:
                    kind, reason = TriggerKind.THRESHOLD, ""
                if kind in (TriggerKind.SCHEDULE, TriggerKind.INITIAL):
                    last_tick = plan_time
            sells, buys = fast_plan(
                amounts,
                prices,
                seen,
                steer.array,
                steer.cash,
                self.min_orders,
                self.steps,
                fee,
                buys_only=kind is TriggerKind.COMPLETION,
                tradable=tradable,
            )
            incomplete = False
            if sells or buys:
                orders = {i: ("sell", amount, value) for i, amount, value in sells}
                orders |= {i: ("buy", amount, value) for i, amount, value in buys}
                cash, incomplete = self._fill_freqtrade(r, kind, reason, orders, book, cash, r == last)
                amounts = np.array(book.amount)
                seen = self._strategy_cash(book)
            r += 1
        # freqtrade's handle_left_open: each open trade is force-sold at the open of its pair's own
        # last candle, at the trade's price precision (a price outside that candle does not fill)
        final = cash
        for i in book.opened:
            if book.amount[i] > 0:
                row = self.last_rows[i]
                price = price_to_precision(float(self.open_r[row, i]), self.trade_tick[i])
                if not self._fills(row, i, price):
                    continue
                gross = book.amount[i] * price
                final += gross * (1 - fee)
                out.fees += gross * fee
        out.final_value = final
        self._record_holdings(last, np.zeros(n), final)
        return out

    def _listing(self, r: int, mask: np.ndarray, amounts: np.ndarray) -> str:
        """MarketWatch.update's LISTING reason at bar r ('' for none): a coin with the candle r-1 that
        had none at the last bar checked before, holds nothing, while the portfolio holds coins."""
        if self.valid is None:
            return ""
        before = int(self.prev_checked[r - 1])
        if before < 0 or float(np.sum(amounts)) <= 0:
            return ""
        new = mask & ~self.valid[before] & (amounts <= 0)
        if not new.any():
            return ""
        when = self.index_time(r - 1)
        return (
            f"{', '.join(c for c, b in zip(self.coins, new.tolist(), strict=True) if b)} trades from {when}"
        )

    def _fills(self, row: int, i: int, price: float) -> bool:
        """freqtrade's ``_get_order_filled``: a price inside the candle's low-high range fills."""
        if self.low_r is None or self.high_r is None:
            return True
        return bool(self.low_r[row, i] <= price <= self.high_r[row, i])

    def _entry_tick(self, row: int, i: int) -> float:
        """Price precision freqtrade gives a trade opened at ``row``: from the data's decimals that
        month (backtesting's ``price_pair_prec``), else the exchange's tick."""
        if self.price_ticks is not None:
            tick = float(self.price_ticks[row, i])
            if not math.isnan(tick):
                return tick
        return self.exchange[i].tick

    def _free_stake(self, book: _TradeBook) -> float:
        """freqtrade's ``get_available_stake_amount`` in a dry-run backtest, same float operations
        (``Wallets._update_dry``: start + profit - stakes, sums in trade order)."""
        opened = book.opened
        profit = 0.0 + sum([book.realized[i] for i in opened])
        tied = sum([book.stake[i] for i in opened])
        free = self.investment + profit - tied
        return min((tied + free) * 1.0 - tied, free)

    def _filled_cash(self, book: _TradeBook) -> float:
        """adapter/cash.py's FilledCash: the investment plus each trade's filled orders' cash flow,
        summed trade by trade in the order the trades were opened."""
        total = self.investment
        for i in book.opened:
            total += book.flow[i]
        return total

    def _strategy_cash(self, book: _TradeBook, free: float | None = None) -> float:
        """SmartPortfolio._cash: free stake less the entry fees freqtrade has not charged yet
        (``open_trade_value - stake_amount``, open_rate rounded to the tick as freqtrade does)."""
        factor = 1 + self.fee
        amount, rate, stake = book.amount, book.open_rate, book.stake
        unpaid = sum([amount[i] * rate[i] * factor - stake[i] for i in book.opened])
        return max((self._free_stake(book) if free is None else free) - unpaid, 0.0)

    def _fill_freqtrade(
        self,
        r: int,
        kind: TriggerKind,
        reason: str,
        orders: Mapping[int, tuple[str, float, float]],
        book: _TradeBook,
        cash: float,
        last_row: bool,
    ) -> tuple[float, bool]:
        """Fill one candle's orders at its open, pair by pair in freqtrade's order; returns the cash
        and whether buys were left for a completion."""
        fee, out = self.fee, self.out
        price = self.open_r[r].tolist()
        initial = kind == TriggerKind.INITIAL
        event = len(out.events)
        incomplete = False
        traded = False
        amount, stake, avg, realized = book.amount, book.stake, book.avg, book.realized
        opened = book.opened
        sequence = [*opened, *(i for i in range(self.n) if i not in opened)]
        valid = self.valid
        for i in sequence:
            order = orders.get(i)
            if order is None:
                continue
            if valid is not None and not valid[r, i]:
                continue  # no candle at r for this pair: freqtrade's validate_row skips it
            side, planned_amount, size = order
            step, step_dec = self.steps[i], self.step_decimals[i]
            p = price[i]
            if side == "sell":
                if amount[i] <= 0:
                    continue
                q = truncate_to_step(min(planned_amount, amount[i]) * (1 + SELL_NUDGE), step, step_dec)
                if q <= 0:
                    continue
                remaining = (amount[i] - q) * p  # _check_adjust_trade_for_candle: at the candle's open
                floor = min_stake(self.exchange[i], p, -0.1)
                if floor and remaining != 0 and remaining < floor:
                    continue  # freqtrade refuses a partial exit leaving less than its minimum
                p = price_to_precision(p, self.trade_tick[i])  # freqtrade's _exit_trade
                if not self._fills(r, i, p):
                    # priced on the trade's tick from the day it opened, outside this candle: the
                    # order stays open, is cancelled on the pair's next candle (unfilledtimeout)
                    # before anything else, and the trade keeps its amount; the strategy plans from
                    # the holdings and no buy ever counted on the proceeds (filled cash)
                    continue
                gross = q * p
                realized[i] += gross * (1 - fee) - q * avg[i] * (1 + fee)
                stake[i] -= avg[i] * q
                amount[i] = on_grid(amount[i] - q, step, step_dec)
                cash += gross * (1 - fee)
                book.flow[i] += gross * (1 - fee)
            else:
                entry = amount[i] <= 0
                if entry and (last_row or (valid is not None and not valid[r - 1, i])):
                    continue  # no trade opens on the last candle, nor without the shifted signal
                available = self._free_stake(book)  # stake_available (the exchange's max is larger)
                seen = self._strategy_cash(book, available)  # SmartPortfolio._cash
                cash_now = max(min(seen, self._filled_cash(book)), 0.0)  # _spendable_cash
                min_order = self.min_orders[i]
                lot_cash = min(cash_now, available * (1 + fee))
                if entry:  # custom_stake_amount
                    wanted = min(size, available, cash_now / (1 + fee))
                else:  # adjust_trade_position
                    wanted = min(size, min(available, cash_now / (1 + fee)))
                    if size - wanted >= min_order or wanted < min_order:
                        incomplete = True  # what is left (or the whole deferred buy) is tradable later
                    if wanted < min_order:
                        continue
                fit = fit_buy_to_lot(wanted, p, step, min_order, lot_cash, fee)
                if fit.amount <= 0:
                    continue  # skipped: under the minimum after the lot, one more lot unaffordable
                amount_stake = fit.stake
                # freqtrade's validate_stake_amount
                floor = min_stake(self.exchange[i], p, 0.0 if not entry else -0.05)
                if not amount_stake > 0 or floor > available:
                    continue
                if amount_stake < floor:
                    if amount_stake * 1.3 < floor:
                        continue
                    amount_stake = floor
                amount_stake = min(amount_stake, available)
                q = truncate_to_step(amount_stake / p, step, step_dec)
                if q <= 0:
                    continue
                gross = q * p
                stake[i] += gross
                amount[i] = on_grid(amount[i] + q, step, step_dec)
                avg[i] = stake[i] / amount[i]
                if entry:
                    opened.append(i)
                    self.trade_tick[i] = self._entry_tick(r, i)
                book.open_rate[i] = price_to_precision(avg[i], self.trade_tick[i])
                cash -= gross * (1 + fee)
                book.flow[i] -= gross * (1 + fee)
            traded = True
            out.fees += gross * fee
            if not initial:
                out.traded_value += gross
            if self.record:
                out.fills.append((r, i, side, q, p, gross * fee, event))
        if traded and not initial:
            out.rebalances += 1
        if self.record:
            out.events.append((r, kind.value, reason, incomplete))
        if traded:
            self._record_holdings(r, np.array(amount), cash)
        return cash, incomplete
