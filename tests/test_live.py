"""Fast tests of the live-management helpers (no bot): settings changes are validated before anything
is written, investment additions, connection from a config, rebalance grouping."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.config import ConfigError
from freqtrade_smartfolio.live.connect import BotError, connection_from_args, connection_from_config
from freqtrade_smartfolio.live.manage import change_settings, invest_config, parse_assignment
from freqtrade_smartfolio.live.records import group_rebalances, orders_from_api


@pytest.fixture
def config_file(tmp_path):
    config = {
        "stake_currency": "USDT",
        "dry_run": True,
        "dry_run_wallet": 1000,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
        "api_server": {
            "enabled": True,
            "listen_ip_address": "127.0.0.1",
            "listen_port": 8123,
            "username": "sf",
            "password": "s3cret-not-printed",
        },
        "smartfolio": {
            "portfolio": {"BTC": 50, "ETH": 50},
            "investment": 1000,
            "rebalance": {"mode": "proportional", "threshold": 5},
        },
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_assignments_parse_json_values_and_strip_the_section_name():
    assert parse_assignment("rebalance.threshold=3") == (["rebalance", "threshold"], 3)
    assert parse_assignment("smartfolio.rebalance.interval=1d") == (["rebalance", "interval"], "1d")
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_assignment("threshold")


def test_a_valid_change_is_returned_and_a_bad_one_refused_naming_the_field(config_file):
    config, change = change_settings(config_file, ["rebalance.threshold=3"])
    assert config["smartfolio"]["rebalance"]["threshold"] == 3
    assert change.fields == {"smartfolio.rebalance.threshold": (5, 3)}
    with pytest.raises(ConfigError, match=r"smartfolio\.rebalance\.threshold: 80"):
        change_settings(config_file, ["rebalance.threshold=80"])
    before = config_file.read_text()
    assert main(["invest", "--config", str(config_file), "--set", "rebalance.threshold=-1"]) == 2  # bad input
    assert config_file.read_text() == before  # refused: nothing written


def test_invest_raises_investment_and_the_dry_run_wallet(config_file):
    config, change = invest_config(config_file, 500)
    assert config["smartfolio"]["investment"] == 1500 and config["dry_run_wallet"] == 1500
    assert set(change.fields) == {"smartfolio.investment", "dry_run_wallet"}
    with pytest.raises(ConfigError, match="--amount"):
        invest_config(config_file, -5)
    data = json.loads(config_file.read_text())
    data["available_capital"] = 1000
    config_file.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="available_capital"):
        invest_config(config_file, 500)


def test_connection_from_config_and_flags_never_shows_the_password(config_file):
    args = argparse.Namespace(config=config_file, url=None, username=None, password=None)
    connection = connection_from_args(args)
    assert connection.url == "http://127.0.0.1:8123" and connection.username == "sf"
    assert "s3cret" not in repr(connection)
    with pytest.raises(BotError, match="api_server is not enabled"):
        connection_from_config({"api_server": {"enabled": False}})
    with pytest.raises(BotError, match="--config"):
        connection_from_args(argparse.Namespace(config=None, url=None, username=None, password=None))


def test_unreachable_bot_gives_a_clear_error(capsys):
    assert main(["status", "--url", "http://127.0.0.1:9", "--username", "u", "--password", "p"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the bot's REST API at http://127.0.0.1:9" in err and "p\n" not in err


def test_orders_are_grouped_per_rebalance():
    def order(ms, side, tag):
        return {
            "order_filled_timestamp": ms,
            "filled": 1.0,
            "safe_price": 10.0,
            "ft_order_side": side,
            "ft_order_tag": tag,
        }

    trades = [
        {
            "pair": "BTC/USDT",
            "fee_open": 0.001,
            "fee_close": 0.001,
            "orders": [
                order(0, "buy", "initial allocation"),
                order(60_000, "sell", "threshold: BTC 57.00% > 55.00% | sell BTC"),
                order(120_000, "sell", "schedule: every 1m | sell BTC"),
            ],
        },
        {
            "pair": "ETH/USDT",
            "fee_open": 0.001,
            "fee_close": 0.001,
            "orders": [
                order(1_000, "buy", "initial allocation"),
                order(61_000, "buy", "threshold: BTC 57.00% > 55.00% | buy ETH"),
            ],
        },
    ]
    records = group_rebalances(orders_from_api(trades))
    assert records["rebalance"].tolist() == [1, 1, 2, 2, 3]
    assert records["reason"].tolist()[2] == "threshold: BTC 57.00% > 55.00%"
    assert records["fee"].iloc[0] == pytest.approx(0.01)
    assert records["time"].iloc[0] == pd.Timestamp(0, unit="ms", tz="UTC")
