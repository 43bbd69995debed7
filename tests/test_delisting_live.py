"""Markets that stop trading, live: ``freqtrade trade`` (``dry_run: false``) against the offline
exchange's private API, two scenarios side by side (about 50 s in all).

Delisting: BTC 40 / ETH 30 / SOL 20 (cash 10%) is bought; then the exchange announces SOL's
delisting in Binance's schedule (``GET /sapi/v1/spot/delist-schedule``, asked by freqtrade's
``Binance.check_delisting_time`` in live mode only) and the bot restarts: SOL is sold in full, BTC and
ETH are bought up to their targets scaled pro rata (cash weight kept), one message goes out (log and
webhook), a pair lock marks SOL in ``smartfolio status``, and SOL is never bought again.

Halted market: BTC 40 / DOGE 30 / XRP 30 is bought; XRP's candles end (a truncated copy of the real
file) and the bot restarts with the replay clock days later: XRP is held at its last price and not
traded, said once, marked by a lock, while BTC and DOGE (DOGE up 70% meanwhile) are rebalanced.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.exchange import Credentials, OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.connect import connection_from_config
from freqtrade_smartfolio.live.dryrun import free_port
from freqtrade_smartfolio.live.status import market_notes, portfolio_status
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets
from tests.livebot import Hooks, LiveBot, book_mismatches, db_trades, exchange_orders, weights

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

START = "2024-02-27T10:00"
DELISTED = {"BTC": 40, "ETH": 30, "SOL": 20, "USDT": 10}  # cash 10%
DELISTED_COINS = ["BTC", "ETH", "SOL"]
DELIST_AT = "2024-03-01T00:00"  # data time on the replay clock
HALTED = {"BTC": 40, "DOGE": 30, "XRP": 30}
XRP_ENDS = "2024-03-01T00:00"  # XRP's last candle opens at 2024-02-29 23:00
RESTART_AT = "2024-03-04T10:00"  # days after XRP's candles end; DOGE +70% since START
INVESTMENT = 3000
THRESHOLD = 5


def bot_config(
    exchange: OfflineExchange, creds: Credentials, portfolio: dict[str, int], hooks: Hooks
) -> dict[str, Any]:
    config = build_config(
        {
            "portfolio": portfolio,
            "investment": INVESTMENT,
            "rebalance": {"mode": "proportional", "threshold": THRESHOLD},
        },
        timeframe="1m",
        exchange_url=exchange.url,
        dry_run=False,
        api_server=True,
        extra={
            "internals": {"process_throttle_secs": 1, "heartbeat_interval": 5},
            "webhook": hooks.webhook(),
        },
    )
    config["api_server"]["listen_port"] = free_port()
    config["exchange"]["key"], config["exchange"]["secret"] = creds.key, creds.secret
    return config


def settled(exchange: OfflineExchange, key: str, bot: LiveBot, coins: list[str]) -> bool:
    """Every order filled and freqtrade's trades agree with the account."""
    return bot.looped() and not book_mismatches(exchange.accounts, key, bot.db_path, coins)


def allocate(exchange: OfflineExchange, creds: Credentials, portfolio: dict, workdir: Path, hooks: Hooks):
    """First bot: the initial allocation, then SIGTERM."""
    coins = [c for c in portfolio if c != "USDT"]
    bot = LiveBot(bot_config(exchange, creds, portfolio, hooks), workdir, "first").start()
    try:

        def bought() -> bool:
            return len(db_trades(bot.db_path)) == len(coins) and settled(exchange, creds.key, bot, coins)

        bot.wait_for("the initial allocation", bought, timeout=90)
    finally:
        code = bot.stop()
    assert code == 130, bot.tail()
    return bot


def status_of(bot: LiveBot) -> tuple[dict[str, str], Any]:
    client = connection_from_config(bot.config, bot.config_path).client()
    return market_notes(client), portfolio_status(client)


def outcome(
    exchange: OfflineExchange, creds: Credentials, bot: LiveBot, coins: list[str], hooks: list[dict]
) -> dict[str, Any]:
    """What a run ended with: the bot's notes and status, the account's orders and balances, the book
    against the bot's database and the texts of the webhook ``hooks`` it sent."""
    notes, status = status_of(bot)
    return {
        "orders": exchange_orders(exchange.accounts, creds.key),
        "balances": exchange.accounts.balances(creds.key),
        "mismatches": book_mismatches(exchange.accounts, creds.key, bot.db_path, coins),
        "notes": notes,
        "status": status,
        "hooks": [b.get("text", "") for b in hooks],
    }


