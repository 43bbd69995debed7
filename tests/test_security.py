"""Security basics: examples carry no secrets, the API server binds to loopback with generated
credentials, and nothing the project logs or writes contains the exchange keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freqtrade_smartfolio.config import parse_settings
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from tests.livebot import LiveBot, live_config

ROOT = Path(__file__).resolve().parent.parent
SECTION = {"portfolio": {"BTC": 50, "ETH": 50}, "investment": 1000, "rebalance": {"threshold": 5}}


def test_example_config_is_valid_has_no_secrets_and_binds_to_loopback():
    example = json.loads((ROOT / "config.example.json").read_text())
    parse_settings(example)
    assert example["exchange"]["key"] == "" and example["exchange"]["secret"] == ""
    api = example["api_server"]
    assert api["listen_ip_address"] == "127.0.0.1"
    assert api["enabled"] is False  # enabling it means replacing the GENERATE-ME placeholders
    for field in ("password", "jwt_secret_key", "ws_token"):
        assert api[field].startswith("GENERATE-ME")


def test_api_server_credentials_are_generated_fresh_each_time():
    one = build_config(SECTION, api_server=True)["api_server"]
    two = build_config(SECTION, api_server=True)["api_server"]
    assert one["listen_ip_address"] == "127.0.0.1"
    for field in ("password", "jwt_secret_key", "ws_token"):
        assert one[field] != two[field] and len(one[field]) >= 24
    assert one["CORS_origins"] == []


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_live_start_up_logs_no_keys(require_data, tmp_path):
    """The bot starts SmartPortfolio live (signed API, real keys of the offline exchange), runs a loop
    and stops; neither freqtrade's log nor its console output holds the key or the secret.

    At the level a user runs (no ``-v``). With ``freqtrade trade -v`` ccxt's own debug log prints every
    request's headers, the API key among them (never the secret): that is freqtrade's and ccxt's, not
    the strategy's (docs/offline-exchange.md)."""
    datadir = require_data(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"])
    clock = Clock(replay_from_ms=parse_time("2024-02-27T10:00"), speed=60)
    with OfflineExchange(datadir, clock=clock, accounts=["::USDT=1000"]) as exchange:
        creds = exchange.credentials[0]
        config = live_config(exchange.url, creds.key, creds.secret, {"BTC": 50, "ETH": 50}, 1000)
        bot = LiveBot(config, tmp_path, "security").start()
        try:
            bot.wait_for(
                "the strategy's start and a loop",
                lambda: ("SmartPortfolio:" in bot.log() and bot.looped()) or None,
                timeout=90,
            )
        finally:
            bot.stop()
    text = "\n".join(
        path.read_text(errors="replace")
        for path in (bot.log_path, bot.log_path.with_suffix(".out"))
        if path.exists()
    )
    assert "SmartPortfolio:" in text and "Bot heartbeat" in text  # it did start the strategy and loop
    assert creds.key not in text
    assert creds.secret not in text
