"""The signed (private) Binance spot endpoints of the offline exchange and their authentication.

Authentication is Binance's: the ``X-MBX-APIKEY`` header names the account, ``signature`` is the
hex HMAC-SHA256 of the query string concatenated with the form body (``signature`` removed) under
the account's secret, ``timestamp`` must be within ``recvWindow`` (default 5000 ms, at most 60000)
of the server's clock and not more than 1000 ms ahead of it. Refusals carry Binance's codes:
-2014 (key missing or malformed), -2015 (unknown key), -1022 (bad signature), -1021 (timestamp),
-1102 (missing parameter), -1131 (recvWindow too large).
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any

from freqtrade_smartfolio.exchange.accounts import KEY_RE, ZERO, Account, Fill, Order, OrderError, fmt
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.wire import ApiError, Request, Venue

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
FUTURE_TOLERANCE_MS = 1000
ORDER_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER")
UNSUPPORTED_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


def header(req: Request, name: str) -> str | None:
    """A request header, case-insensitively."""
    lower = name.lower()
    return next((v for k, v in req.headers.items() if k.lower() == lower), None)


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=...`` pair, and the signature (``None`` if absent)."""
    kept, signature = [], None
    for pair in raw.split("&") if raw else []:
        if pair.startswith("signature="):
            signature = pair[len("signature=") :]
        else:
            kept.append(pair)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    """Binance's signature: hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def authenticate(store: AccountStore, req: Request, now_ms: int) -> Account:
    """The account a signed request comes from, or an ``ApiError`` as Binance would answer."""
    key = header(req, "X-MBX-APIKEY")
    if not key or not KEY_RE.match(key):
        raise ApiError(401, -2014, "API-key format invalid.")
    account = store.account(key)
    if account is None:
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    query, sig_q = _strip_signature(req.raw_query)
    body, sig_b = _strip_signature(req.body.decode("utf-8", "replace"))
    signature = sig_q or sig_b
    if not signature:
        raise ApiError(
            400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    expected = sign(account.secret, query + body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    timestamp = req.integer("timestamp")
    if timestamp is None:
        raise ApiError(
            400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    window = req.integer("recvWindow", DEFAULT_RECV_WINDOW) or DEFAULT_RECV_WINDOW
    if window > MAX_RECV_WINDOW:
        raise ApiError(400, -1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    if timestamp >= now_ms + FUTURE_TOLERANCE_MS:
        raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return account


# ---- helpers ------------------------------------------------------------------------------------
def _store(api: Venue) -> AccountStore:
    assert api.accounts is not None
    return api.accounts


def _key(req: Request) -> str:
    assert req.account is not None, "signed route without an authenticated account"
    return req.account.key


def _decimal(req: Request, name: str) -> Decimal | None:
    value = req.get(name)
    if value is None or value == "":
        return None
    try:
        out = Decimal(value)
    except InvalidOperation as err:
        raise ApiError(
            400,
            -1100,
            f"Illegal characters found in parameter '{name}'; "
            "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ) from err
    if not out.is_finite():
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return out


def _order_ref(req: Request) -> tuple[int | None, str | None]:
    order_id = req.integer("orderId")
    client = req.get("origClientOrderId") or None
    if order_id is None and client is None:
        raise ApiError(
            400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return order_id, client


def _limit(req: Request, default: int = 500, maximum: int = 1000) -> int:
    limit = req.integer("limit", default) or default
    if not 1 <= limit <= maximum:
        raise ApiError(400, -1130, f"Invalid data sent for a parameter: limit={limit} (1 to {maximum}).")
    return limit


def _order_error(err: OrderError) -> Exception:
    return ApiError(err.status, err.code, err.msg)


def order_json(o: Order) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` shows it."""
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": fmt(o.price),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "cummulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "stopPrice": fmt(ZERO),
        "icebergQty": fmt(ZERO),
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": True,
        "workingTime": o.time,
        "origQuoteOrderQty": fmt(o.orig_quote_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _fill_json(f: Fill) -> dict[str, Any]:
    return {
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "commission": fmt(f.commission),
        "commissionAsset": f.asset,
        "tradeId": f.trade_id,
    }


def trade_json(f: Fill, o: Order) -> dict[str, Any]:
    """A fill as ``GET /api/v3/myTrades`` shows it."""
    return {
        "symbol": o.symbol,
        "id": f.trade_id,
        "orderId": o.order_id,
        "orderListId": -1,
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "quoteQty": fmt(f.price * f.qty),
        "commission": fmt(f.commission),
        "commissionAsset": f.asset,
        "time": f.time,
        "isBuyer": o.side == "BUY",
        "isMaker": f.maker,
        "isBestMatch": True,
    }


def _commission_rates(api: Venue, coin: str | None = None) -> tuple[str, str]:
    if coin is None:
        return "0.00100000", "0.00100000"
    rules = api.feed.store.rules(coin)
    return f"{rules.maker_fee:.8f}", f"{rules.taker_fee:.8f}"


# ---- endpoints ----------------------------------------------------------------------------------
def account(api: Venue, req: Request) -> Any:
    """``GET /api/v3/account``: balances (``omitZeroBalances=true`` drops empty ones)."""
    store, key = _store(api), _key(req)
    omit = (req.get("omitZeroBalances") or "").lower() == "true"
    with store.lock:
        acc = store.account(key)
        assert acc is not None
        assets = sorted(set(acc.free) | set(acc.locked))
        balances = [
            {"asset": a, "free": fmt(acc.free.get(a, ZERO)), "locked": fmt(acc.locked.get(a, ZERO))}
            for a in assets
            if not (omit and acc.total(a) == 0)
        ]
        maker, taker = _commission_rates(api)
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": maker,
                "taker": taker,
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": acc.update_time,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": acc.uid,
        }


