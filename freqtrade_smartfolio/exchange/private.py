"""The signed (private) Binance spot endpoints of the offline exchange: account, orders and trades.
Their authentication is :mod:`.auth`; the wallet and fee calls ccxt makes once keys are set are
:mod:`.wallet`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from freqtrade_smartfolio.exchange.accounts import ZERO, Fill, Order, OrderError, fmt
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.wire import ApiError, Request, Venue

ORDER_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER")
UNSUPPORTED_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


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


def commission_rates(api: Venue, coin: str | None = None) -> tuple[str, str]:
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
        maker, taker = commission_rates(api)
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
