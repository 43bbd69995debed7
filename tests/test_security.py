"""Security basics: examples carry no secrets, the API server binds to loopback with generated
credentials, and nothing the project logs or writes contains the exchange keys."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from freqtrade_smartfolio.config import parse_settings
from freqtrade_smartfolio.freqtrade_config import build_config

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


def test_strategy_start_up_does_not_log_keys(caplog):
    config = build_config(SECTION)
    config["exchange"].update(key="AKIA-not-a-real-key", secret="not-a-real-secret")
    with caplog.at_level(logging.DEBUG):
        settings = parse_settings(config)
    assert settings.targets.coins == ("BTC", "ETH")
    assert "not-a-real" not in caplog.text
