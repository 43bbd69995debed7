"""Spot accounts of the offline exchange: balances per API key, orders, fills and fees, like Binance.

This module holds the accounts and their orders (:class:`Accounts`, in memory, and the records);
:mod:`.matching` adds the matching engine and :mod:`.persistence` the state file, which together make
:class:`~.persistence.AccountStore`, the store the server uses.


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

import re
import secrets
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from freqtrade_smartfolio.exchange.feed import Feed, FeedError
from freqtrade_smartfolio.exchange.markets import MarketRules

ZERO = Decimal(0)
EIGHT = Decimal("1e-8")
KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
MAX_BOOK_LEVELS = 100
MAX_OPEN_ORDERS = 200


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


class Accounts:
    """Accounts by API key, their orders and trades, in memory. :class:`~.matching.Matching` adds the
    matching engine (:meth:`sync` then settles resting orders), :class:`~.persistence.AccountStore`
    the state file (:meth:`save` then writes it)."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.trades: list[tuple[str, Fill, Order]] = []  # (key, fill, order) in time order
        self._next_order = 1
        self._next_trade = 1

    def save(self) -> None:
        """Persist the state: nothing to do in memory (:class:`~.persistence.AccountStore` writes it)."""

    def sync(self, acc: Account, count_request: bool = True) -> None:
        """Settle what came due for ``acc``: nothing without a matching engine (:mod:`.matching`)."""

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