def new_order(api: Venue, req: Request) -> Any:
    """``POST /api/v3/order``: MARKET (``quantity`` or ``quoteOrderQty``), LIMIT, LIMIT_MAKER."""
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    side = req.require("side").upper()
    if side not in ("BUY", "SELL"):
        raise ApiError(400, -1117, "Invalid side.")
    type_ = req.require("type").upper()
    if type_ in UNSUPPORTED_TYPES:
        raise ApiError(400, -1014, f"Unsupported order combination (the offline exchange has no {type_}).")
    if type_ not in ORDER_TYPES:
        raise ApiError(400, -1116, "Invalid orderType.")
    resp_type = (req.get("newOrderRespType") or "FULL").upper()
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise ApiError(400, -1177, "Invalid newOrderRespType.")
    if api.delistings.closed(coin):
        raise ApiError(400, -1013, "Market is closed.")
    plan = api.faults.take(("partial", "late", "never_fill"), req.method, req.path, req.query, key)
    try:
        order = store.place(
            key,
            coin,
            side,
            type_,
            quantity=_decimal(req, "quantity"),
            quote_qty=_decimal(req, "quoteOrderQty"),
            price=_decimal(req, "price"),
            time_in_force=req.get("timeInForce"),
            client_order_id=req.get("newClientOrderId"),
            plan=plan,
        )
    except OrderError as err:
        raise _order_error(err) from err
    ack = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }
    if resp_type == "ACK":
        return ack
    full = order_json(order)
    for name in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
        full.pop(name)
    result = {**ack, **full}
    if resp_type == "FULL":
        result["fills"] = [_fill_json(f) for f in order.fills]
    return result


def order_test(api: Venue, req: Request) -> Any:
    """``POST /api/v3/order/test``: symbol, side and type checked, nothing placed."""
    api._coin(req.require("symbol"))
    if req.require("side").upper() not in ("BUY", "SELL"):
        raise ApiError(400, -1117, "Invalid side.")
    if req.require("type").upper() not in ORDER_TYPES:
        raise ApiError(400, -1116, "Invalid orderType.")
    return {}


def get_order(api: Venue, req: Request) -> Any:
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    order_id, client = _order_ref(req)
    try:
        return order_json(store.get(key, coin, order_id, client))
    except OrderError as err:
        raise _order_error(err) from err


def cancel_order(api: Venue, req: Request) -> Any:
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    order_id, client = _order_ref(req)
    try:
        order = store.cancel(key, coin, order_id, client)
    except OrderError as err:
        raise _order_error(err) from err
    out = order_json(order)
    for name in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime"):
        out.pop(name)
    out["origClientOrderId"] = out["clientOrderId"]
    out["clientOrderId"] = req.get("newClientOrderId") or f"cancel{order.order_id}"
    out["transactTime"] = order.update_time
    return out


def open_orders(api: Venue, req: Request) -> Any:
    store, key = _store(api), _key(req)
    symbol = req.get("symbol")
    coin = api._coin(symbol) if symbol else None
    return [order_json(o) for o in store.open_orders(key, coin)]


