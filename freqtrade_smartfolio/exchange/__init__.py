"""The offline exchange: a local Binance spot REST API serving real candles from a data folder."""

from freqtrade_smartfolio.exchange.feed import CandleStore, Clock, Feed, FeedError
from freqtrade_smartfolio.exchange.markets import MarketRules, market_rules
from freqtrade_smartfolio.exchange.server import OfflineExchange, ccxt_config, exchange_config

__all__ = [
    "CandleStore",
    "Clock",
    "Feed",
    "FeedError",
    "MarketRules",
    "OfflineExchange",
    "ccxt_config",
    "exchange_config",
    "market_rules",
]
