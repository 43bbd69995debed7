"""Spot accounts of the offline exchange: balances per API key, orders, fills and fees, like Binance.

* Market orders walk the synthetic order book (:meth:`Feed.book`: bids from the replayed price
  down, asks one tick above it) and fill at once as taker; what the book cannot fill expires.
* Limit orders that cross the book fill as taker at once (up to their price); the rest rests
  (``GTC``; ``IOC``/``FOK`` expire) and fills as maker at its price when the replayed price crosses it
  (the high/low of the data candles passed since the last look, see :func:`price_range`).
* Fees: the market's taker/maker rate, charged in the asset received (base on buys, quote on sells),
  as Binance does without BNB.
* Filters: ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``PRICE_FILTER`` and ``NOTIONAL`` answer Binance's
  -1013 ``Filter failure: ...``; missing funds -2010.

Amounts are :class:`~decimal.Decimal`. One lock guards the whole store; state can be persisted to a
JSON file after every change (``path``) so a restarted bot finds the same account.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from freqtrade_smartfolio.exchange.faults import Fault
from freqtrade_smartfolio.exchange.feed import Feed, FeedError
from freqtrade_smartfolio.exchange.markets import MarketRules

ZERO = Decimal(0)
EIGHT = Decimal("1e-8")
KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
MAX_BOOK_LEVELS = 100
MAX_OPEN_ORDERS = 200
STATE_VERSION = 1


class OrderError(Exception):
    """An order request Binance would refuse: HTTP ``status`` with ``code`` and ``msg``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def dec(value: str | float | int | Decimal) -> Decimal:
    """A Decimal from a string/number (floats through their shortest repr)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def fmt(value: Decimal) -> str:
    """Binance's 8-decimal string."""
    return f"{value.quantize(EIGHT, ROUND_HALF_UP):f}"


def generate_key(length: int = 64) -> str:
    """A random alphanumeric string shaped like a Binance API key or secret."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def parse_balances(text: str | Mapping[str, Any]) -> dict[str, Decimal]:
    """``"USDT=10000,BTC=0.1"`` or ``{"USDT": 10000}`` -> ``{"USDT": Decimal("10000"), ...}``."""
    items: Iterable[tuple[str, Any]]
    if isinstance(text, Mapping):
        items = text.items()
    else:
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            asset, sep, amount = part.partition("=")
            if not sep:
                raise ValueError(f"balance {part!r} is not ASSET=AMOUNT (e.g. USDT=10000)")
            items.append((asset, amount))
    out: dict[str, Decimal] = {}
    for asset, amount in items:
        name = str(asset).strip().upper()
        if not name.isalnum():
            raise ValueError(f"asset {asset!r} must be letters and digits (e.g. USDT)")
        try:
            value = dec(str(amount).strip())
        except InvalidOperation as err:
            raise ValueError(f"balance of {name}: {amount!r} is not a number") from err
        if not value.is_finite() or value < 0:
            raise ValueError(f"balance of {name} must be a number >= 0, got {amount!r}")
        out[name] = value
    return out


def parse_account_spec(spec: str) -> tuple[str, str, dict[str, Decimal]]:
    """``KEY:SECRET:USDT=10000,BTC=0.1`` (KEY and SECRET may be empty: generated) -> parts."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"account {spec!r} is not KEY:SECRET:ASSET=AMOUNT,... (KEY/SECRET may be empty)")
    key, secret, balances = parts
    return key, secret, parse_balances(balances)


@dataclass
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    asset: str
    trade_id: int
    maker: bool
    time: int


@dataclass
class Order:
    """One spot order; quantities are Decimals, times epoch ms (wall clock)."""

    order_id: int
    key: str
    coin: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    orig_quote_qty: Decimal
    client_order_id: str
    time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    locked: Decimal = ZERO  # funds still reserved (quote on buys, base on sells)
    fills: list[Fill] = field(default_factory=list)
    # where the replay stood when the order was last matched (for limit crossings)
    last_data_ms: float = 0.0
    last_price: float = 0.0
    # fault plan: held orders do not fill until released; "never" ones not at all
    hold_until_ms: int | None = None
    hold_requests: int | None = None
    never: bool = False
    expire_rest: bool = False
    requests_seen: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def held(self) -> bool:
        return self.never or self.hold_until_ms is not None or self.hold_requests is not None


