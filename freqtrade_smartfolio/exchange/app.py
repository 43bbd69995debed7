"""The HTTP side of the offline exchange: the route tables (:data:`ROUTES` for the public and control
endpoints, :data:`PRIVATE_ROUTES` for the signed ones), :class:`OfflineExchangeServer` (routing,
faults and authentication of every request in :meth:`OfflineExchangeServer.answer`) and the FastAPI
app on uvicorn that carries the requests to it (:func:`build_app`)."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response

from freqtrade_smartfolio.exchange import auth, control, private, wallet
from freqtrade_smartfolio.exchange.faults import REJECTION_KINDS, REJECTIONS, TRANSPORT_KINDS, Fault
from freqtrade_smartfolio.exchange.public import Api
from freqtrade_smartfolio.exchange.wire import ApiError, RawBody, Request, Route

logger = logging.getLogger(__name__)


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
    "/offline/status": Route(control.offline_status),
    "/offline/faults": Route(control.offline_faults, methods=("GET", "POST", "DELETE")),
    "/offline/accounts": Route(control.offline_accounts, methods=("GET", "POST")),
    "/offline/delistings": Route(control.offline_delistings, methods=("GET", "POST", "DELETE")),
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
    ("GET", "/api/v3/account/commission"): Route(wallet.account_commission, signed=True),
    ("GET", "/sapi/v1/asset/tradeFee"): Route(wallet.trade_fee, signed=True),
    ("GET", "/sapi/v1/capital/config/getall"): Route(wallet.capital_config, signed=True),
    ("GET", "/sapi/v1/spot/delist-schedule"): Route(wallet.delist_schedule, signed=True),
    ("GET", "/sapi/v1/margin/allPairs"): Route(wallet.margin_pairs, signed=True),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): Route(wallet.margin_pairs, signed=True),
    ("GET", "/sapi/v1/account/status"): Route(wallet.account_status, signed=True),
    ("GET", "/sapi/v1/account/apiRestrictions"): Route(wallet.api_restrictions, signed=True),
}
PRIVATE_PATHS = {path for _, path in PRIVATE_ROUTES}
LOOPBACK_ONLY_PREFIX = "/offline/"


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
            log_config=None,  # the host process keeps its logging (uvicorn would dictConfig it)
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
            key = auth.header(req, "X-MBX-APIKEY")
            if not req.path.startswith(LOOPBACK_ONLY_PREFIX):
                fault = self.api.faults.take(TRANSPORT_KINDS, req.method, req.path, req.query, key)
                if fault is not None:
                    reply = self._transport_fault(fault, req)
                    if reply is not None:
                        return reply
            if route.signed:
                req.account = auth.authenticate(self.api.accounts, req, self.api.feed.clock.now())
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
