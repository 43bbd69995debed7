"""A local HTTP server speaking Binance's spot REST API (FastAPI on uvicorn, as freqtrade's own API).

Public endpoints live in :data:`ROUTES` (``path -> Route``), signed ones in :data:`PRIVATE_ROUTES`
(``(method, path) -> Route``, see :mod:`.private`): they are served once an account exists
(:class:`~.persistence.AccountStore`) and authenticated like Binance's. ``/offline/*`` are the
server's own control endpoints (clock, faults, accounts), answered to loopback clients only.
Faults (:mod:`.faults`) are applied in :meth:`OfflineExchangeServer.answer`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response

from freqtrade_smartfolio.exchange import private
from freqtrade_smartfolio.exchange.accounts import Credentials, parse_account_spec
from freqtrade_smartfolio.exchange.delisting import (
    Delisting,
    DelistSchedule,
    parse_delist_map,
    parse_delisting,
)
from freqtrade_smartfolio.exchange.faults import (
    REJECTION_KINDS,
    REJECTIONS,
    TRANSPORT_KINDS,
    Fault,
    FaultError,
    FaultSet,
)
from freqtrade_smartfolio.exchange.feed import CandleStore, Clock, Feed, FeedError, parse_time, timeframe_ms
from freqtrade_smartfolio.exchange.markets import MarketRules
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.wire import ApiError, RawBody, Request, Route

logger = logging.getLogger(__name__)

#: ccxt's binance ``urls['api']`` keys and the path each one points to on api.binance.com & co.
CCXT_API_PATHS: dict[str, str] = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}
ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
MAX_BOOK_LEVELS = 100


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{max(decimals, 8)}f}"


class Api:
    """The Binance endpoints, answering from a :class:`Feed`."""

    def __init__(
        self,
        feed: Feed,
        accounts: AccountStore | None = None,
        faults: FaultSet | None = None,
        delistings: DelistSchedule | None = None,
    ) -> None:
        self.feed = feed
        self.accounts = accounts if accounts is not None else AccountStore(feed)
        self.faults = faults if faults is not None else FaultSet()
        self.delistings = delistings if delistings is not None else DelistSchedule(feed)
        self._info: list[dict[str, Any]] | None = None
        self._info_lock = threading.Lock()

    # ---- helpers -------------------------------------------------------------------------------
    def _coin(self, symbol: str) -> str:
        try:
            return self.feed.coin_of(symbol)
        except FeedError as err:
            raise ApiError(400, err.code, "Invalid symbol.") from err

    def _rules(self, coin: str) -> MarketRules:
        return self.feed.store.rules(coin)

    def _symbols(self, req: Request) -> list[str] | None:
        """Coins of ``symbol=`` or ``symbols=["A","B"]``; ``None`` means all."""
        if (one := req.get("symbol")) is not None:
            return [self._coin(one)]
        if (many := req.get("symbols")) is not None:
            try:
                names = json.loads(many)
                assert isinstance(names, list)
            except (ValueError, AssertionError) as err:
                raise ApiError(400, -1100, "Illegal characters found in parameter 'symbols'.") from err
            return [self._coin(str(name)) for name in names]
        return None

    def _each(self, req: Request, build: Callable[[str], dict[str, Any]]) -> Any:
        coins = self._symbols(req)
        single = req.get("symbol") is not None
        if coins is None:
            coins = []
            for coin in self.feed.store.coins:
                try:
                    self.feed.price(coin)
                except FeedError:
                    continue  # not listed yet at the replay clock
                coins.append(coin)
        answers = [build(coin) for coin in coins]
        return answers[0] if single else answers

    def symbol_info(self, coin: str) -> dict[str, Any]:
        r = self._rules(coin)
        pd_, ad = r.price_decimals, r.amount_decimals
        return {
            "symbol": r.exchange_id,
            "status": "TRADING",
            "baseAsset": r.base,
            "baseAssetPrecision": 8,
            "quoteAsset": r.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ORDER_TYPES,
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "amendAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _fmt(r.tick_size, pd_),
                    "maxPrice": _fmt(1_000_000.0, pd_),
                    "tickSize": _fmt(r.tick_size, pd_),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": _fmt(r.min_qty, ad),
                    "maxQty": _fmt(r.max_qty, ad),
                    "stepSize": _fmt(r.step_size, ad),
                },
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": _fmt(0.0, ad),
                    "maxQty": _fmt(r.max_qty / 10, ad),
                    "stepSize": _fmt(0.0, ad),
                },
                {
                    "filterType": "MIN_NOTIONAL",
                    "minNotional": _fmt(r.min_notional, 8),
                    "applyToMarket": True,
                    "avgPriceMins": 5,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _fmt(r.min_notional, 8),
                    "applyMinToMarket": True,
                    "maxNotional": _fmt(9_000_000.0, 8),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def all_symbol_info(self) -> list[dict[str, Any]]:
        """Every coin's exchangeInfo entry (computed once, then cached)."""
        with self._info_lock:
            if self._info is None:
                started = time.perf_counter()
                self._info = [self.symbol_info(coin) for coin in self.feed.store.coins]
                logger.info(
                    "market rules of %d symbols in %.2fs", len(self._info), time.perf_counter() - started
                )
            return self._info

    # ---- endpoints -----------------------------------------------------------------------------
    def ping(self, req: Request) -> Any:
        return {}

    def time(self, req: Request) -> Any:
        return {"serverTime": self.feed.clock.now()}

    def exchange_info(self, req: Request) -> Any:
        coins = self._symbols(req)
        if coins is None:
            symbols = self.all_symbol_info()
        else:
            wanted = {self._rules(c).exchange_id for c in coins}
            symbols = [s for s in self.all_symbol_info() if s["symbol"] in wanted]
        return {
            "timezone": "UTC",
            "serverTime": self.feed.clock.now(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def offline_status(self, req: Request) -> Any:
        """Not Binance: the clock of the offline exchange."""
        clock = self.feed.clock
        data_now = clock.data_now()
        return {
            "clock": clock.describe(),
            "replay": clock.replay,
            "speed": clock.speed,
            "dataTime": None if not clock.replay else int(data_now),
            "serverTime": clock.now(),
            "symbols": len(self.feed.store.coins),
            "datadir": str(self.feed.store.datadir),
        }

    def offline_faults(self, req: Request) -> Any:
        """Not Binance: ``GET`` lists the faults, ``POST`` adds one (JSON object) or several (list),
        ``DELETE`` removes one (``?id=``) or all."""
        if req.method == "GET":
            return [f.to_json() for f in self.faults.list()]
        if req.method == "DELETE":
            fid = req.integer("id")
            if fid is None:
                self.faults.clear()
            else:
                self.faults.remove(fid)
            return [f.to_json() for f in self.faults.list()]
        data = _json_body(req)
        try:
            added = [
                self.faults.add(Fault.from_json(item))
                for item in (data if isinstance(data, list) else [data])
            ]
        except FaultError as err:
            raise ApiError(400, -1100, f"bad fault: {err}") from err
        return [f.to_json() for f in added]

    def offline_delistings(self, req: Request) -> Any:
        """Not Binance: the delisting schedule (see :mod:`.delisting`). ``GET`` lists it, ``POST``
        ``{"SOL": "2024-02-29T00:00@2024-02-27T12:00"}`` announces (or moves) delistings,
        ``DELETE ?coin=SOL`` calls one off."""
        if req.method == "POST":
            try:
                for item in parse_delist_map(_json_body(req), "body"):
                    self.delistings.put(item)
            except ValueError as err:
                raise ApiError(400, -1100, str(err)) from err
        elif req.method == "DELETE":
            self.delistings.remove(req.require("coin"))
        return [
            {
                "coin": d.coin,
                "delistTime": d.at_ms,
                "announced": d.announced_ms,
                "closed": self.delistings.closed(d.coin),
            }
            for d in self.delistings.items()
        ]

    def offline_accounts(self, req: Request) -> Any:
        """Not Binance: ``GET`` lists accounts (key and total balances, never the secret); ``POST``
        ``{"balances": {"USDT": 1000}, "key": .., "secret": ..}`` creates one and returns its
        credentials (key and secret generated when omitted)."""
        if req.method == "GET":
            return [
                {"key": key, "balances": {a: str(v) for a, v in self.accounts.balances(key).items()}}
                for key in list(self.accounts.accounts)
            ]
        data = _json_body(req)
        if not isinstance(data, dict):
            raise ApiError(400, -1100, 'expected a JSON object {"balances": {...}, "key": .., "secret": ..}')
        try:
            creds = self.accounts.create(data.get("balances", {}), data.get("key"), data.get("secret"))
        except ValueError as err:
            raise ApiError(400, -1100, str(err)) from err
        return {"key": creds.key, "secret": creds.secret}

    def klines(self, req: Request) -> Any:
        coin = self._coin(req.require("symbol"))
        interval = req.require("interval")
        limit = req.integer("limit", 500) or 500
        if not 1 <= limit <= 1000:
            raise ApiError(400, -1130, f"Invalid data sent for a parameter: limit={limit} (1 to 1000).")
        try:
            candles = self.feed.klines(
                coin, interval, req.integer("startTime"), req.integer("endTime"), limit
            )
        except FeedError as err:
            raise ApiError(400, err.code, str(err)) from err
        step = timeframe_ms(interval)
        dec = self._rules(coin).price_decimals
        rows = []
        for i in range(len(candles)):
            t = int(candles.t[i])
            v, qv = float(candles.v[i]), float(candles.qv[i])
            rows.append(
                [
                    t,
                    _fmt(float(candles.o[i]), dec),
                    _fmt(float(candles.h[i]), dec),
                    _fmt(float(candles.low[i]), dec),
                    _fmt(float(candles.c[i]), dec),
                    f"{v:.8f}",
                    t + step - 1,
                    f"{qv:.8f}",
                    int(candles.rows[i]) * 100,
                    f"{v / 2:.8f}",
                    f"{qv / 2:.8f}",
                    "0",
                ]
            )
        return rows

    def _book_top(self, coin: str) -> dict[str, Any]:
        bids, asks = self.feed.book(coin, 1)
        dec, ad = self._rules(coin).price_decimals, self._rules(coin).amount_decimals
        return {
            "bidPrice": _fmt(bids[0][0], dec) if bids else _fmt(0.0, dec),
            "bidQty": _fmt(bids[0][1], ad) if bids else _fmt(0.0, ad),
            "askPrice": _fmt(asks[0][0], dec),
            "askQty": _fmt(asks[0][1], ad),
        }

    def ticker_24hr(self, req: Request) -> Any:
        def build(coin: str) -> dict[str, Any]:
            stats = self.feed.stats_24h(coin)
            r = self._rules(coin)
            dec = r.price_decimals
            now = self.feed.clock.now()
            change = stats["last"] - stats["open"]
            vwap = stats["quote_volume"] / stats["volume"] if stats["volume"] > 0 else stats["last"]
            top = self._book_top(coin)
            return {
                "symbol": r.exchange_id,
                "priceChange": _fmt(change, dec),
                "priceChangePercent": f"{100 * change / stats['open']:.3f}" if stats["open"] else "0.000",
                "weightedAvgPrice": _fmt(vwap, dec),
                "prevClosePrice": _fmt(stats["open"], dec),
                "lastPrice": _fmt(stats["last"], dec),
                "lastQty": _fmt(r.min_qty, r.amount_decimals),
                **top,
                "openPrice": _fmt(stats["open"], dec),
                "highPrice": _fmt(stats["high"], dec),
                "lowPrice": _fmt(stats["low"], dec),
                "volume": f"{stats['volume']:.8f}",
                "quoteVolume": f"{stats['quote_volume']:.8f}",
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }

        return self._each(req, build)

    def ticker_price(self, req: Request) -> Any:
        def build(coin: str) -> dict[str, Any]:
            r = self._rules(coin)
            return {"symbol": r.exchange_id, "price": _fmt(self._price(coin), r.price_decimals)}

        return self._each(req, build)

    def book_ticker(self, req: Request) -> Any:
        return self._each(req, lambda coin: {"symbol": self._rules(coin).exchange_id, **self._book_top(coin)})

    def avg_price(self, req: Request) -> Any:
        coin = self._coin(req.require("symbol"))
        price = self._price(coin)
        return {
            "mins": 5,
            "price": _fmt(price, self._rules(coin).price_decimals),
            "closeTime": self.feed.clock.now(),
        }

    def depth(self, req: Request) -> Any:
        coin = self._coin(req.require("symbol"))
        limit = req.integer("limit", 100) or 100
        if not 1 <= limit <= 5000:
            raise ApiError(400, -1130, f"Invalid data sent for a parameter: limit={limit} (1 to 5000).")
        try:
            bids, asks = self.feed.book(coin, min(limit, MAX_BOOK_LEVELS))
        except FeedError as err:
            raise ApiError(400, err.code, str(err)) from err
        r = self._rules(coin)
        return {
            "lastUpdateId": self.feed.clock.now(),
            "bids": [[_fmt(p, r.price_decimals), _fmt(q, r.amount_decimals)] for p, q in bids],
            "asks": [[_fmt(p, r.price_decimals), _fmt(q, r.amount_decimals)] for p, q in asks],
        }

    def _price(self, coin: str) -> float:
        try:
            return self.feed.price(coin)
        except FeedError as err:
            raise ApiError(400, err.code, str(err)) from err


ROUTES: dict[str, Route] = {
    "/api/v3/ping": Route(Api.ping),
    "/api/v3/time": Route(Api.time),
    "/api/v3/exchangeInfo": Route(Api.exchange_info),
    "/api/v3/klines": Route(Api.klines),
    "/api/v3/uiKlines": Route(Api.klines),
    "/api/v3/ticker/24hr": Route(Api.ticker_24hr),
    "/api/v3/ticker/price": Route(Api.ticker_price),
    "/api/v3/ticker/bookTicker": Route(Api.book_ticker),
    "/api/v3/avgPrice": Route(Api.avg_price),
    "/api/v3/depth": Route(Api.depth),
    "/offline/status": Route(Api.offline_status),
    "/offline/faults": Route(Api.offline_faults, methods=("GET", "POST", "DELETE")),
    "/offline/accounts": Route(Api.offline_accounts, methods=("GET", "POST")),
    "/offline/delistings": Route(Api.offline_delistings, methods=("GET", "POST", "DELETE")),
}

#: Signed endpoints by (method, path): spot account, orders, trades, fees, and the wallet calls
#: ccxt/freqtrade make once API keys are set.
PRIVATE_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/account"): Route(private.account, signed=True),
    ("POST", "/api/v3/order"): Route(private.new_order, ("POST",), signed=True),
    ("POST", "/api/v3/order/test"): Route(private.order_test, ("POST",), signed=True),
    ("GET", "/api/v3/order"): Route(private.get_order, signed=True),
    ("DELETE", "/api/v3/order"): Route(private.cancel_order, ("DELETE",), signed=True),
    ("GET", "/api/v3/openOrders"): Route(private.open_orders, signed=True),
    ("DELETE", "/api/v3/openOrders"): Route(private.cancel_open_orders, ("DELETE",), signed=True),
    ("GET", "/api/v3/allOrders"): Route(private.all_orders, signed=True),
    ("GET", "/api/v3/myTrades"): Route(private.my_trades, signed=True),
    ("GET", "/api/v3/account/commission"): Route(private.account_commission, signed=True),
    ("GET", "/sapi/v1/asset/tradeFee"): Route(private.trade_fee, signed=True),
    ("GET", "/sapi/v1/capital/config/getall"): Route(private.capital_config, signed=True),
    ("GET", "/sapi/v1/spot/delist-schedule"): Route(private.delist_schedule, signed=True),
    ("GET", "/sapi/v1/margin/allPairs"): Route(private.margin_pairs, signed=True),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): Route(private.margin_pairs, signed=True),
    ("GET", "/sapi/v1/account/status"): Route(private.account_status, signed=True),
    ("GET", "/sapi/v1/account/apiRestrictions"): Route(private.api_restrictions, signed=True),
}
PRIVATE_PATHS = {path for _, path in PRIVATE_ROUTES}
LOOPBACK_ONLY_PREFIX = "/offline/"


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"null")
    except ValueError as err:
        raise ApiError(400, -1100, f"body is not JSON: {err}") from err


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