@dataclass
class Account:
    key: str
    secret: str
    free: dict[str, Decimal]
    locked: dict[str, Decimal] = field(default_factory=dict)
    uid: int = 0
    update_time: int = 0

    def total(self, asset: str) -> Decimal:
        return self.free.get(asset, ZERO) + self.locked.get(asset, ZERO)


@dataclass(frozen=True)
class Credentials:
    """An account's API key and secret (fake: valid on the offline exchange only)."""

    key: str
    secret: str


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


class AccountStore:
    """Accounts by API key, their orders and trades; the matching engine over a :class:`Feed`."""

    def __init__(self, feed: Feed, path: Path | str | None = None) -> None:
        self.feed = feed
        self.path = Path(path) if path is not None else None
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.trades: list[tuple[str, Fill, Order]] = []  # (key, fill, order) in time order
        self._next_order = 1
        self._next_trade = 1
        if self.path is not None and self.path.is_file():
            self.load(self.path)

    # ---- accounts ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """True once an account exists (private endpoints are served only then)."""
        return bool(self.accounts)

    def create(
        self,
        balances: Mapping[str, Any] | str | None = None,
        key: str | None = None,
        secret: str | None = None,
    ) -> Credentials:
        """Add an account (key/secret generated when empty); an existing key keeps its state."""
        key = key or generate_key()
        secret = secret or generate_key()
        if not KEY_RE.match(key) or not KEY_RE.match(secret):
            raise ValueError("API key and secret must be 1-128 letters and digits")
        with self.lock:
            existing = self.accounts.get(key)
            if existing is not None:
                if existing.secret != secret:
                    raise ValueError(f"an account with key {key[:6]}... exists with another secret")
                return Credentials(key, secret)
            self.accounts[key] = Account(
                key,
                secret,
                parse_balances(balances or {}),
                uid=len(self.accounts) + 1,
                update_time=self.now(),
            )
            self.save()
        return Credentials(key, secret)

    def account(self, key: str) -> Account | None:
        with self.lock:
            return self.accounts.get(key)

    def balances(self, key: str) -> dict[str, float]:
        """Total (free + locked) balances of an account as floats, non-zero ones only."""
        with self.lock:
            acc = self._get(key)
            self.sync(acc, count_request=False)
            assets = set(acc.free) | set(acc.locked)
            return {a: float(acc.total(a)) for a in sorted(assets) if acc.total(a) != 0}

    def _get(self, key: str) -> Account:
        acc = self.accounts.get(key)
        if acc is None:
            raise KeyError(f"no account with API key {key[:6]}...")
        return acc

    def now(self) -> int:
        return int(self.feed.clock.now())

    # ---- market access -------------------------------------------------------------------------
    def rules(self, coin: str) -> MarketRules:
        return self.feed.store.rules(coin)

    def _book(self, coin: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        try:
            bids, asks = self.feed.book(coin, MAX_BOOK_LEVELS)
        except FeedError as err:
            raise OrderError(-1013, "Market is closed.") from err
        return [(dec(p), dec(q)) for p, q in bids], [(dec(p), dec(q)) for p, q in asks]

    def _price(self, coin: str) -> float:
        try:
            return self.feed.price(coin)
        except FeedError as err:
            raise OrderError(-1013, "Market is closed.") from err

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

    def get(self, key: str, coin: str, order_id: int | None, client_order_id: str | None) -> Order:
        with self.lock:
            order = self._find(key, coin, order_id, client_order_id)
            if order is None:
                raise OrderError(-2013, "Order does not exist.")
            return order

    def _find(self, key: str, coin: str, order_id: int | None, client_order_id: str | None) -> Order | None:
        symbol = self.rules(coin).exchange_id
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order is not None and order.key == key and order.symbol == symbol else None
        matches = [
            o
            for o in self.orders.values()
            if o.key == key and o.symbol == symbol and o.client_order_id == client_order_id
        ]
        return max(matches, key=lambda o: o.order_id) if matches else None

    def open_orders(self, key: str, coin: str | None) -> list[Order]:
        with self.lock:
            symbol = None if coin is None else self.rules(coin).exchange_id
            return [
                o for o in self.orders.values() if o.key == key and o.is_open and symbol in (None, o.symbol)
            ]

    def all_orders(self, key: str, coin: str) -> list[Order]:
        with self.lock:
            symbol = self.rules(coin).exchange_id
            return [o for o in self.orders.values() if o.key == key and o.symbol == symbol]

    def my_trades(self, key: str, coin: str) -> list[tuple[Fill, Order]]:
        with self.lock:
            symbol = self.rules(coin).exchange_id
            return [(f, o) for k, f, o in self.trades if k == key and o.symbol == symbol]

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

    # ---- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def order_json(o: Order) -> dict[str, Any]:
            data = asdict(o)
            data["fills"] = [
                {**asdict(f), "price": str(f.price), "qty": str(f.qty), "commission": str(f.commission)}
                for f in o.fills
            ]
            for name in ("orig_qty", "price", "orig_quote_qty", "executed_qty", "cum_quote", "locked"):
                data[name] = str(data[name])
            return data

        with self.lock:
            return {
                "version": STATE_VERSION,
                "next_order": self._next_order,
                "next_trade": self._next_trade,
                "accounts": [
                    {
                        "key": a.key,
                        "secret": a.secret,
                        "uid": a.uid,
                        "update_time": a.update_time,
                        "free": {k: str(v) for k, v in a.free.items()},
                        "locked": {k: str(v) for k, v in a.locked.items()},
                    }
                    for a in self.accounts.values()
                ],
                "orders": [order_json(o) for o in self.orders.values()],
            }

    def save(self) -> None:
        """Write the state to ``path`` (atomically, owner-only: it holds the fake secrets)."""
        if self.path is None:
            return
        data = json.dumps(self.to_json(), indent=1)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(data)
        os.replace(tmp, self.path)

    def load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except ValueError as err:
            raise ValueError(f"account state {path} is not JSON ({err}); delete it to start afresh") from err
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"account state {path} has version {data.get('version')!r}, expected {STATE_VERSION}"
            )
        with self.lock:
            self._next_order, self._next_trade = int(data["next_order"]), int(data["next_trade"])
            for a in data["accounts"]:
                self.accounts[a["key"]] = Account(
                    a["key"],
                    a["secret"],
                    {k: dec(v) for k, v in a["free"].items()},
                    {k: dec(v) for k, v in a["locked"].items()},
                    uid=int(a["uid"]),
                    update_time=int(a["update_time"]),
                )
            trades: list[tuple[str, Fill, Order]] = []
            for o in data["orders"]:
                fills = [
                    Fill(
                        dec(f["price"]),
                        dec(f["qty"]),
                        dec(f["commission"]),
                        f["asset"],
                        f["trade_id"],
                        f["maker"],
                        f["time"],
                    )
                    for f in o.pop("fills")
                ]
                for name in ("orig_qty", "price", "orig_quote_qty", "executed_qty", "cum_quote", "locked"):
                    o[name] = dec(o[name])
                order = Order(**o, fills=fills)
                self.orders[order.order_id] = order
                trades += [(order.key, f, order) for f in fills]
            self.trades = sorted(trades, key=lambda t: t[1].trade_id)

    def load_accounts_file(self, path: Path | str) -> list[Credentials]:
        """Create the accounts of a JSON file ``[{"key": .., "secret": .., "balances": {..}}, ...]``
        (or ``{"accounts": [...]}``); existing keys keep their state."""
        data = json.loads(Path(path).read_text())
        items = data.get("accounts", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of accounts or {{'accounts': [...]}}")
        return [self.create(i.get("balances", {}), i.get("key"), i.get("secret")) for i in items]