def cancel_open_orders(api: Venue, req: Request) -> Any:
    """``DELETE /api/v3/openOrders``: cancel every open order of a symbol."""
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    out = []
    for o in store.open_orders(key, coin):
        order = store.cancel(key, coin, o.order_id, None)
        out.append({**order_json(order), "origClientOrderId": order.client_order_id})
    return out


def _window(items: list[Any], req: Request, ident: str, when: str, from_name: str) -> list[Any]:
    limit = _limit(req)
    start, end, from_id = req.integer("startTime"), req.integer("endTime"), req.integer(from_name)
    rows = [
        x
        for x in items
        if (start is None or x[when] >= start)
        and (end is None or x[when] <= end)
        and (from_id is None or x[ident] >= from_id)
    ]
    rows.sort(key=lambda x: x[ident])
    return rows[:limit] if (start is not None or from_id is not None) else rows[-limit:]


def all_orders(api: Venue, req: Request) -> Any:
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    rows = [order_json(o) for o in store.all_orders(key, coin)]
    return _window(rows, req, "orderId", "time", "orderId")


def my_trades(api: Venue, req: Request) -> Any:
    store, key = _store(api), _key(req)
    coin = api._coin(req.require("symbol"))
    rows = [trade_json(f, o) for f, o in store.my_trades(key, coin)]
    if (order_id := req.integer("orderId")) is not None:
        rows = [r for r in rows if r["orderId"] == order_id]
    return _window(rows, req, "id", "time", "fromId")


def account_commission(api: Venue, req: Request) -> Any:
    """``GET /api/v3/account/commission``."""
    coin = api._coin(req.require("symbol"))
    maker, taker = _commission_rates(api, coin)
    zero = "0.00000000"
    return {
        "symbol": api.feed.store.rules(coin).exchange_id,
        "standardCommission": {"maker": maker, "taker": taker, "buyer": zero, "seller": zero},
        "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": zero,
        },
    }


def trade_fee(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/asset/tradeFee``: one symbol or all."""
    symbol = req.get("symbol")
    coins = [api._coin(symbol)] if symbol else list(api.feed.store.coins)
    out = []
    for coin in coins:
        rules = api.feed.store.rules(coin)
        out.append(
            {
                "symbol": rules.exchange_id,
                "makerCommission": f"{rules.maker_fee:g}",
                "takerCommission": f"{rules.taker_fee:g}",
            }
        )
    return out


def capital_config(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/capital/config/getall``: every asset with the account's balance; no networks
    can withdraw or deposit (there is nowhere to send coins)."""
    store, key = _store(api), _key(req)
    acc = store.account(key)
    assert acc is not None
    assets = sorted({*api.feed.store.coins, api.feed.store.quote, *acc.free})
    out = []
    for asset in assets:
        out.append(
            {
                "coin": asset,
                "name": asset,
                "depositAllEnable": False,
                "withdrawAllEnable": False,
                "free": fmt(acc.free.get(asset, ZERO)),
                "locked": fmt(acc.locked.get(asset, ZERO)),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    {
                        "network": "OFFLINE",
                        "coin": asset,
                        "name": "offline exchange (no transfers)",
                        "isDefault": True,
                        "depositEnable": False,
                        "withdrawEnable": False,
                        "withdrawFee": "0",
                        "withdrawMin": "0",
                        "withdrawMax": "0",
                        "withdrawIntegerMultiple": "0.00000001",
                        "minConfirm": 1,
                        "unLockConfirm": 0,
                        "sameAddress": False,
                        "busy": False,
                    }
                ],
            }
        )
    return out


def delist_schedule(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/spot/delist-schedule``: the announced delistings still to come,
    ``[{"delistTime": <ms>, "symbols": ["SOLUSDT"]}]`` (empty unless configured, see :mod:`.delisting`)."""
    return api.delistings.answer()


def margin_pairs(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/margin/allPairs`` and ``.../isolated/allPairs`` (ccxt's load_markets asks with
    keys set): no margin trading here."""
    return []


def account_status(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/account/status``."""
    return {"data": "Normal"}


def api_restrictions(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/account/apiRestrictions``: spot trading only."""
    return {
        "ipRestrict": True,
        "createTime": 0,
        "enableReading": True,
        "enableSpotAndMarginTrading": True,
        "enableWithdrawals": False,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enablePortfolioMarginTrading": False,
    }
