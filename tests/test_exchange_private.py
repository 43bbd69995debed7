"""The offline exchange's private (signed) spot API, through ccxt itself: authentication, balances,
orders with Binance's filters, fills and fees, limit orders crossed by the replay, persistence, and
every injected fault as the ccxt exception freqtrade would see."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from freqtrade_smartfolio.exchange import Clock, Credentials, OfflineExchange, market_rules
from freqtrade_smartfolio.exchange.accounts import parse_account_spec, parse_balances
from freqtrade_smartfolio.exchange.app import _is_loopback
from freqtrade_smartfolio.exchange.auth import sign
from freqtrade_smartfolio.exchange.faults import Fault, FaultError
from freqtrade_smartfolio.exchange.feed import parse_time
from freqtrade_smartfolio.marketdata import load_candles

FEE = 0.001


@pytest.fixture(scope="module")
def exchange(datadir: Path):
    with OfflineExchange(datadir, port=0, accounts=["::USDT=100"]) as ex:
        yield ex


@pytest.fixture(autouse=True)
def _no_faults_left(exchange: OfflineExchange):
    yield
    exchange.faults.clear()


def client(
    ex: OfflineExchange, creds: Credentials, nonce: Callable[[], int] | None = None, **options: Any
) -> ccxt.binance:
    """A ccxt binance signed with ``creds`` (timestamps from ``nonce``, default the wall clock)."""
    api = ccxt.binance({**ex.ccxt_config(creds), **options})
    if nonce is not None:
        api.nonce = nonce
    api.load_markets()
    return api


@pytest.fixture
def account(exchange: OfflineExchange) -> tuple[Credentials, ccxt.binance]:
    """A fresh account (10,000 USDT and 0.1 BTC) and a ccxt client signed with its keys."""
    creds = exchange.add_account({"USDT": 10_000, "BTC": 0.1})
    return creds, client(exchange, creds)


def raw(
    ex: OfflineExchange,
    method: str,
    path: str,
    params: dict[str, Any],
    key: str | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """A hand-made (optionally signed) request: status, JSON body, headers."""
    query = dict(params)
    if secret is not None:
        query["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        text = urllib.parse.urlencode(query)
        query["signature"] = signature or sign(secret, text)
    req = urllib.request.Request(
        f"{ex.url}{path}?{urllib.parse.urlencode(query)}",
        method=method,
        headers={"X-MBX-APIKEY": key} if key is not None else {},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body.decode()
        return err.code, payload, dict(err.headers)


# ---- authentication -----------------------------------------------------------------------------
def test_signed_requests_and_balances(exchange: OfflineExchange, account) -> None:
    creds, api = account
    balance = api.fetch_balance()
    assert balance["total"] == {"USDT": 10_000.0, "BTC": 0.1}
    assert balance["free"]["USDT"] == 10_000.0 and balance["used"]["USDT"] == 0.0
    status, body, _ = raw(
        exchange, "GET", "/api/v3/account", {"omitZeroBalances": "true"}, creds.key, creds.secret
    )
    assert status == 200 and body["canTrade"] and body["accountType"] == "SPOT"
    assert {b["asset"] for b in body["balances"]} == {"USDT", "BTC"}
    assert body["commissionRates"]["taker"] == "0.00100000"
    assert exchange.accounts.balances(creds.key) == {"BTC": 0.1, "USDT": 10_000.0}


def test_bad_credentials_are_refused(exchange: OfflineExchange, account) -> None:
    creds, _ = account
    wrong_secret = ccxt.binance({**exchange.ccxt_config(Credentials(creds.key, "x" * 64))})
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong_secret.fetch_balance()
    unknown = ccxt.binance({**exchange.ccxt_config(Credentials("A" * 64, creds.secret))})
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        unknown.fetch_balance()
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {}, "bad-key!", creds.secret)
    assert (status, body["code"]) == (401, -2014)
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {})  # no key at all
    assert (status, body["code"]) == (401, -2014)
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {"timestamp": 1}, creds.key)  # unsigned
    assert (status, body["code"]) == (400, -1102) and "signature" in body["msg"]
    old = int(time.time() * 1000) - 6_000  # outside the default 5 s recvWindow
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {}, creds.key, creds.secret, timestamp=old)
    assert (status, body["code"]) == (400, -1021)
    status, body, _ = raw(
        exchange, "GET", "/api/v3/account", {"recvWindow": 10_000}, creds.key, creds.secret, timestamp=old
    )
    assert status == 200
    future = int(time.time() * 1000) + 5_000
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {}, creds.key, creds.secret, timestamp=future)
    assert (status, body["code"]) == (400, -1021) and "ahead" in body["msg"]
    status, body, _ = raw(exchange, "GET", "/api/v3/account", {"recvWindow": 70_000}, creds.key, creds.secret)
    assert (status, body["code"]) == (400, -1131)
    # a signature of other parameters (tampered request)
    status, body, _ = raw(
        exchange,
        "GET",
        "/api/v3/account",
        {"x": 1},
        creds.key,
        creds.secret,
        signature=sign(creds.secret, "x=2"),
    )
    assert (status, body["code"]) == (400, -1022)


def test_private_endpoints_are_off_without_accounts(datadir: Path) -> None:
    with OfflineExchange(datadir, port=0) as ex:
        status, body, _ = raw(ex, "GET", "/api/v3/account", {}, "A" * 64, "B" * 64)
        assert status == 404 and "no account" in body["msg"]


# ---- orders -------------------------------------------------------------------------------------
def test_market_buy_and_sell_move_balances_and_charge_fees(exchange: OfflineExchange, account) -> None:
    _, api = account
    book = api.fetch_order_book("BTC/USDT", 5)
    buy = api.create_order("BTC/USDT", "market", "buy", 0.02, params={"newClientOrderId": "my-buy-1"})
    assert buy["status"] == "closed" and buy["filled"] == 0.02 and buy["clientOrderId"] == "my-buy-1"
    assert buy["average"] == pytest.approx(book["asks"][0][0])  # taker at the best ask
    assert buy["fee"] == {"currency": "BTC", "cost": pytest.approx(0.02 * FEE)}  # fee in the base received
    bal = api.fetch_balance()
    assert bal["total"]["BTC"] == pytest.approx(0.1 + 0.02 * (1 - FEE), abs=1e-12)
    assert bal["total"]["USDT"] == pytest.approx(10_000 - buy["cost"], abs=1e-8)
    sell = api.create_order("BTC/USDT", "market", "sell", 0.05)
    assert sell["average"] == pytest.approx(book["bids"][0][0])
    assert sell["fee"]["currency"] == "USDT" and sell["fee"]["cost"] == pytest.approx(
        sell["cost"] * FEE, abs=1e-8
    )
    bal = api.fetch_balance()
    assert bal["total"]["USDT"] == pytest.approx(10_000 - buy["cost"] + sell["cost"] * (1 - FEE), abs=1e-7)
    trades = api.fetch_my_trades("BTC/USDT")
    assert list(dict.fromkeys(t["order"] for t in trades)) == [buy["id"], sell["id"]]
    assert [t["side"] for t in trades[:2]] == ["buy", "sell"] and all(
        t["takerOrMaker"] == "taker" for t in trades
    )
    assert api.fetch_order(buy["id"], "BTC/USDT")["status"] == "closed"
    by_client = api.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "my-buy-1"})
    assert by_client["id"] == buy["id"]
    assert [o["id"] for o in api.fetch_orders("BTC/USDT")] == [buy["id"], sell["id"]]
    with pytest.raises(ccxt.OrderNotFound):
        api.fetch_order("999999", "BTC/USDT")


def test_market_buy_by_quote_amount_walks_the_book(exchange: OfflineExchange, account) -> None:
    _, api = account
    order = api.create_order("ETH/USDT", "market", "buy", None, params={"quoteOrderQty": 9000})
    assert order["status"] == "closed" and 8990 < order["cost"] <= 9000
    assert len(order["trades"]) > 1  # 9,000 USDT is more than the top level (2k-6k) holds
    prices = [t["price"] for t in order["trades"]]
    assert prices == sorted(prices) and prices[-1] > prices[0]
    step = market_rules("ETH", exchange.feed.store.datadir, timeframe=None).step_size
    assert order["filled"] / step == pytest.approx(round(order["filled"] / step))


def test_filters_refuse_like_binance(exchange: OfflineExchange, account) -> None:
    creds, api = account
    ask = api.fetch_ticker("BTC/USDT")["ask"]

    def order(**params: Any) -> tuple[int, Any]:
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        status, body, _ = raw(exchange, "POST", "/api/v3/order", {**base, **params}, creds.key, creds.secret)
        return status, body

    price = f"{ask * 0.9:.2f}"
    assert order(quantity="0.000015", price=price) == (
        400,
        {"code": -1013, "msg": "Filter failure: LOT_SIZE"},
    )
    assert order(quantity="0.000001", price=price)[1]["msg"] == "Filter failure: LOT_SIZE"  # below minQty
    assert order(quantity="0.001", price=f"{ask * 0.9:.3f}1")[1]["msg"] == "Filter failure: PRICE_FILTER"
    assert order(quantity="0.00001", price=price)[1]["msg"] == "Filter failure: NOTIONAL"
    assert order(quantity="0.001")[1]["code"] == -1102  # no price
    assert order(quantity="0.001", price=price, timeInForce="")[1]["code"] == -1102
    assert order(quantity="0.001", price=price, side="HOLD")[1]["code"] == -1117
    assert order(quantity="0.001", price=price, type="STOP_LOSS")[1]["code"] == -1014
    assert order(quantity="0.001", price=f"{ask * 1.01:.2f}", type="LIMIT_MAKER", timeInForce="")[1] == {
        "code": -2010,
        "msg": "Order would immediately match and take.",
    }
    # through ccxt: LOT_SIZE and PRICE_FILTER are InvalidOrder; NOTIONAL (-1013) is ccxt's BadRequest,
    # exactly as against the real Binance; missing funds are InsufficientFunds
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        api.privatePostOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.000015"})
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        api.create_order("BTC/USDT", "market", "buy", 0.00002)
    with pytest.raises(ccxt.InsufficientFunds):
        api.create_order("BTC/USDT", "market", "buy", 1.0)
    with pytest.raises(ccxt.InsufficientFunds):
        api.create_order("BTC/USDT", "market", "sell", 0.2)
    assert api.fetch_balance()["total"] == {"USDT": 10_000.0, "BTC": 0.1}  # nothing moved


def test_limit_order_reserves_funds_and_cancels(exchange: OfflineExchange, account) -> None:
    _, api = account
    bid = api.fetch_ticker("BTC/USDT")["bid"]
    order = api.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 0.9, 2))
    assert order["status"] == "open" and order["filled"] == 0
    bal = api.fetch_balance()
    assert bal["used"]["USDT"] == pytest.approx(0.01 * round(bid * 0.9, 2))
    assert [o["id"] for o in api.fetch_open_orders("BTC/USDT")] == [order["id"]]
    api.options["fetchOpenOrders"] = {"warnWithoutSymbol": False}
    assert [o["id"] for o in api.fetch_open_orders()] == [order["id"]]
    canceled = api.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert api.fetch_balance()["total"] == {"USDT": 10_000.0, "BTC": 0.1}
    with pytest.raises(ccxt.OrderNotFound):
        api.cancel_order(order["id"], "BTC/USDT")
    # a limit buy above the ask takes liquidity at once, as taker, at the book's prices
    marketable = api.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 1.01, 2))
    assert marketable["status"] == "closed" and marketable["average"] < bid * 1.01
    assert api.fetch_my_trades("BTC/USDT")[-1]["takerOrMaker"] == "taker"


def test_resting_limit_orders_fill_when_the_replay_crosses_them(datadir: Path) -> None:
    """BTC fell from ~66k to ~60k on 2024-03-05 afternoon: a resting buy 2% below fills as maker at
    its price once a 5m candle's low reaches it (the book's ask is one tick above the replayed price)."""
    start = parse_time("2024-03-05T14:00")
    anchor = parse_time("2030-01-01T00:00")
    wall = [anchor]
    clock = Clock(replay_from_ms=start, speed=60, anchor_ms=anchor, now=lambda: wall[0])
    with OfflineExchange(datadir, port=0, clock=clock, accounts=["::USDT=5000"]) as ex:
        api = client(ex, ex.credentials[0], nonce=lambda: wall[0])  # signed on the simulated clock
        price = ex.feed.price("BTC")
        limit = round(price * 0.98, 2)
        buy = api.create_order("BTC/USDT", "limit", "buy", 0.01, limit)
        assert buy["status"] == "open"
        fine = load_candles("BTC", "5m", datadir)
        fine = fine[fine["date"] >= "2024-03-05T14:00Z"]
        crossing = fine[fine["low"] + 0.01 <= limit].iloc[0]
        crossed_at = int(crossing["date"].value // 1_000_000) + 300_000  # that candle's close
        wall[0] = anchor + (crossed_at - 300_000 - start) // 60  # just before: still open
        assert api.fetch_order(buy["id"], "BTC/USDT")["status"] == "open"
        wall[0] = anchor + (crossed_at - start) // 60 + 1
        filled = api.fetch_order(buy["id"], "BTC/USDT")
        assert filled["status"] == "closed" and filled["average"] == limit
        trade = api.fetch_my_trades("BTC/USDT")[-1]
        assert trade["takerOrMaker"] == "maker" and trade["fee"]["cost"] == pytest.approx(0.01 * FEE)
        bal = api.fetch_balance()
        assert bal["total"]["USDT"] == pytest.approx(5000 - 0.01 * limit)
        assert bal["total"]["BTC"] == pytest.approx(0.01 * (1 - FEE))


# ---- faults through ccxt ------------------------------------------------------------------------
def test_timeout_fault_is_a_request_timeout_and_the_order_still_happens(
    exchange: OfflineExchange, account
) -> None:
    creds, _ = account
    api = client(exchange, creds, timeout=500)  # ccxt gives up after 0.5 s
    exchange.faults.add("timeout", endpoint="/api/v3/order", delay=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        api.create_order("BTC/USDT", "market", "buy", 0.001)
    time.sleep(0.8)  # the server was only slow: the order went through (send status unknown)
    assert api.fetch_balance()["total"]["BTC"] == pytest.approx(0.1 + 0.001 * (1 - FEE))
    exchange.faults.add("timeout", endpoint="/api/v3/account", delay=0.2, process=False)
    with pytest.raises(ccxt.RequestTimeout):  # Binance's -1007
        client(exchange, creds).fetch_balance()


def test_server_error_and_rate_limit_faults(exchange: OfflineExchange, account) -> None:
    _, api = account
    exchange.faults.add("server_error", endpoint="/api/v3/account", status=502)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        api.fetch_balance()
    assert api.fetch_balance()["total"]["USDT"] == 10_000.0  # count=1 by default: fired once
    exchange.faults.add("rate_limit", endpoint="/api/v3/openOrders", retry_after=7, count=2)
    for _ in range(2):
        with pytest.raises(ccxt.DDoSProtection):
            api.fetch_open_orders("BTC/USDT")
    assert api.fetch_open_orders("BTC/USDT") == []
    exchange.faults.add("rate_limit", status=418, count=1)  # any endpoint, even public ones
    status, body, headers = raw(exchange, "GET", "/api/v3/ping", {})
    assert (status, body["code"], headers["Retry-After"]) == (418, -1003, "1")
    exchange.faults.add("rate_limit", retry_after=7)
    status, _, headers = raw(exchange, "GET", "/api/v3/time", {})
    assert (status, headers["Retry-After"]) == (429, "7")
    exchange.faults.add("error", status=400, code=-1003, msg="Too many requests.", endpoint="/api/v3/time")
    with pytest.raises(ccxt.RateLimitExceeded):
        api.publicGetTime()


def test_rejection_faults_target_symbol_side_and_count(exchange: OfflineExchange, account) -> None:
    creds, api = account
    exchange.faults.add("insufficient_balance", symbol="ETH/USDT", side="buy")
    api.create_order("BTC/USDT", "market", "buy", 0.001)  # another symbol: untouched
    with pytest.raises(ccxt.InsufficientFunds):
        api.create_order("ETH/USDT", "market", "buy", 0.01)
    api.create_order("ETH/USDT", "market", "buy", 0.01)  # count=1: spent
    exchange.faults.add("lot_size", skip=1)  # the second order is refused
    api.create_order("BTC/USDT", "market", "buy", 0.001)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        api.create_order("BTC/USDT", "market", "buy", 0.001)
    exchange.faults.add("min_notional", side="SELL")
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        api.create_order("BTC/USDT", "market", "sell", 0.001)
    exchange.faults.add("price_filter", key=creds.key)
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        api.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000)
    assert all(f.spent for f in exchange.faults.list())


def test_partial_fills(exchange: OfflineExchange, account) -> None:
    _, api = account
    exchange.faults.add("partial", ratio=0.5, after_requests=2)
    order = api.create_order("BTC/USDT", "market", "buy", 0.02)
    assert order["status"] == "open" and order["filled"] == 0.01 and order["remaining"] == 0.01
    assert api.fetch_order(order["id"], "BTC/USDT")["filled"] == 0.01  # first request after placement
    done = api.fetch_order(order["id"], "BTC/USDT")  # second: the rest fills
    assert done["status"] == "closed" and done["filled"] == 0.02
    assert len(api.fetch_my_trades("BTC/USDT")) == 2
    exchange.faults.add("partial", ratio=0.25, rest="expire")  # like a market order running out of book
    expired = api.create_order("BTC/USDT", "market", "buy", 0.02)
    assert expired["status"] == "expired" and expired["filled"] == 0.005
    assert api.fetch_balance()["used"]["USDT"] == 0  # nothing stays reserved
    exchange.faults.add("partial", ratio=0.5, rest="never", side="SELL")
    stuck = api.create_order("BTC/USDT", "market", "sell", 0.02)
    for _ in range(3):
        assert api.fetch_order(stuck["id"], "BTC/USDT")["filled"] == 0.01
    assert api.cancel_order(stuck["id"], "BTC/USDT")["status"] == "canceled"


def test_late_and_never_filling_orders(exchange: OfflineExchange, account) -> None:
    _, api = account
    exchange.faults.add("late", after_seconds=0.6)
    late = api.create_order("BTC/USDT", "market", "buy", 0.01)
    assert late["status"] == "open" and late["filled"] == 0
    assert api.fetch_balance()["used"]["USDT"] > 0  # the estimated cost is reserved meanwhile
    time.sleep(0.7)
    assert api.fetch_order(late["id"], "BTC/USDT")["status"] == "closed"
    exchange.faults.add("never_fill", side="SELL", symbol="BTCUSDT")
    stuck = api.create_order("BTC/USDT", "market", "sell", 0.05)
    time.sleep(0.2)
    assert [o["id"] for o in api.fetch_open_orders("BTC/USDT")] == [stuck["id"]]
    assert api.fetch_balance()["used"]["BTC"] == 0.05
    api.cancel_order(stuck["id"], "BTC/USDT")
    assert api.fetch_balance()["free"]["BTC"] == pytest.approx(0.1 + 0.01 * (1 - FEE))


def test_fault_control_endpoint(exchange: OfflineExchange, account) -> None:
    _, api = account

    def control(method: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{exchange.url}/offline/faults{query}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, added = control(
        "POST", [{"kind": "server_error", "endpoint": "/api/v3/account"}, {"kind": "late"}]
    )
    assert status == 200 and [f["kind"] for f in added] == ["server_error", "late"]
    assert added[1]["endpoint"] == "/api/v3/order" and added[1]["after_seconds"] == 5.0
    assert [f["id"] for f in control("GET")[1]] == [f["id"] for f in added]
    with pytest.raises(ccxt.ExchangeNotAvailable):
        api.fetch_balance()
    assert control("GET")[1][0]["hits"] == 1
    assert control("DELETE", query=f"?id={added[1]['id']}")[1] == [control("GET")[1][0]]
    assert control("DELETE")[1] == []
    status, body = control("POST", {"kind": "explode"})
    assert status == 400 and "unknown fault kind" in body["msg"]
    status, body = control("POST", {"kind": "timeout", "dealy": 3})
    assert status == 400 and "dealy" in body["msg"]
    with pytest.raises(FaultError, match="ratio"):
        Fault("partial", ratio=1.5)
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and not _is_loopback("192.168.1.5")


# ---- accounts -----------------------------------------------------------------------------------
def test_account_specs() -> None:
    assert parse_account_spec("k:s:USDT=10000,btc=0.1") == (
        "k",
        "s",
        {"USDT": Decimal("10000"), "BTC": Decimal("0.1")},
    )
    assert parse_account_spec("::") == ("", "", {})
    for bad, match in [
        ("k:s", "KEY:SECRET"),
        ("::USDT", "ASSET=AMOUNT"),
        ("::USDT=-1", ">= 0"),
        ("::US-D=1", "letters"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_account_spec(bad)
    assert parse_balances({"eth": 2}) == {"ETH": Decimal("2")}


def test_state_file_survives_a_restart(datadir: Path, tmp_path: Path) -> None:
    state = tmp_path / "accounts.json"
    with OfflineExchange(datadir, port=0, accounts=["key1:secret1:USDT=1000"], state_file=state) as ex:
        api = client(ex, ex.credentials[0])
        buy = api.create_order("SOL/USDT", "market", "buy", 1.0)
        resting = api.create_order("SOL/USDT", "limit", "buy", 1.0, round(buy["average"] / 2, 2))
        before = api.fetch_balance()["total"]
    assert os.stat(state).st_mode & 0o777 == 0o600
    with OfflineExchange(datadir, port=0, state_file=state) as ex:
        api = client(ex, Credentials("key1", "secret1"))
        assert api.fetch_balance()["total"] == before
        assert api.fetch_order(buy["id"], "SOL/USDT")["status"] == "closed"
        assert [o["id"] for o in api.fetch_open_orders("SOL/USDT")] == [resting["id"]]
        assert [t["order"] for t in api.fetch_my_trades("SOL/USDT")] == [buy["id"]]
        assert int(api.create_order("SOL/USDT", "market", "buy", 0.5)["id"]) > int(resting["id"])


def test_concurrent_orders_keep_the_books_straight(exchange: OfflineExchange, account) -> None:
    creds, _ = account
    clients = [client(exchange, creds) for _ in range(4)]
    errors: list[Exception] = []

    def trade(api: ccxt.binance) -> None:
        try:
            for _ in range(5):
                api.create_order("ETH/USDT", "market", "buy", 0.01)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=trade, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    trades = clients[0].fetch_my_trades("ETH/USDT")
    assert len(trades) == 20
    bal = clients[0].fetch_balance()["total"]
    assert bal["ETH"] == pytest.approx(20 * 0.01 * (1 - FEE))
    assert bal["USDT"] == pytest.approx(10_000 - sum(t["cost"] for t in trades), abs=1e-6)


# ---- delisting schedule -------------------------------------------------------------------------
def test_delisting_schedule_on_the_replay_clock(datadir: Path) -> None:
    """SOL announced at 12:00 data time for a delisting at 15:00: the signed schedule lists it (served
    date) between the two, and from 15:00 the market is closed: no new candle, the price stays, orders
    are refused with -1013 "Market is closed." while the other coins trade on."""
    start = parse_time("2024-03-05T10:00")
    anchor = parse_time("2030-01-01T00:00")
    wall = [anchor]
    clock = Clock(replay_from_ms=start, speed=60, anchor_ms=anchor, now=lambda: wall[0])
    hour = 3_600_000
    with OfflineExchange(
        datadir,
        port=0,
        clock=clock,
        accounts=["::USDT=5000"],
        delistings=["SOL=2024-03-05T15:00@2024-03-05T12:00"],
    ) as ex:
        api = client(ex, ex.credentials[0], nonce=lambda: wall[0])
        assert api.sapi_get_spot_delist_schedule() == []  # not announced yet
        bought = api.create_order("SOL/USDT", "market", "buy", 1.0)
        assert bought["status"] == "closed"
        wall[0] = anchor + 2 * hour // 60 + 1_000  # 12:00 data time
        served = int(clock.to_served(parse_time("2024-03-05T15:00")))
        assert api.sapi_get_spot_delist_schedule() == [{"delistTime": served, "symbols": ["SOLUSDT"]}]
        assert served == anchor + 5 * hour // 60  # on the served (wall) clock freqtrade sees
        # what freqtrade's Binance class does with the answer
        delist = api.sapi_get_spot_delist_schedule()[0]
        assert api.markets_by_id[delist["symbols"][0]][0]["symbol"] == "SOL/USDT"
        wall[0] = anchor + 6 * hour // 60  # 16:00 data time: delisted
        assert api.sapi_get_spot_delist_schedule() == []
        assert ex.delistings.closed("SOL") and not ex.delistings.closed("BTC")
        with pytest.raises(ccxt.BaseError, match="Market is closed"):
            api.create_order("SOL/USDT", "market", "sell", 0.5)
        assert api.create_order("BTC/USDT", "market", "buy", 0.001)["status"] == "closed"
        candles = api.fetch_ohlcv("SOL/USDT", "1m", limit=20)
        assert candles[-1][0] < served  # no candle opens at or after the delisting
        assert api.fetch_ohlcv("BTC/USDT", "1m", limit=20)[-1][0] >= served
        last = ex.feed.price("SOL")
        wall[0] += 60_000
        assert ex.feed.price("SOL") == last  # the price stays at the last one before the delisting


def test_delisting_specs_and_control_endpoint(datadir: Path) -> None:
    from freqtrade_smartfolio.exchange.delisting import Delisting, parse_delist_map, parse_delisting

    assert parse_delisting("sol=2024-02-29T00:00") == Delisting("SOL", parse_time("2024-02-29T00:00"))
    assert parse_delisting("SOL=2024-02-29T00:00@2024-02-27T12:00").announced_ms == parse_time(
        "2024-02-27T12:00"
    )
    for bad, match in [
        ("SOL", "COIN=TIME"),
        ("=2024-02-29", "COIN=TIME"),
        ("SOL=soon", "not a time"),
        ("SOL=2024-02-29@2024-03-01", "before"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_delisting(bad)
    assert [d.coin for d in parse_delist_map({"SOL": "2024-02-29"}, "f")] == ["SOL"]
    with pytest.raises(ValueError, match="must map"):
        parse_delist_map("SOL", "f")
    with OfflineExchange(datadir, port=0, accounts=["::USDT=100"]) as ex:
        with pytest.raises(ValueError, match="no NOPE"):
            ex.delistings.add("NOPE", "2030-01-01")

        def control(method: str, body: Any = None, query: str = "") -> tuple[int, Any]:
            data = None if body is None else json.dumps(body).encode()
            url = f"{ex.url}/offline/delistings{query}"
            req = urllib.request.Request(url, data=data, method=method)
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        # historical clock: "now" is the wall clock; a delisting to come is listed with its own date
        status, listed = control("POST", {"XRP": "2099-01-01T00:00"})
        assert status == 200 and [d["coin"] for d in listed] == ["XRP"] and not listed[0]["closed"]
        api = client(ex, ex.credentials[0])
        assert api.sapi_get_spot_delist_schedule() == [
            {"delistTime": parse_time("2099-01-01T00:00"), "symbols": ["XRPUSDT"]}
        ]
        assert control("POST", {"XRP": "bad"})[0] == 400
        assert control("DELETE", query="?coin=XRP") == (200, [])
        assert api.sapi_get_spot_delist_schedule() == []


def test_delist_flag_is_checked_before_start(tmp_path: Path) -> None:
    from freqtrade_smartfolio.cli import Parser, UserError
    from freqtrade_smartfolio.exchange.cli import add_arguments, check_options

    parser = Parser(prog="x")
    add_arguments(parser)
    args = parser.parse_args(["serve", "--port", "0", "--delist", "SOL=2024-02-29T00:00@2024-02-27"])
    check_options(args)
    with pytest.raises(UserError, match=r"--delist: .*not a time"):
        check_options(parser.parse_args(["serve", "--port", "0", "--delist", "SOL=tomorrow"]))
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [], "delist": {"SOL": "never"}}))
    with pytest.raises(UserError, match=r"--accounts-file: .*not a time"):
        check_options(parser.parse_args(["serve", "--port", "0", "--accounts-file", str(accounts)]))
