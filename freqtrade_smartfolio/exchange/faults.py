"""Fault injection for the offline exchange: slow, failing, rate-limited or rejecting answers and orders
that fill partially, late or never, switchable per test.

A :class:`Fault` targets requests by ``endpoint`` (path), ``method``, ``symbol``, ``side`` and API
``key`` (each ``None`` = any) and fires ``count`` times (``None`` = until removed) after letting
``skip`` matching requests through. :class:`FaultSet` holds them, thread-safe::

    ex.faults.add("rate_limit", endpoint="/api/v3/order", count=1, retry_after=2)
    with ex.faults.inject("never_fill", side="SELL"):
        ...

Kinds, by the phase they act in:

* transport (before authentication): ``timeout`` (sleep ``delay`` s, then answer normally, or with
  -1007 when ``process`` is false), ``server_error`` (HTTP ``status``, default 503, non-JSON body like
  a gateway), ``rate_limit`` (HTTP 429 or 418, ``Retry-After: retry_after``, code -1003), ``error``
  (any ``status``/``code``/``msg``).
* rejection (after authentication; default endpoint ``POST /api/v3/order``): ``insufficient_balance``
  (-2010), ``min_notional`` (-1013 ``Filter failure: NOTIONAL``), ``lot_size`` (-1013
  ``Filter failure: LOT_SIZE``), ``price_filter`` (-1013 ``Filter failure: PRICE_FILTER``).
* order behaviour (applied to new orders): ``partial`` (fill ``ratio`` now, the rest ``rest`` =
  ``later`` / ``never`` / ``expire``), ``late`` (no fill until ``after_seconds`` wall seconds or
  ``after_requests`` signed requests of the account have passed), ``never_fill`` (rests until
  cancelled).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

TRANSPORT_KINDS = ("timeout", "server_error", "rate_limit", "error")
REJECTION_KINDS = ("insufficient_balance", "min_notional", "lot_size", "price_filter")
ORDER_KINDS = ("partial", "late", "never_fill")
KINDS = TRANSPORT_KINDS + REJECTION_KINDS + ORDER_KINDS
ORDER_ENDPOINT = "/api/v3/order"

#: Binance's answers for the rejection kinds: (HTTP status, code, message).
REJECTIONS: dict[str, tuple[int, int, str]] = {
    "insufficient_balance": (400, -2010, "Account has insufficient balance for requested action."),
    "min_notional": (400, -1013, "Filter failure: NOTIONAL"),
    "lot_size": (400, -1013, "Filter failure: LOT_SIZE"),
    "price_filter": (400, -1013, "Filter failure: PRICE_FILTER"),
}
_ids = itertools.count(1)


class FaultError(ValueError):
    """A fault definition that cannot work (unknown kind or field, bad value)."""


@dataclass
class Fault:
    """One injected fault; see the module docstring for the kinds and their fields."""

    kind: str
    endpoint: str | None = None
    method: str | None = None
    symbol: str | None = None
    side: str | None = None
    key: str | None = None
    count: int | None = 1
    skip: int = 0
    delay: float = 15.0
    process: bool = True
    status: int | None = None
    code: int | None = None
    msg: str | None = None
    retry_after: int = 1
    ratio: float = 0.5
    rest: str = "later"
    after_seconds: float | None = None
    after_requests: int | None = None
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.count is not None and self.count < 0:
            raise FaultError(f"count={self.count} must be >= 0 (or null for unlimited)")
        if self.skip < 0 or self.delay < 0 or self.retry_after < 0:
            raise FaultError("skip, delay and retry_after must be >= 0")
        if not 0.0 <= self.ratio < 1.0:
            raise FaultError(f"ratio={self.ratio} must be in [0, 1): the part of a partial order filled now")
        if self.rest not in ("later", "never", "expire"):
            raise FaultError(f"rest={self.rest!r} must be 'later', 'never' or 'expire'")
        if self.kind == "rate_limit" and self.status not in (None, 418, 429):
            raise FaultError("rate_limit status must be 429 (rate limit) or 418 (IP ban)")
        if self.kind == "error" and (self.status is None or self.code is None):
            raise FaultError("an 'error' fault needs status and code (and usually msg)")
        if self.method is not None:
            self.method = self.method.upper()
        if self.side is not None:
            self.side = self.side.upper()
        if self.symbol is not None:
            self.symbol = self.symbol.replace("/", "").upper()
        if self.endpoint is None and self.kind in REJECTION_KINDS + ORDER_KINDS:
            self.endpoint = ORDER_ENDPOINT
            self.method = self.method or "POST"
        if self.kind == "late" and self.after_seconds is None and self.after_requests is None:
            self.after_seconds = 5.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """A fault from a JSON object (the ``POST /offline/faults`` body); unknown fields are refused."""
        if not isinstance(data, dict):
            raise FaultError(f"a fault is a JSON object with a 'kind', got {type(data).__name__}")
        allowed = {f.name for f in fields(cls)} - {"id", "hits", "seen"}
        unknown = set(data) - allowed
        if unknown:
            raise FaultError(f"unknown fault field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        if "kind" not in data:
            raise FaultError(f"a fault needs a 'kind' (one of {', '.join(KINDS)})")
        try:
            return cls(**data)
        except TypeError as err:
            raise FaultError(str(err)) from err

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def spent(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, method: str, path: str, query: dict[str, str], key: str | None) -> bool:
        if self.spent:
            return False
        if self.endpoint is not None and self.endpoint.rstrip("/") != path.rstrip("/"):
            return False
        if self.method is not None and self.method != method:
            return False
        if self.symbol is not None and self.symbol != (query.get("symbol") or "").upper():
            return False
        if self.side is not None and self.side != (query.get("side") or "").upper():
            return False
        return self.key is None or self.key == key


class FaultSet:
    """The active faults of one server (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str | Fault, **options: Any) -> Fault:
        """Add a fault (``add("timeout", delay=2, endpoint="/api/v3/account")``) and return it."""
        fault = kind if isinstance(kind, Fault) else Fault.from_json({"kind": kind, **options})
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault | int) -> None:
        fid = fault if isinstance(fault, int) else fault.id
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fid]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @contextlib.contextmanager
    def inject(self, kind: str, **options: Any) -> Iterator[Fault]:
        """Active inside the ``with`` block only."""
        fault = self.add(kind, **options)
        try:
            yield fault
        finally:
            self.remove(fault)

    def take(
        self, kinds: tuple[str, ...], method: str, path: str, query: dict[str, str], key: str | None = None
    ) -> Fault | None:
        """The first fault of ``kinds`` matching the request, counted as fired (``None`` if none fires)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path, query, key):
                    fault.seen += 1
                    if fault.seen <= fault.skip:
                        continue
                    fault.hits += 1
                    return fault
        return None
