"""Managing a running dry-run bot end to end: add investment (the next rebalance buys the coins in
target proportion), change a setting at runtime (a bad value is refused), stop keeping the coins
(a restart takes the open trades up again), stop selling everything."""

from __future__ import annotations

import json
import time

import pytest

from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.dryrun import DryRunBot
from freqtrade_smartfolio.live.records import api_trades, group_rebalances, orders_from_api
from freqtrade_smartfolio.live.status import portfolio_status

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PORTFOLIO = {"BTC": 50, "ETH": 30, "SOL": 20}


@pytest.fixture(scope="module")
def bot(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    with OfflineExchange(datadir, replay_from="2024-03-10T00:00", speed=60) as exchange:
        config = build_config(
            {
                "portfolio": PORTFOLIO,
                "investment": 2000,
                "rebalance": {"mode": "proportional", "threshold": 3},
            },
            timeframe="1m",
            exchange_url=exchange.url,
            api_server=True,
            extra={"internals": {"process_throttle_secs": 1}},
        )
        config["api_server"]["listen_port"] = 0
        bot = DryRunBot(config, tmp_path_factory.mktemp("manage")).start()
        try:
            client = bot.client()
            bot.wait_for("the initial allocation", lambda: len(client.status()) == len(PORTFOLIO) or None, 60)
            yield bot
        finally:
            bot.stop()


def cli(bot: DryRunBot, *args: str) -> int:
    return main([args[0], "--config", str(bot.config_path), *args[1:]])


def test_added_investment_is_bought_in_target_proportion(bot, capsys):
    client = bot.client()
    before = portfolio_status(client).total
    assert cli(bot, "invest", "--amount", "500") == 0
    out = capsys.readouterr().out
    assert "smartfolio.investment: 2000 -> 2500.0" in out and "dry_run_wallet: 2000.0 -> 2500.0" in out
    assert bot.config["api_server"]["password"] not in out

    def cash_bought():
        records = group_rebalances(orders_from_api(api_trades(client)))
        buys = records[records["reason"].str.startswith("threshold: cash")]
        return buys if len(buys) == len(PORTFOLIO) else None

    buys = bot.wait_for("the added cash to be invested", cash_bought, 100)
    share = buys.groupby("coin")["value"].sum() / buys["value"].sum()
    for coin, weight in PORTFOLIO.items():
        assert share[coin] == pytest.approx(weight / 100, abs=0.06), share.to_dict()
    after = portfolio_status(client)
    assert after.total == pytest.approx(before + 500, rel=0.05)
    assert after.max_deviation < 3
    assert json.loads(bot.config_path.read_text())["smartfolio"]["investment"] == 2500


def test_settings_change_at_runtime_and_bad_values_are_refused(bot, capsys):
    before = bot.config_path.read_text()
    assert cli(bot, "invest", "--set", "rebalance.threshold=0") == 2  # bad input
    assert "smartfolio.rebalance.threshold: 0 is not allowed" in capsys.readouterr().err
    assert bot.config_path.read_text() == before
    assert cli(bot, "set", "rebalance.threshold=4") == 0
    assert "smartfolio.rebalance.threshold: 3 -> 4" in capsys.readouterr().out
    assert json.loads(bot.config_path.read_text())["smartfolio"]["rebalance"]["threshold"] == 4
    bot.wait_for("the bot to run again after /reload_config", lambda: _state(bot) == "running" or None, 30)


def _state(bot: DryRunBot) -> str | None:
    try:
        return bot.client().show_config().get("state")
    except Exception:
        return None


def test_stop_keeping_coins_then_restart_takes_the_trades_up(bot, capsys):
    client = bot.client()
    trade_ids = sorted(t["trade_id"] for t in client.status())
    assert cli(bot, "stop", "--keep-coins") == 0
    assert client.show_config()["state"] == "stopped"
    assert sorted(t["trade_id"] for t in client.status()) == trade_ids
    client.start()
    time.sleep(3)
    assert client.show_config()["state"] == "running"
    assert sorted(t["trade_id"] for t in client.status()) == trade_ids  # no new initial allocation
    capsys.readouterr()


def test_stop_selling_everything(bot, capsys):
    client = bot.client()
    assert cli(bot, "stop", "--sell-all") == 0
    assert "all trades closed" in capsys.readouterr().out
    assert client.status() == []
    assert client.show_config()["state"] == "stopped"
    closed = client.trades()["trades"]
    assert {t["exit_reason"] for t in closed} == {"force_exit"} and len(closed) == len(PORTFOLIO)
    usdt = next(c for c in client.balance()["currencies"] if c["currency"] == "USDT")
    assert usdt["free"] > 2400
