"""The matching engine of the offline exchange's accounts: orders placed, held, filled and cancelled.

* Market orders walk the synthetic order book (:meth:`Feed.book`: bids from the replayed price
  down, asks one tick above it) and fill at once as taker; what the book cannot fill expires.
* Limit orders that cross the book fill as taker at once (up to their price); the rest rests
  (``GTC``; ``IOC``/``FOK`` expire) and fills as maker at its price when the replayed price crosses it
  (the high/low of the data candles passed since the last look, see :func:`price_range`).
* Fees: the market's taker/maker rate, charged in the asset received (base on buys, quote on sells),
  as Binance does without BNB.
* Filters: ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``PRICE_FILTER`` and ``NOTIONAL`` answer Binance's
  -1013 ``Filter failure: ...``; missing funds -2010.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np

from freqtrade_smartfolio.exchange.accounts import (
    EIGHT,
    MAX_OPEN_ORDERS,
    ZERO,
    Account,
    Accounts,
    Fill,
    Order,
    OrderError,
    dec,
    generate_key,
)
from freqtrade_smartfolio.exchange.faults import Fault
from freqtrade_smartfolio.exchange.feed import Feed
from freqtrade_smartfolio.exchange.markets import MarketRules


def price_range(feed: Feed, coin: str, t0: float, t1: float) -> tuple[float, float] | None:
    """Low and high of the finest data candles that opened at or after ``t0`` and closed by ``t1`` (data
    ms), or ``None``; the candle in progress at ``t0`` is left out (its path before ``t0`` is unknown)."""
    if not (t1 > t0) or not np.isfinite(t1):
        return None
    files = sorted(feed.store.all_series(coin), key=lambda s: s.tf_ms)
    for s in files:
        if s.start <= t0 and t1 <= s.end + s.tf_ms:
            lo = int(np.searchsorted(s.t, t0, "left"))  # first candle opening at or after t0
            hi = int(np.searchsorted(s.t + s.tf_ms, t1, "right"))  # candles closed by t1
            if hi > lo:
                return float(s.low[lo:hi].min()), float(s.h[lo:hi].max())
            return None
    return None


class Matching(Accounts):
    """:class:`~.accounts.Accounts` with the matching engine: placing, filling and cancelling orders."""

    # ---- orders --------------------------------------------------------------------------------
    def place(
        self,
        key: str,
        coin: str,
        side: str,
        type_: str,
        *,
        quantity: Decimal | None = None,
        quote_qty: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        plan: Fault | None = None,
    ) -> Order:
        """Validate and place an order (Binance's filters and balance checks), fill what fills now."""
        rules = self.rules(coin)
        step, tick = dec(f"{rules.step_size:.{rules.amount_decimals}f}"), dec(f"{rules.tick_size:.12f}")
        min_notional = dec(rules.min_notional)
        with self.lock:
            acc = self._get(key)
            self.sync(acc, count_request=False)
            if client_order_id and any(
                o.is_open and o.key == key and o.client_order_id == client_order_id
                for o in self.orders.values()
            ):
                raise OrderError(-2010, "Duplicate order sent.")
            if sum(1 for o in self.orders.values() if o.key == key and o.is_open) >= MAX_OPEN_ORDERS:
                raise OrderError(-2010, "Account has too many open orders.")
            now = self.now()
            bids, asks = self._book(coin)
            last = dec(self._price(coin))
            if type_ == "MARKET":
                if price is not None:
                    raise OrderError(-1106, "Parameter 'price' sent when not required.")
                if quantity is not None and quote_qty is not None:
                    raise OrderError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
                if quote_qty is not None:
                    if quote_qty <= 0:
                        raise OrderError(-1013, "Invalid quantity.")
                    if quote_qty < min_notional:
                        raise OrderError(-1013, "Filter failure: NOTIONAL")
                    quantity = self._qty_for_quote(quote_qty, asks if side == "BUY" else bids, step, side)
                    if quantity <= 0:
                        raise OrderError(-1013, "Filter failure: LOT_SIZE")
                elif quantity is None:
                    raise OrderError(
                        -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
                    )
                self._check_lot(quantity, rules, step, market=True)
                if quote_qty is None and quantity * last < min_notional:
                    raise OrderError(-1013, "Filter failure: NOTIONAL")
                tif = "GTC"
            else:
                if quote_qty is not None:
                    raise OrderError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
                if quantity is None:
                    raise OrderError(
                        -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
                    )
                if price is None:
                    raise OrderError(
                        -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
                    )
                tif = (time_in_force or ("GTC" if type_ == "LIMIT_MAKER" else "")).upper()
                if not tif:
                    raise OrderError(
                        -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
                    )
                if tif not in ("GTC", "IOC", "FOK"):
                    raise OrderError(-1115, "Invalid timeInForce.")
                if price <= 0 or price % tick != 0 or price > dec(1_000_000):
                    raise OrderError(-1013, "Filter failure: PRICE_FILTER")
                self._check_lot(quantity, rules, step, market=False)
                if quantity * price < min_notional:
                    raise OrderError(-1013, "Filter failure: NOTIONAL")
                crosses = (side == "BUY" and asks and price >= asks[0][0]) or (
                    side == "SELL" and bids and price <= bids[0][0]
                )
                if type_ == "LIMIT_MAKER" and crosses:
                    raise OrderError(-2010, "Order would immediately match and take.")
            # funds: buys reserve the quote they may spend, sells the base they sell
            if side == "BUY":
                if type_ == "MARKET":
                    need = quote_qty if quote_qty is not None else self._walk_cost(quantity, asks)
                else:
                    need = quantity * price  # type: ignore[operator]
                asset = rules.quote
            else:
                need, asset = quantity, rules.base
            if acc.free.get(asset, ZERO) < need:
                raise OrderError(-2010, "Account has insufficient balance for requested action.")
            order_id = self._next_order
            self._next_order += 1
            order = Order(
                order_id=order_id,
                key=key,
                coin=coin,
                symbol=rules.exchange_id,
                side=side,
                type=type_,
                time_in_force=tif,
                orig_qty=quantity,
                price=price if price is not None else ZERO,
                orig_quote_qty=quote_qty or ZERO,
                client_order_id=client_order_id or f"offline{order_id}x{generate_key(10)}",
                time=now,
                update_time=now,
                last_data_ms=self.feed.clock.data_now(),
                last_price=float(last),
            )
            self._lock_funds(acc, asset, need)
            order.locked = need
            self.orders[order.order_id] = order
            self._apply_plan(order, plan, now, step)
            if not order.held or (plan is not None and plan.kind == "partial"):
                self._fill_now(acc, order, bids, asks, step, limit_qty=self._plan_qty(order, plan, step))
            if plan is not None and plan.kind == "partial" and order.expire_rest and order.is_open:
                self._close(acc, order, "EXPIRED")
            acc.update_time = now
            self.save()
            return order

    @staticmethod
    def _check_lot(quantity: Decimal, rules: MarketRules, step: Decimal, market: bool) -> None:
        min_qty, max_qty = dec(f"{rules.min_qty:.{rules.amount_decimals}f}"), dec(rules.max_qty)
        if quantity <= 0:
            raise OrderError(-1013, "Invalid quantity.")
        if quantity < min_qty or quantity > max_qty or (quantity - min_qty) % step != 0:
            raise OrderError(-1013, "Filter failure: LOT_SIZE")
        if market and quantity > max_qty / 10:
            raise OrderError(-1013, "Filter failure: MARKET_LOT_SIZE")

    @staticmethod
    def _walk_cost(quantity: Decimal, levels: list[tuple[Decimal, Decimal]]) -> Decimal:
        cost, left = ZERO, quantity
        for price, qty in levels:
            take = min(left, qty)
            cost += take * price
            left -= take
            if left <= 0:
                break
        return cost

    @staticmethod
    def _qty_for_quote(
        quote: Decimal, levels: list[tuple[Decimal, Decimal]], step: Decimal, side: str
    ) -> Decimal:
        """Base quantity that ``quote`` buys (or that sells for ``quote``) on the book, down to the step."""
        qty, left = ZERO, quote
        for price, level_qty in levels:
            take = min(level_qty, (left / price / step).to_integral_value(ROUND_DOWN) * step)
            qty += take
            left -= take * price
            if take < level_qty:
                break
        return qty

    def _apply_plan(self, order: Order, plan: Fault | None, now: int, step: Decimal) -> None:
        if plan is None:
            return
        if plan.kind == "never_fill" or (plan.kind == "partial" and plan.rest == "never"):
            order.never = True
        elif plan.kind == "partial" and plan.rest == "expire":
            order.expire_rest = True
        elif plan.kind in ("late", "partial"):
            if plan.after_seconds is not None:
                order.hold_until_ms = now + int(plan.after_seconds * 1000)
            if plan.after_requests is not None:
                order.hold_requests = plan.after_requests
            if order.hold_until_ms is None and order.hold_requests is None:
                order.hold_until_ms = now  # partial with no delay: the rest fills at the next look

    @staticmethod
    def _plan_qty(order: Order, plan: Fault | None, step: Decimal) -> Decimal | None:
        if plan is None or plan.kind != "partial":
            return None
        part = (order.orig_qty * dec(plan.ratio) / step).to_integral_value(ROUND_DOWN) * step
        return max(part, step) if plan.ratio > 0 else ZERO

    def _lock_funds(self, acc: Account, asset: str, amount: Decimal) -> None:
        acc.free[asset] = acc.free.get(asset, ZERO) - amount
        acc.locked[asset] = acc.locked.get(asset, ZERO) + amount

    def _unlock(self, acc: Account, order: Order) -> None:
        asset = self.rules(order.coin).quote if order.side == "BUY" else self.rules(order.coin).base
        if order.locked:
            acc.locked[asset] = acc.locked.get(asset, ZERO) - order.locked
            acc.free[asset] = acc.free.get(asset, ZERO) + order.locked
            order.locked = ZERO

    def _fill_now(
        self,
        acc: Account,
        order: Order,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        step: Decimal,
        limit_qty: Decimal | None = None,
    ) -> None:
        """Fill against the book as taker (up to the limit price); the rest rests, expires or waits."""
        levels = asks if order.side == "BUY" else bids
        want = order.remaining if limit_qty is None else min(limit_qty, order.remaining)
        if order.type == "LIMIT" and order.time_in_force == "FOK":
            reachable = sum(
                (q for p, q in levels if (p <= order.price if order.side == "BUY" else p >= order.price)),
                ZERO,
            )
            if reachable < order.remaining:
                self._close(acc, order, "EXPIRED")
                return
        now = self.now()
        for price, qty in levels:
            if want <= 0:
                break
            if order.type != "MARKET" and (
                price > order.price if order.side == "BUY" else price < order.price
            ):
                break
            take = min(want, qty)
            if order.side == "BUY" and order.type == "MARKET":
                # a market buy cannot spend more than it reserved (quoteOrderQty or the estimate)
                fee_free = self._spendable(acc, order)
                affordable = (fee_free / price / step).to_integral_value(ROUND_DOWN) * step
                take = min(take, affordable)
                if take <= 0:
                    break
            self._execute(acc, order, price, take, maker=False, now=now)
            want -= take
        if not order.is_open:
            return
        if order.type == "MARKET" and limit_qty is None:
            self._close(acc, order, "EXPIRED")  # the book ran dry
        elif order.type == "LIMIT" and order.time_in_force == "IOC" and limit_qty is None:
            self._close(acc, order, "EXPIRED")

    def _spendable(self, acc: Account, order: Order) -> Decimal:
        if order.orig_quote_qty > 0:
            return order.orig_quote_qty - order.cum_quote
        return order.locked + acc.free.get(self.rules(order.coin).quote, ZERO)

    def _execute(
        self, acc: Account, order: Order, price: Decimal, qty: Decimal, maker: bool, now: int
    ) -> None:
        """One fill: move balances, charge the fee in the asset received, record the trade."""
        rules = self.rules(order.coin)
        rate = dec(rules.maker_fee if maker else rules.taker_fee)
        quote_amount = price * qty
        if order.side == "BUY":
            commission = (qty * rate).quantize(EIGHT, ROUND_HALF_UP)
            from_lock = min(order.locked, quote_amount)
            order.locked -= from_lock
            acc.locked[rules.quote] = acc.locked.get(rules.quote, ZERO) - from_lock
            acc.free[rules.quote] = acc.free.get(rules.quote, ZERO) - (quote_amount - from_lock)
            acc.free[rules.base] = acc.free.get(rules.base, ZERO) + qty - commission
            asset = rules.base
        else:
            commission = (quote_amount * rate).quantize(EIGHT, ROUND_HALF_UP)
            order.locked -= qty
            acc.locked[rules.base] = acc.locked.get(rules.base, ZERO) - qty
            acc.free[rules.quote] = acc.free.get(rules.quote, ZERO) + quote_amount - commission
            asset = rules.quote
        fill = Fill(price, qty, commission, asset, self._next_trade, maker, now)
        self._next_trade += 1
        order.fills.append(fill)
        order.executed_qty += qty
        order.cum_quote += quote_amount
        order.update_time = now
        self.trades.append((acc.key, fill, order))
        if order.remaining <= 0:
            self._close(acc, order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"

    def _close(self, acc: Account, order: Order, status: str) -> None:
        order.status = status
        order.update_time = self.now()
        order.hold_until_ms = order.hold_requests = None
        order.never = False
        self._unlock(acc, order)

    def cancel(self, key: str, coin: str, order_id: int | None, client_order_id: str | None) -> Order:
        with self.lock:
            acc = self._get(key)
            self.sync(acc, count_request=False)
            order = self._find(key, coin, order_id, client_order_id)
            if order is None or not order.is_open:
                raise OrderError(-2011, "Unknown order sent.")
            self._close(acc, order, "CANCELED")
            acc.update_time = self.now()
            self.save()
            return order

    # ---- matching ------------------------------------------------------------------------------
    def sync(self, acc: Account, count_request: bool = True) -> None:
        """Release held orders whose time has come and fill resting limit orders the price crossed."""
        with self.lock:
            changed = False
            now = self.now()
            data_now = self.feed.clock.data_now()
            for order in [o for o in self.orders.values() if o.key == acc.key and o.is_open]:
                if order.never:
                    continue
                if count_request and order.hold_requests is not None:
                    order.requests_seen += 1
                if order.hold_until_ms is not None or order.hold_requests is not None:
                    due_time = order.hold_until_ms is not None and now >= order.hold_until_ms
                    due_req = order.hold_requests is not None and order.requests_seen >= order.hold_requests
                    if not (due_time or due_req):
                        continue
                    order.hold_until_ms = order.hold_requests = None
                    rules = self.rules(order.coin)
                    step = dec(f"{rules.step_size:.{rules.amount_decimals}f}")
                    bids, asks = self._book(order.coin)
                    self._fill_now(acc, order, bids, asks, step)
                    changed = True
                    if not order.is_open or order.type == "MARKET":
                        continue
                if order.type in ("LIMIT", "LIMIT_MAKER"):
                    changed |= self._match_resting(acc, order, data_now, now)
            if changed:
                acc.update_time = now
                self.save()

    def _match_resting(self, acc: Account, order: Order, data_now: float, now: int) -> bool:
        """Fill a resting limit order as maker at its price if the price crossed it since the last look."""
        rules = self.rules(order.coin)
        price = self._price(order.coin)
        low = high = price
        span = price_range(self.feed, order.coin, order.last_data_ms, data_now)
        if span is not None:
            low, high = min(low, span[0], order.last_price), max(high, span[1], order.last_price)
        order.last_data_ms, order.last_price = data_now, price
        limit = float(order.price)
        # the book's ask is one tick above the replayed price, its bid at it
        crossed = (low + rules.tick_size <= limit + 1e-12) if order.side == "BUY" else (high >= limit - 1e-12)
        if not crossed:
            return False
        self._execute(acc, order, order.price, order.remaining, maker=True, now=now)
        return True

    def sync_all(self) -> None:
        with self.lock:
            for acc in self.accounts.values():
                self.sync(acc, count_request=False)
