"""Build complete freqtrade configs for a SmartPortfolio: the one place that knows which freqtrade
keys the strategy needs (hold-only exits, unlimited stake, one trade per coin, the whitelist)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.config import parse_settings
from freqtrade_smartfolio.exchange.server import exchange_config
from freqtrade_smartfolio.logsafe import log_config

STRATEGY_NAME = "SmartPortfolio"


def build_config(
    smartfolio: Mapping[str, Any],
    *,
    stake_currency: str = "USDT",
    timeframe: str = "1h",
    exchange_url: str | None = None,
    dry_run: bool = True,
    fee: float | None = None,
    api_server: bool = False,
    user_data_dir: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A freqtrade config that runs SmartPortfolio on ``smartfolio`` (validated here first).

    ``exchange_url`` points ccxt at the offline exchange; without it the real Binance API is used.
    With ``api_server`` the REST API binds to 127.0.0.1 with a freshly generated password and JWT
    secret (nothing secret is ever a default). ``log_config`` keeps tokens and passwords out of
    freqtrade's log and makes its log file (``--logfile``) owner-only (:mod:`freqtrade_smartfolio.logsafe`).
    """
    section = dict(smartfolio)
    coins = [c.upper() for c in section["portfolio"] if c.upper() != stake_currency.upper()]
    pairs = [f"{coin}/{stake_currency}" for coin in coins]
    if exchange_url:
        exchange = exchange_config(exchange_url, pairs)
    else:
        exchange = {"name": "binance", "key": "", "secret": "", "pair_whitelist": pairs}
    config: dict[str, Any] = {
        "strategy": STRATEGY_NAME,
        "max_open_trades": len(pairs),
        "stake_currency": stake_currency,
        "stake_amount": "unlimited",
        "tradable_balance_ratio": 1.0,
        "dry_run": dry_run,
        "dry_run_wallet": float(section["investment"]),
        "timeframe": timeframe,
        "trading_mode": "spot",
        "cancel_open_orders_on_exit": False,
        "unfilledtimeout": {"entry": 10, "exit": 10, "unit": "minutes"},
        "entry_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "order_types": {
            "entry": "market",
            "exit": "market",
            "emergency_exit": "market",
            "force_entry": "market",
            "force_exit": "market",
            "stoploss": "market",
            "stoploss_on_exchange": False,
        },
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "feather",
        "internals": {"process_throttle_secs": 5},
        "bot_name": "smartfolio",
        "initial_state": "running",
        "log_config": log_config(),
        "smartfolio": section,
    }
    if fee is not None:
        config["fee"] = fee
    if user_data_dir is not None:
        config["user_data_dir"] = str(user_data_dir)
    if api_server:
        config["api_server"] = {
            "enabled": True,
            "listen_ip_address": "127.0.0.1",
            "listen_port": 8080,
            "verbosity": "error",
            "enable_openapi": False,
            "jwt_secret_key": secrets.token_hex(32),
            "ws_token": secrets.token_urlsafe(24),
            "CORS_origins": [],
            "username": "smartfolio",
            "password": secrets.token_urlsafe(18),
        }
    if extra:
        config.update(extra)
    parse_settings(config)
    return config
