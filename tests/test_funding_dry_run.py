"""Funding with held coins, dry-run end to end: ``freqtrade trade --dry-run`` with
``dry_run_wallet = {"USDT": 500, "BTC": 0.01, "ETH": 0.2, "XRP": 200}`` and ``use_held_coins``.

The bot takes BTC and ETH over as positions (ETH only up to its target: the rest stays the user's),
takes XRP over to sell it, buys SOL and the BTC still missing with the stake currency, and then
``/balance`` must count each coin once, the stake currency must not be charged for the coins, and
the fees must be on the traded amounts only. A restart takes nothing over twice. Without
``confirm_risk`` freqtrade refuses to start and prints the warning. About 70 s.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.dryrun import DryRunBot, write_config
from freqtrade_smartfolio.live.records import format_records, group_rebalances, orders_from_db
from freqtrade_smartfolio.live.status import portfolio_status
from freqtrade_smartfolio.marketdata import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PORTFOLIO = {"BTC": 40, "ETH": 30, "SOL": 30}
INVESTMENT = 1500
WALLET = {"USDT": 500, "BTC": 0.01, "ETH": 0.2, "XRP": 200}
THRESHOLD = 3
FEE = 0.001
REPLAY_FROM = "2024-02-27T10:00"  # a calm morning: no threshold rebalance after the funding one


def funded_config(exchange: OfflineExchange, **section) -> dict:
    config = build_config(
        {
            "portfolio": PORTFOLIO,
            "investment": INVESTMENT,
            "rebalance": {"mode": "proportional", "threshold": THRESHOLD},
            "use_held_coins": ["BTC", "ETH", "XRP"],
            "confirm_risk": True,
            **section,
        },
        timeframe="1m",
        exchange_url=exchange.url,
        api_server=True,
        extra={"internals": {"process_throttle_secs": 1}},
    )
    config["dry_run_wallet"] = dict(WALLET)
    config["api_server"]["listen_port"] = 0
    return config


def balances(client) -> dict[str, float]:
    return {c["currency"]: float(c["balance"]) for c in client.balance()["currencies"] if c["balance"]}


def every_trade(client) -> list[dict]:
    """Closed trades (``/trades``) and open ones (``/status``), with their orders."""
    return client.trades()["trades"] + client.status()


def settled(bot: DryRunBot):
    """Once XRP is sold, BTC, ETH and SOL are held in band and no order is open: the open trades."""
    client = bot.client()
    trades = {t["pair"]: t for t in client.status()}
    closed = [t for t in client.trades()["trades"] if not t["is_open"]]
    if set(trades) != {f"{c}/USDT" for c in PORTFOLIO} or any(t["has_open_orders"] for t in trades.values()):
        return None
    if not any(t["pair"] == "XRP/USDT" for t in closed):
        return None
    return trades if portfolio_status(client).max_deviation < THRESHOLD else None


@pytest.fixture(scope="module")
def funded(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in [*PORTFOLIO, "XRP"]])
    workdir = tmp_path_factory.mktemp("funded")
    started = time.monotonic()
    clock = Clock(replay_from_ms=parse_time(REPLAY_FROM), speed=60)
    with OfflineExchange(datadir, clock=clock) as exchange:
        config = funded_config(exchange)
        bot = DryRunBot(config, workdir)
        try:
            bot.start()
            client = bot.client()
            bot.wait_for("the funding rebalance", lambda: settled(bot), timeout=120)
            time.sleep(2)  # one more loop: nothing else may happen
            result = {
                "open": {t["pair"]: t for t in client.status()},
                "all": every_trade(client),
                "balance": client.balance(),
                "balances": balances(client),
                "status": portfolio_status(client),
                "profit": client.profit(),
                "log": log_of(bot),
                "db": bot.db_path,
            }
        finally:
            code = bot.stop()
        assert code in (0, 130), bot.log_tail()
        for name in ("freqtrade.log", "freqtrade.out"):  # keep the first bot's logs apart
            if (workdir / name).exists():
                (workdir / name).rename(workdir / f"first-{name}")
        # restart on the same database: nothing is taken over twice, nothing is traded
        bot2 = DryRunBot(config, workdir)
        try:
            bot2.start()
            bot2.wait_for("the restarted bot's first check", lambda: "Bot heartbeat" in log_of(bot2), 60)
            time.sleep(3)
            result["restart_balances"] = balances(bot2.client())
            result["restart_trades"] = every_trade(bot2.client())
            result["restart_log"] = log_of(bot2)
        finally:
            bot2.stop()
        print(f"funded dry-run: {time.monotonic() - started:.0f}s")
    return result


def log_of(bot: DryRunBot) -> str:
    """freqtrade's log file, or its console output (the same lines) when there is no file."""
    for path in (bot.log_path, bot.workdir / "freqtrade.out"):
        if path.exists() and path.stat().st_size:
            return path.read_text(errors="replace")
    return ""


def orders(trades: list[dict]) -> list[dict]:
    return [{**o, "pair": t["pair"]} for t in trades for o in t["orders"] if o["filled"]]