def run_delisting(datadir: Path, workdir: Path) -> dict[str, Any]:
    hooks = Hooks()
    clock = Clock(replay_from_ms=parse_time(START), speed=60)
    with OfflineExchange(datadir, clock=clock, accounts=[f"::USDT={INVESTMENT}"]) as exchange:
        creds = exchange.credentials[0]
        allocate(exchange, creds, DELISTED, workdir, hooks)
        allocated = exchange.accounts.balances(creds.key)
        first_orders = len(exchange_orders(exchange.accounts, creds.key))
        exchange.delistings.add("SOL", DELIST_AT)  # announced from now on
        sent_before = len(hooks.bodies)
        bot = LiveBot(bot_config(exchange, creds, DELISTED, hooks), workdir, "restart").start()
        try:

            def sold() -> bool:
                trades = db_trades(bot.db_path)
                sells = [o for o in exchange_orders(exchange.accounts, creds.key) if o.coin == "SOL"]
                return (
                    "SOL/USDT" not in trades
                    and any(o.side == "SELL" for o in sells)
                    and settled(exchange, creds.key, bot, DELISTED_COINS)
                )

            bot.wait_for("SOL's sale and the rebalance", sold, timeout=90)
            time.sleep(4)  # a few more loops: nothing else may happen
            result = {
                "allocated": allocated,
                "first_orders": first_orders,
                **outcome(exchange, creds, bot, DELISTED_COINS, hooks.bodies[sent_before:]),
                "weights": weights(exchange.accounts, creds.key, DELISTED_COINS),
                "sol_step": exchange.accounts.rules("SOL").step_size,
            }
        finally:
            code = bot.stop()
        result["code"] = code
        result["log"] = bot.log()
        # The schedule no longer lists SOL (as once Binance has delisted it) and its market trades on
        # here: a bot restarted now must still not buy it back (the delisting is kept in its lock).
        exchange.delistings.remove("SOL")
        orders_before = len(exchange_orders(exchange.accounts, creds.key))
        bot = LiveBot(bot_config(exchange, creds, DELISTED, hooks), workdir, "third").start()
        try:
            bot.wait_for("the third bot's first loop", bot.looped, timeout=60)
            time.sleep(4)
            result["third_notes"], _ = status_of(bot)
            result["third_orders"] = exchange_orders(exchange.accounts, creds.key)[orders_before:]
        finally:
            result["third_code"] = bot.stop()
        result["third_log"] = bot.log()
    return result


def run_halted(shared: Path, workdir: Path) -> dict[str, Any]:
    datadir = workdir / "data"
    datadir.mkdir()
    for coin in ("BTC", "DOGE"):
        (datadir / f"{coin}_USDT-1h.feather").symlink_to(shared / f"{coin}_USDT-1h.feather")
    xrp = pd.read_feather(shared / "XRP_USDT-1h.feather")  # real candles, ending early (a halt)
    xrp[xrp["date"] < pd.Timestamp(XRP_ENDS, tz="UTC")].reset_index(drop=True).to_feather(
        datadir / "XRP_USDT-1h.feather"
    )
    hooks = Hooks()
    state = workdir / "exchange-state.json"
    clock = Clock(replay_from_ms=parse_time(START), speed=60)
    with OfflineExchange(
        datadir, clock=clock, accounts=[f"::USDT={INVESTMENT}"], state_file=state
    ) as exchange:
        creds = exchange.credentials[0]
        allocate(exchange, creds, HALTED, workdir, hooks)
        allocated = exchange.accounts.balances(creds.key)
        first_orders = len(exchange_orders(exchange.accounts, creds.key))
    # days later: XRP has had no candle since its data ended
    later = Clock(replay_from_ms=parse_time(RESTART_AT), speed=60)
    with OfflineExchange(datadir, clock=later, state_file=state) as exchange:
        sent_before = len(hooks.bodies)
        bot = LiveBot(bot_config(exchange, creds, HALTED, hooks), workdir, "restart").start()
        try:

            def rebalanced() -> bool:
                orders = exchange_orders(exchange.accounts, creds.key)
                return len(orders) > first_orders and settled(exchange, creds.key, bot, list(HALTED))

            bot.wait_for("the rebalance of BTC and DOGE", rebalanced, timeout=90)
            time.sleep(4)
            result = {
                "allocated": allocated,
                "first_orders": first_orders,
                **outcome(exchange, creds, bot, list(HALTED), hooks.bodies[sent_before:]),
                "prices": {coin: exchange.feed.price(coin) for coin in HALTED},
            }
        finally:
            code = bot.stop()
        result["code"] = code
        result["log"] = bot.log()
    return result


@pytest.fixture(scope="module")
def runs(require_data, tmp_path_factory):
    datadir = require_data([f"{c}_USDT-1h.feather" for c in ("BTC", "ETH", "SOL", "DOGE", "XRP")])
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        delisting = pool.submit(run_delisting, datadir, tmp_path_factory.mktemp("delisting"))
        halted = pool.submit(run_halted, datadir, tmp_path_factory.mktemp("halted"))
        result = {"delisting": delisting.result(), "halted": halted.result()}
    print(f"delisting and halted market live in {time.monotonic() - started:.0f}s")
    return result


def running(log: str) -> str:
    """The log up to SIGTERM (freqtrade may log a traceback when the signal lands in a database
    commit: its shutdown, not the run)."""
    return log.split("calling exit", 1)[0]