SERVER_HEADER = "OfflineBinance/1.0"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]  # wrong ones: Binance's 405


class _Answer(Response):
    """A response whose header names are spelled as Binance's and the HTTP/1.1 convention have them
    (``Content-Type``, ``Retry-After``): ASGI lowercases them, which HTTP ignores but a plain ``dict``
    of the headers does not (uvicorn's h11 writes the names as given)."""

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        super().init_headers(headers)
        self.raw_headers = [
            (name.decode("latin-1").title().encode("latin-1"), v) for name, v in self.raw_headers
        ]


def build_app(server: OfflineExchangeServer) -> FastAPI:
    """The FastAPI app: one catch-all route handing every request to :meth:`OfflineExchangeServer.answer`
    (Binance's paths, codes and messages are the server's, not FastAPI's: no docs, no validation)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def dispatch(request: StarletteRequest) -> Response:
        started = time.perf_counter()
        body = await request.body()
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?")[0]
        query: dict[str, str] = {}
        if body and "application/x-www-form-urlencoded" in (request.headers.get("content-type") or ""):
            query.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
        query.update({k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()})
        req = Request(
            request.method,
            path,
            query,
            dict(request.headers.items()),
            body,
            raw_query=raw_query,
            client=request.client.host if request.client else "",
        )
        # handlers block (locks, injected delays): run them in the thread pool, as the stdlib server did
        status, payload, headers = await run_in_threadpool(server.answer, req)
        if isinstance(payload, RawBody):
            data, content_type = payload.text.encode(), payload.content_type
        else:
            data, content_type = (
                json.dumps(payload, separators=(",", ":")).encode(),
                "application/json;charset=UTF-8",
            )
        level = logging.DEBUG if status < 400 else logging.WARNING
        logger.log(
            level,
            "%s %s -> %d (%.1f ms)",
            request.method,
            path + (f"?{raw_query}" if raw_query else ""),
            status,
            1000 * (time.perf_counter() - started),
        )
        extra = {"Server": SERVER_HEADER, "Date": formatdate(usegmt=True), **headers}
        return _Answer(data, status, headers=extra, media_type=content_type)

    return app


class OfflineExchangeServer:
    """uvicorn serving :func:`build_app`, dispatching through :data:`ROUTES` and :data:`PRIVATE_ROUTES`.

    The socket is bound here (so a busy port fails at once); :meth:`serve_forever` runs uvicorn on it
    until :meth:`shutdown`."""

    def __init__(self, address: tuple[str, int], api: Api, routes: dict[str, Route] | None = None) -> None:
        self.api = api
        self.routes = dict(ROUTES if routes is None else routes)
        self.private_routes = dict(PRIVATE_ROUTES)
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        config = uvicorn.Config(
            build_app(self),
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            lifespan="off",
            # no idle cut-off of kept-alive connections (as the stdlib server): a client reusing one
            # after uvicorn's default 5 s would race the close and see "server disconnected"
            timeout_keep_alive=24 * 3600,
            timeout_graceful_shutdown=1,
        )
        self._uvicorn = uvicorn.Server(config)

    def serve_forever(self) -> None:
        self._uvicorn.run(sockets=[self.socket])

    def shutdown(self) -> None:
        self._uvicorn.should_exit = True

    def server_close(self) -> None:
        self.socket.close()

    def _route(self, req: Request) -> Route:
        path = req.path.rstrip("/") or "/"
        if path in PRIVATE_PATHS:
            if not self.api.accounts.enabled:
                raise ApiError(
                    404,
                    -1000,
                    f"Path {req.path} is not served: the offline exchange has no account, so its private "
                    "endpoints are off (add one with --account KEY:SECRET:USDT=1000 or "
                    "OfflineExchange(accounts=...)).",
                )
            route = self.private_routes.get((req.method, path))
            if route is None:
                raise ApiError(405, -1000, f"Method {req.method} is not allowed on {req.path}.")
            return route
        route = self.routes.get(path)
        if route is None:
            raise ApiError(
                404,
                -1000,
                f"Path {req.path} is not served by the offline exchange (spot market data, account, orders "
                "and trades only; see docs/offline-exchange.md).",
            )
        if req.method not in route.methods:
            raise ApiError(405, -1000, f"Method {req.method} is not allowed on {req.path}.")
        if path.startswith(LOOPBACK_ONLY_PREFIX) and not _is_loopback(req.client):
            raise ApiError(
                403, -1002, "The offline exchange's control endpoints answer loopback clients only."
            )
        return route

    def answer(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        """Status, payload and extra headers for ``req``: route, faults, authentication, handler."""
        headers: dict[str, str] = {}
        try:
            route = self._route(req)
            key = private.header(req, "X-MBX-APIKEY")
            if not req.path.startswith(LOOPBACK_ONLY_PREFIX):
                fault = self.api.faults.take(TRANSPORT_KINDS, req.method, req.path, req.query, key)
                if fault is not None:
                    reply = self._transport_fault(fault, req)
                    if reply is not None:
                        return reply
            if route.signed:
                req.account = private.authenticate(self.api.accounts, req, self.api.feed.clock.now())
                fault = self.api.faults.take(REJECTION_KINDS, req.method, req.path, req.query, key)
                if fault is not None:
                    status, code, msg = REJECTIONS[fault.kind]
                    logger.info("fault %d (%s) rejects %s %s", fault.id, fault.kind, req.method, req.path)
                    raise ApiError(status, fault.code or code, fault.msg or msg)
                self.api.accounts.sync(req.account)
            return 200, route.handler(self.api, req), headers
        except ApiError as err:
            return err.status, {"code": err.code, "msg": err.msg}, headers
        except Exception as err:
            logger.exception("error answering %s %s", req.method, req.path)
            return 500, {"code": -1000, "msg": f"Internal error of the offline exchange: {err}"}, headers

    def _transport_fault(self, fault: Fault, req: Request) -> tuple[int, Any, dict[str, str]] | None:
        """The answer of a transport fault, or ``None`` to go on normally (after a delay)."""
        logger.info("fault %d (%s) on %s %s", fault.id, fault.kind, req.method, req.path)
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            if fault.process:
                return None
            msg = (
                "Timeout waiting for response from backend server. "
                "Send status unknown; execution status unknown."
            )
            return 408, {"code": -1007, "msg": msg}, {}
        if fault.kind == "server_error":
            status = fault.status or 503
            if fault.code is not None:
                return status, {"code": fault.code, "msg": fault.msg or "Internal error."}, {}
            text = fault.msg or f"<html><body><h1>{status} Service Temporarily Unavailable</h1></body></html>"
            return status, RawBody(text), {}
        if fault.kind == "rate_limit":
            status = fault.status or 429
            msg = fault.msg or (
                "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
                "Please use WebSocket Streams for live updates to avoid polling the API."
            )
            return status, {"code": fault.code or -1003, "msg": msg}, {"Retry-After": str(fault.retry_after)}
        assert fault.status is not None and fault.code is not None
        return fault.status, {"code": fault.code, "msg": fault.msg or "Error."}, {}


def ccxt_config(url: str) -> dict[str, Any]:
    """The ``ccxt_config`` (and ``ccxt_async_config``) that points ccxt's binance at ``url``."""
    base = url.rstrip("/")
    return {
        "urls": {"api": {key: base + path for key, path in CCXT_API_PATHS.items()}},
        "options": {"fetchMarkets": {"types": ["spot"]}, "defaultType": "spot"},
    }


