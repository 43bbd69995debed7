"""The offline exchange: a local Binance spot REST API serving real candles from a data folder, with
signed private endpoints on fake accounts and switchable faults."""

from freqtrade_smartfolio.exchange.accounts import Credentials
from freqtrade_smartfolio.exchange.faults import Fault, FaultSet
from freqtrade_smartfolio.exchange.feed import CandleStore, Clock, Feed, FeedError
from freqtrade_smartfolio.exchange.markets import MarketRules, market_rules
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.server import OfflineExchange, ccxt_config, exchange_config

__all__ = [
    "AccountStore",
    "CandleStore",
    "Clock",
    "Credentials",
    "Fault",
    "FaultSet",
    "Feed",
    "FeedError",
    "MarketRules",
    "OfflineExchange",
    "ccxt_config",
    "exchange_config",
    "market_rules",
]