def strategy_lines(log: str) -> list[str]:
    """The strategy's own log lines (freqtrade logs each message again when it sends it)."""
    return [line for line in log.splitlines() if " - freqtrade_smartfolio.adapter." in line]


# ---- delisting ----------------------------------------------------------------------------------
def test_the_delisted_coin_is_sold_in_full_and_never_bought_again(runs):
    run = runs["delisting"]
    assert run["code"] == 130, run["log"][-3000:]
    later = run["orders"][run["first_orders"] :]
    sol = [o for o in later if o.coin == "SOL"]
    assert [(o.side, o.status) for o in sol] == [("SELL", "FILLED")]
    assert float(sol[0].executed_qty) == pytest.approx(run["allocated"]["SOL"], abs=run["sol_step"])
    assert run["balances"].get("SOL", 0.0) < run["sol_step"]  # dust below one lot at most
    # restarted after SOL left the schedule (its market still trading here): not bought back
    assert run["third_code"] == 130 and run["third_orders"] == [], run["third_log"][-3000:]
    assert run["third_notes"] == run["notes"]
    assert "Traceback" not in running(run["third_log"])
    assert run["mismatches"] == []
    assert "Traceback" not in running(run["log"])


def test_the_others_go_to_their_targets_scaled_pro_rata_with_the_cash_weight_kept(runs):
    run = runs["delisting"]
    later = run["orders"][run["first_orders"] :]
    assert {(o.coin, o.side) for o in later} == {("SOL", "SELL"), ("BTC", "BUY"), ("ETH", "BUY")}
    # BTC 40 and ETH 30 of the 90% invested: 51.43% and 38.57%, cash 10%
    targets = tradable_targets(
        Targets.from_percent(DELISTED, "USDT"), np.array([True, True, False]), np.array([1.0, 1.0, 0.0]), 2.0
    )
    goals = dict(zip(("BTC", "ETH", "SOL"), targets.weights, strict=True))
    assert goals["BTC"] == pytest.approx(0.9 * 40 / 70) and targets.cash == pytest.approx(0.1)
    now = run["weights"]
    for coin in ("BTC", "ETH"):
        assert now[coin] == pytest.approx(100 * goals[coin], abs=1.0), now
    assert now["SOL"] == pytest.approx(0.0, abs=0.01)
    assert now["USDT"] == pytest.approx(10.0, abs=1.0), now


def test_the_delisting_is_said_once_and_marked_in_status(runs):
    run = runs["delisting"]
    log = run["log"]
    said = [line for line in strategy_lines(log) if "SOL/USDT will be delisted at" in line]
    assert len(said) == 1, said
    # the delisting time as freqtrade sees it: served (wall-clock) date of 2024-03-01 00:00 data time
    assert "it is sold now and its target goes to the other coins, pro rata" in said[0]
    assert sum("will be delisted" in text for text in run["hooks"]) == 1, run["hooks"]
    assert any("Rebalance (delisting: SOL at" in text for text in run["hooks"]), run["hooks"]
    sale = next(o for o in run["orders"][run["first_orders"] :] if o.coin == "SOL")
    assert sale.side == "SELL"
    assert run["notes"].keys() == {"SOL/USDT"}
    assert run["notes"]["SOL/USDT"].startswith("delisting 20")
    assert run["notes"]["SOL/USDT"].endswith("UTC: sold, not bought again")
    sol = next(c for c in run["status"].coins if c.coin == "SOL")
    assert sol.note == run["notes"]["SOL/USDT"] and sol.amount == 0.0


# ---- halted market ------------------------------------------------------------------------------
def test_a_halted_coin_is_held_and_the_others_rebalance(runs):
    run = runs["halted"]
    assert run["code"] == 130, run["log"][-3000:]
    later = run["orders"][run["first_orders"] :]
    assert {(o.coin, o.side) for o in later} == {("DOGE", "SELL"), ("BTC", "BUY")}
    assert run["balances"]["XRP"] == run["allocated"]["XRP"]  # not traded
    assert run["prices"]["XRP"] == pytest.approx(0.5867)  # the book stays at the last close
    assert run["mismatches"] == []
    # BTC and DOGE back to 40:30 of what XRP leaves
    values = {c: run["balances"][c] * run["prices"][c] for c in HALTED}
    assert values["BTC"] / values["DOGE"] == pytest.approx(40 / 30, rel=0.05)
    assert "Traceback" not in running(run["log"])


def test_the_halt_is_said_once_and_marked_in_status(runs):
    run = runs["halted"]
    said = [line for line in strategy_lines(run["log"]) if "XRP has no candle" in line]
    assert len(said) == 1 and "held at its last price" in said[0], said
    assert sum("XRP has no candle" in text for text in run["hooks"]) == 1, run["hooks"]
    assert run["notes"] == {"XRP/USDT": "no candle: held, not traded"}
    xrp = next(c for c in run["status"].coins if c.coin == "XRP")
    assert xrp.note == "no candle: held, not traded" and xrp.amount > 0