def test_held_coins_are_taken_over_without_orders_and_xrp_is_sold(funded):
    held = [o for o in orders(funded["all"]) if o["ft_order_tag"] == "held: taken over"]
    by_pair = {o["pair"]: o for o in held}
    assert set(by_pair) == {"BTC/USDT", "ETH/USDT", "XRP/USDT"}
    assert by_pair["BTC/USDT"]["filled"] == pytest.approx(0.01)  # all: below its 600 USDT target
    eth = by_pair["ETH/USDT"]
    assert eth["filled"] < 0.2 and eth["cost"] == pytest.approx(0.3 * INVESTMENT, rel=2e-3)
    assert by_pair["XRP/USDT"]["filled"] == 200
    xrp = next(t for t in funded["all"] if t["pair"] == "XRP/USDT")
    assert not xrp["is_open"] and xrp["exit_reason"] == "funding: sell held XRP"
    assert "held coins taken over: BTC 0.01" in funded["log"]


def test_balance_counts_each_coin_once_and_stake_is_not_charged_for_coins(funded):
    trades, have = funded["open"], funded["balances"]
    eth_taken = next(o for o in orders(funded["all"]) if o["pair"] == "ETH/USDT")["filled"]
    assert have["BTC"] == pytest.approx(trades["BTC/USDT"]["amount"], abs=1e-12)
    assert have["ETH"] == pytest.approx(trades["ETH/USDT"]["amount"] + (0.2 - eth_taken), abs=1e-12)
    assert have["SOL"] == pytest.approx(trades["SOL/USDT"]["amount"], abs=1e-12)
    assert "XRP" not in have
    # the stake currency: 500, plus the XRP sale less its fee, less the buys; freqtrade charges an
    # entry fee when its trade closes, so the buys' fees are not in the balance yet
    traded = [o for o in orders(funded["all"]) if o["ft_order_tag"] != "held: taken over"]
    bought = sum(o["cost"] for o in traded if o["ft_order_side"] == "buy")
    sold = sum(o["cost"] for o in traded if o["ft_order_side"] == "sell")
    assert have["USDT"] == pytest.approx(WALLET["USDT"] + sold * (1 - FEE) - bought, abs=1e-6)


def test_fees_are_paid_only_on_what_was_traded(funded):
    records = orders_from_db(funded["db"])
    traded = records[records["side"] != "held"]
    notional = traded["value"].sum()
    assert notional < 0.5 * INVESTMENT  # a stake-only start would have bought all 1500
    assert records["fee"].sum() == pytest.approx(FEE * notional, rel=1e-6)


def test_balance_total_is_the_portfolio_plus_what_stays_the_users(funded):
    """/balance's total: the open trades at their current rate, the free stake, and the ETH left out
    of the portfolio: each coin once."""
    open_trades, balance = funded["open"], funded["balance"]
    in_trades = sum(t["amount"] * t["current_rate"] for t in open_trades.values())
    eth_taken = next(o for o in orders(funded["all"]) if o["pair"] == "ETH/USDT")["filled"]
    eth_left = (0.2 - eth_taken) * open_trades["ETH/USDT"]["current_rate"]
    assert balance["total"] == pytest.approx(in_trades + funded["balances"]["USDT"] + eth_left, rel=2e-3)


def test_records_show_the_take_over_without_a_fee(funded):
    records = group_rebalances(orders_from_db(funded["db"]))
    held = records[records["side"] == "held"]
    assert sorted(held["coin"]) == ["BTC", "ETH", "XRP"] and (held["fee"] == 0).all()
    assert (records.loc[records["side"] != "held", "fee"] > 0).all()
    assert "    held BTC" in format_records(records)


def test_weights_reach_target(funded):
    status = funded["status"]
    assert status.max_deviation < THRESHOLD, [(c.coin, round(c.weight, 2)) for c in status.coins]
    assert status.total == pytest.approx(INVESTMENT, rel=0.02)


def test_restart_takes_nothing_over_twice(funded):
    assert funded["restart_balances"] == pytest.approx(funded["balances"])
    assert len(orders(funded["restart_trades"])) == len(orders(funded["all"]))
    assert "held coins taken over" not in funded["restart_log"]


def test_without_confirm_risk_the_bot_refuses_to_start(require_data, tmp_path):
    datadir = require_data(["BTC_USDT-1h.feather"])
    with OfflineExchange(datadir) as exchange:
        config = funded_config(exchange)
        del config["smartfolio"]["confirm_risk"]
        path = write_config(config, tmp_path / "config.json")
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "freqtrade",
                "trade",
                "--dry-run",
                "--config",
                str(path),
                "--userdir",
                str(tmp_path),
                "--db-url",
                f"sqlite:///{tmp_path / 'db.sqlite'}",
                "--strategy-path",
                str(REPO_ROOT / "user_data" / "strategies"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    output = " ".join((run.stdout + run.stderr).split())  # freqtrade's console wraps long lines
    assert run.returncode != 0
    assert "smartfolio.confirm_risk: is None, but smartfolio.use_held_coins needs it to be true" in output
    assert "liquidation risk" in output
    assert not (tmp_path / "db.sqlite").exists() or "Starting worker" not in output
