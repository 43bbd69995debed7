"""Binance's spot delisting schedule on the offline exchange (``GET /sapi/v1/spot/delist-schedule``).

A delisting is configured as ``COIN=TIME`` or ``COIN=TIME@ANNOUNCED`` (``--delist``, the accounts
file's ``"delist"`` map, ``OfflineExchange(delistings=...)`` or :meth:`DelistSchedule.add`). Times are
on the exchange's timeline: data times on the replay clock (the answer converts them to the served,
wall-clock dates freqtrade sees), plain UTC times on the historical clock (served dates are the data's
own dates there, and "now" is the wall clock).

* From ``ANNOUNCED`` (default: always) until ``TIME`` the coin is in the schedule's answer,
  ``[{"delistTime": <ms>, "symbols": ["SOLUSDT"]}]``, as Binance announces a delisting days ahead.
* From ``TIME`` on the market is closed: it drops out of the answer, no candle opens at or after
  ``TIME`` (klines end, the price stays at the last close) and new orders are refused with
  ``-1013 Market is closed.``, as Binance does once a pair is delisted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freqtrade_smartfolio.exchange.feed import parse_time

if TYPE_CHECKING:
    from freqtrade_smartfolio.exchange.feed import Feed


@dataclass(frozen=True)
class Delisting:
    """One coin's delisting: the market closes at ``at_ms``, announced from ``announced_ms`` (data
    times on the replay clock; ``None``: announced from the start)."""

    coin: str
    at_ms: int
    announced_ms: int | None = None


def _time(text: str, what: str, spec: str) -> int:
    try:
        return parse_time(text.strip())
    except ValueError:
        raise ValueError(
            f"delisting {spec!r}: {what} {text!r} is not a time; use ISO format like 2024-03-01T00:00"
        ) from None


def parse_delisting(spec: str) -> Delisting:
    """``SOL=2024-02-29T00:00`` or ``SOL=2024-02-29T00:00@2024-02-27T12:00`` -> :class:`Delisting`."""
    coin, sep, rest = str(spec).partition("=")
    coin = coin.strip().upper()
    if not sep or not coin.isalnum() or not rest.strip():
        raise ValueError(
            f"delisting {spec!r} is not COIN=TIME[@ANNOUNCED], e.g. SOL=2024-02-29T00:00@2024-02-27T12:00"
        )
    when, _, announced = rest.partition("@")
    at_ms = _time(when, "TIME", spec)
    announced_ms = _time(announced, "ANNOUNCED", spec) if announced.strip() else None
    if announced_ms is not None and announced_ms >= at_ms:
        raise ValueError(f"delisting {spec!r}: ANNOUNCED must come before TIME")
    return Delisting(coin, at_ms, announced_ms)


def parse_delist_map(data: Any, source: str) -> list[Delisting]:
    """The accounts file's ``"delist"``: ``{"SOL": "TIME[@ANNOUNCED]"}`` or ``["SOL=TIME", ...]``."""
    if isinstance(data, dict):
        return [parse_delisting(f"{coin}={when}") for coin, when in data.items()]
    if isinstance(data, list):
        return [parse_delisting(str(spec)) for spec in data]
    raise ValueError(f'{source}: "delist" must map coins to times, e.g. {{"SOL": "2024-02-29T00:00"}}')


class DelistSchedule:
    """The delistings the exchange announces and enforces (thread-safe; see the module docstring)."""

    def __init__(self, feed: Feed, items: list[Delisting] | None = None) -> None:
        self.feed = feed
        self._lock = threading.Lock()
        self._items: dict[str, Delisting] = {}
        for item in items or []:
            self.put(item)

    def put(self, item: Delisting) -> Delisting:
        """Announce (or move) ``item``; the coin must have candles here."""
        if item.coin not in self.feed.store.coins:
            raise ValueError(
                f"delisting {item.coin}: no {item.coin}{self.feed.store.quote} candles in the data"
            )
        with self._lock:
            self._items[item.coin] = item
            self.feed.market_close[item.coin] = item.at_ms
        return item

    def add(self, coin: str, at: str | int, announced: str | int | None = None) -> Delisting:
        """Delist ``coin`` at ``at`` (ISO time or epoch ms), announced from ``announced`` (default:
        from now on)."""
        when = parse_time(at)
        shown = None if announced is None else parse_time(announced)
        if shown is not None and shown >= when:
            raise ValueError(f"delisting {coin}: announced must come before the delisting time")
        return self.put(Delisting(coin.upper(), when, shown))

    def remove(self, coin: str) -> None:
        """Call the delisting off: the coin trades on."""
        with self._lock:
            self._items.pop(coin.upper(), None)
            self.feed.market_close.pop(coin.upper(), None)

    def items(self) -> list[Delisting]:
        with self._lock:
            return sorted(self._items.values(), key=lambda d: (d.at_ms, d.coin))

    def now(self) -> float:
        """Now on the schedule's timeline: the data clock (replay), else the wall clock."""
        clock = self.feed.clock
        return clock.data_now() if clock.replay else float(clock.now())

    def closed(self, coin: str) -> bool:
        """True once ``coin``'s market is delisted (its delisting time has passed)."""
        with self._lock:
            item = self._items.get(coin)
        return item is not None and self.now() >= item.at_ms

    def answer(self) -> list[dict[str, Any]]:
        """Binance's answer: announced delistings still to come, grouped by time (served dates)."""
        now = self.now()
        groups: dict[int, list[str]] = {}
        for item in self.items():
            if now >= item.at_ms or (item.announced_ms is not None and now < item.announced_ms):
                continue
            served = int(self.feed.clock.to_served(item.at_ms))
            groups.setdefault(served, []).append(self.feed.store.rules(item.coin).exchange_id)
        return [{"delistTime": when, "symbols": symbols} for when, symbols in sorted(groups.items())]