def exchange_config(
    url: str, pairs: list[str] | None = None, credentials: Credentials | None = None
) -> dict[str, Any]:
    """A complete freqtrade ``exchange`` block for the offline exchange at ``url`` (with an
    offline account's ``credentials`` for live mode)."""
    cfg = ccxt_config(url)
    return {
        "name": "binance",
        "key": credentials.key if credentials else "",
        "secret": credentials.secret if credentials else "",
        "ccxt_config": cfg,
        "ccxt_async_config": json.loads(json.dumps(cfg)),
        "only_from_ccxt": True,  # download-data: no data.binance.vision archive (unreachable offline)
        "enable_ws": False,  # no websocket stream: freqtrade polls /api/v3/klines
        "pair_whitelist": list(pairs or []),
        "pair_blacklist": [],
    }


class OfflineExchange:
    """The offline exchange in a background thread: ``with OfflineExchange(datadir) as ex: ex.url``.

    ``replay_from`` (ISO time, datetime or epoch ms) switches from the historical clock to the
    replay clock running ``speed`` times faster than real time. ``port=0`` picks a free port.
    ``accounts`` (``{"USDT": 1000}`` balances, ``"KEY:SECRET:USDT=1000"`` specs or
    :class:`~.account.Credentials`-less dicts with key/secret/balances) open the private API;
    ``state_file`` persists accounts, orders and trades across restarts. ``delistings``
    (``"SOL=2024-02-29T00:00[@ANNOUNCED]"`` specs or :class:`~.delisting.Delisting`) fill Binance's
    delisting schedule. ``ex.accounts`` is the :class:`~.persistence.AccountStore`, ``ex.faults`` the
    :class:`~.faults.FaultSet`, ``ex.delistings`` the :class:`~.delisting.DelistSchedule`.
    """

    def __init__(
        self,
        datadir: Path | str | None = None,
        port: int = 0,
        replay_from: str | int | None = None,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        accounts: list[str | dict[str, Any]] | None = None,
        state_file: Path | str | None = None,
        delistings: list[str | Delisting] | None = None,
    ) -> None:
        if datadir is None:
            from freqtrade_smartfolio.marketdata import find_data_dir

            datadir = find_data_dir()
        if clock is None:
            clock = Clock(
                replay_from_ms=None if replay_from is None else parse_time(replay_from), speed=speed
            )
        self.feed = Feed(CandleStore(datadir), clock)
        self.accounts = AccountStore(self.feed, state_file)
        self.faults = FaultSet()
        self.credentials: list[Credentials] = [self.add_account(spec) for spec in accounts or []]
        self.delistings = DelistSchedule(
            self.feed, [d if isinstance(d, Delisting) else parse_delisting(d) for d in delistings or []]
        )
        self.api = Api(self.feed, self.accounts, self.faults, self.delistings)
        self.host, self._requested_port = host, int(port)
        self._server: OfflineExchangeServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OfflineExchange is not running; call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_account(self, spec: str | dict[str, Any] | None = None) -> Credentials:
        """Open an account: ``"KEY:SECRET:USDT=1000,BTC=0.1"`` (empty KEY/SECRET are generated),
        ``{"key": .., "secret": .., "balances": {..}}`` or ``{"USDT": 1000}``; returns its credentials."""
        if spec is None:
            return self.accounts.create({})
        if isinstance(spec, str):
            key, secret, balances = parse_account_spec(spec)
            return self.accounts.create(balances, key or None, secret or None)
        if "balances" in spec or "key" in spec or "secret" in spec:
            return self.accounts.create(spec.get("balances", {}), spec.get("key"), spec.get("secret"))
        return self.accounts.create(spec)

    def ccxt_config(self, credentials: Credentials | None = None) -> dict[str, Any]:
        """ccxt's binance options for this server (with ``apiKey``/``secret`` of ``credentials``)."""
        cfg = ccxt_config(self.url)
        if credentials is not None:
            cfg.update(apiKey=credentials.key, secret=credentials.secret)
        return cfg

    def exchange_config(
        self, pairs: list[str] | None = None, credentials: Credentials | None = None
    ) -> dict[str, Any]:
        return exchange_config(self.url, pairs, credentials)

    def make_server(self) -> OfflineExchangeServer:
        try:
            self._server = OfflineExchangeServer((self.host, self._requested_port), self.api)
        except OSError as err:
            raise OSError(
                f"Cannot listen on {self.host}:{self._requested_port} ({err}); "
                "pick another --port, or 0 for a free one"
            ) from err
        return self._server

    def start(self, warm: bool = True) -> Self:
        """Listen and serve in a daemon thread; ``warm`` precomputes exchangeInfo in the background."""
        server = self.make_server()
        self._thread = threading.Thread(target=server.serve_forever, name="offline-exchange", daemon=True)
        self._thread.start()
        if warm:
            threading.Thread(
                target=self.api.all_symbol_info, name="offline-exchange-warmup", daemon=True
            ).start()
        logger.info("offline exchange on %s (%s)", self.url, self.feed.clock.describe())
        return self

    def serve_forever(self) -> None:
        """Listen and serve in this thread until interrupted."""
        server = self._server or self.make_server()
        threading.Thread(target=self.api.all_symbol_info, name="offline-exchange-warmup", daemon=True).start()
        try:
            server.serve_forever()
        finally:
            server.server_close()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if server is not None:
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
