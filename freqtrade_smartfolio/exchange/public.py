"""The public endpoints of Binance's spot REST API (market data: ping, time, exchangeInfo, klines,
tickers, book), answered from a :class:`~.feed.Feed` by :class:`Api`. :data:`~.app.ROUTES` points
at them."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from freqtrade_smartfolio.exchange.delisting import DelistSchedule
from freqtrade_smartfolio.exchange.faults import FaultSet
from freqtrade_smartfolio.exchange.feed import Feed, FeedError, timeframe_ms
from freqtrade_smartfolio.exchange.markets import MarketRules
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.wire import ApiError, Request

logger = logging.getLogger(__name__)

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
    """Binance's public market-data endpoints, answering from a :class:`~.feed.Feed`."""

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
