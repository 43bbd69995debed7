"""The offline exchange's request, route and error types, shared by the endpoints (:mod:`.public`,
:mod:`.control`, :mod:`.private`, :mod:`.wallet`) and the server that routes to them (:mod:`.app`),
so that none imports another's module for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from freqtrade_smartfolio.exchange.accounts import Account
    from freqtrade_smartfolio.exchange.delisting import DelistSchedule
    from freqtrade_smartfolio.exchange.faults import FaultSet
    from freqtrade_smartfolio.exchange.feed import Feed
    from freqtrade_smartfolio.exchange.persistence import AccountStore


class Venue(Protocol):
    """What an endpoint handler reads: the replayed market, the accounts, faults and delistings."""

    feed: Feed
    accounts: AccountStore
    faults: FaultSet
    delistings: DelistSchedule

    def _coin(self, symbol: str) -> str: ...


class ApiError(Exception):
    """A Binance-style error answer: HTTP ``status`` with ``{"code": code, "msg": msg}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class Request:
    """One parsed HTTP request (query values are the last given for each name; the query string wins
    over the form body, as on Binance). ``raw_query`` and ``body`` are what the signature covers;
    ``account`` is set once a signed request is authenticated."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw_query: str = ""
    client: str = "127.0.0.1"
    account: Account | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def require(self, name: str) -> str:
        value = self.query.get(name)
        if value is None or value == "":
            raise ApiError(
                400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.query.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError as err:
            raise ApiError(
                400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]+$'."
            ) from err


Handler = Callable[[Any, Request], Any]


@dataclass(frozen=True)
class Route:
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    signed: bool = False  # private endpoints: X-MBX-APIKEY + HMAC-SHA256 signature (see .private)


@dataclass
class RawBody:
    """A non-JSON answer (e.g. a gateway's 502 page)."""

    text: str
    content_type: str = "text/html"
