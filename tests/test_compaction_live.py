"""``kill -9`` of the live bot at each point of a compaction (adapter/compaction.py), then a restart: no
duplicated trade, no lost position, no exchange order, freqtrade's database equal to the account, and
every filled order recorded once.

Live mode (``dry_run: false``) on the offline exchange's private API, one account and one database for
the module. The bot buys BTC 40 / ETH 30 / SOL 30, then rebalances twice (other weights, then back) with
compaction off, so every trade holds three or more orders. Each scenario then starts it with
``compact_after_orders: 2`` and holds its first compaction at one point (``SMARTFOLIO_COMPACTION_HOLD``,
see :func:`adapter.compaction.hold`), SIGKILLs it there and restarts it without the hold:

* ``prepared``: every coin's close and successor written in the session, nothing committed;
* ``committed``: the transaction committed, before the strategy went on (wallet refresh, planning).

About three minutes: every rebalance and restart is a freqtrade start on 1m candles.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from freqtrade_smartfolio.adapter.compaction import COMPACTION_TAG, HOLD_ENV
from freqtrade_smartfolio.live.records import orders_from_db
from tests import livebot
from tests.livebot import (
    LiveBot,
    book_mismatches,
    calm_exchange,
    exchange_orders,
    scenario_config,
    settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

LIMIT = 2


def trades(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT t.id, t.pair, t.is_open, t.amount, t.exit_reason, t.close_profit_abs, "
            "(SELECT COUNT(*) FROM orders o WHERE o.ft_trade_id = t.id) AS orders, "
            "(SELECT COUNT(*) FROM orders o WHERE o.ft_trade_id = t.id AND o.ft_order_tag = ?)"
            " AS compaction_orders FROM trades t ORDER BY t.id",
            (COMPACTION_TAG,),
        ).fetchall()
    return [dict(r) for r in rows]


def rebalance(exchange, workdir, key, secret, name, targets) -> None:
    """A run with compaction off until the portfolio is at ``targets``, then a kill while idle."""
    config = scenario_config(exchange, key, secret, targets)
    config["smartfolio"]["compact_after_orders"] = False
    bot = LiveBot(config, workdir, name).start()
    try:
        bot.wait_for(f"{name} in band", lambda: settled(exchange, key, bot, targets), timeout=120)
        time.sleep(1)
    finally:
        bot.kill()


def compacted(db: Path) -> bool:
    """Every open trade compacted at least once (the last closed trade of its pair is a compaction)."""
    done = {t["pair"] for t in trades(db) if not t["is_open"] and t["exit_reason"] == COMPACTION_TAG}
    return all(f"{c}/USDT" in done for c in livebot.COINS)


def kill_at(exchange, workdir, key, secret, point: str) -> dict[str, Any]:
    store = exchange.accounts
    before = trades(workdir / "tradesv3.sqlite")
    orders_before = len(exchange_orders(store, key))
    config = scenario_config(exchange, key, secret, livebot.START)
    config["smartfolio"]["compact_after_orders"] = LIMIT
    os.environ[HOLD_ENV] = point
    try:
        bot = LiveBot(config, workdir, f"{point}-killed").start()
    finally:
        del os.environ[HOLD_ENV]
    try:
        bot.wait_for(f"the compaction held at {point}", lambda: f"held at {point}" in bot.log(), timeout=90)
    finally:
        code = bot.kill()
    at_kill = trades(bot.db_path)
    restarted = LiveBot(config, workdir, f"{point}-restarted").start()
    try:
        restarted.wait_for("the restarted bot's first loop", restarted.looped, timeout=60)
        restarted.wait_for("the compaction", lambda: compacted(restarted.db_path), timeout=90)
        restarted.wait_for("in band", lambda: settled(exchange, key, restarted, livebot.START), timeout=60)
        time.sleep(3)  # a few more loops: nothing else may happen
        after = trades(restarted.db_path)
        mismatches = book_mismatches(store, key, restarted.db_path, livebot.COINS)
        orders_after = len(exchange_orders(store, key))
    finally:
        restarted.kill()
    return {
        "code": code,
        "before": before,
        "at_kill": at_kill,
        "after": after,
        "mismatches": mismatches,
        "new_exchange_orders": orders_after - orders_before,
        "log": restarted.log(),
        "killed_log": bot.log(),
    }


@pytest.fixture(scope="module")
def kills(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in livebot.COINS])
    workdir = tmp_path_factory.mktemp("compaction-live")
    results = {}
    with calm_exchange(datadir) as (exchange, key, secret):
        for point in ("prepared", "committed"):
            rebalance(exchange, workdir, key, secret, f"{point}-start", livebot.START)
            rebalance(exchange, workdir, key, secret, f"{point}-shift", livebot.SHIFTED)
            rebalance(exchange, workdir, key, secret, f"{point}-back", livebot.START)
            results[point] = kill_at(exchange, workdir, key, secret, point)
        records = orders_from_db(workdir / "tradesv3.sqlite")
        every_order = exchange_orders(exchange.accounts, key)
    return {"points": results, "records": records, "orders": every_order}


POINTS = ["prepared", "committed"]


@pytest.mark.parametrize("point", POINTS)
def test_the_kill_point_was_reached(kills, point):
    run = kills["points"][point]
    assert run.get("code") == -9
    open_before = [t for t in run["before"] if t["is_open"]]
    assert len(open_before) == 3 and all(t["orders"] > LIMIT for t in open_before)
    if point == "prepared":  # nothing of the compaction reached the database
        assert run["at_kill"] == run["before"]
    else:  # all of it did: each coin's trade closed and continued
        new = run["at_kill"][len(run["before"]) :]
        assert len(new) == 3 and all(t["is_open"] and t["orders"] == 1 for t in new)
        closed = {t["id"]: t for t in run["at_kill"]}
        assert all(not closed[t["id"]]["is_open"] for t in open_before)


@pytest.mark.parametrize("point", POINTS)
def test_no_duplicate_no_lost_position_db_equal_to_the_account(kills, point):
    run = kills["points"][point]
    assert run["mismatches"] == []
    assert run["new_exchange_orders"] == 0, "a compaction places no exchange order"
    after = run["after"]
    open_now = [t for t in after if t["is_open"]]
    assert sorted(t["pair"] for t in open_now) == sorted(
        f"{c}/USDT" for c in livebot.COINS
    )  # one trade per coin
    # each trade held at the kill was compacted exactly once: one closing and one opening order each
    held = [t for t in run["before"] if t["is_open"]]
    for old in held:
        (closed,) = [t for t in after if t["id"] == old["id"]]
        assert not closed["is_open"] and closed["exit_reason"] == COMPACTION_TAG
        assert closed["compaction_orders"] == old["compaction_orders"] + 1  # its closing "order"
        assert closed["orders"] == old["orders"] + 1 and closed["amount"] == pytest.approx(old["amount"])
    successors = [t for t in after if t["id"] > max(t["id"] for t in run["before"])]
    assert len(successors) == 3
    assert all(t["compaction_orders"] == 1 and t["orders"] == 1 for t in successors)
    assert "Traceback" not in run["log"]


def test_every_filled_order_is_recorded_once(kills):
    records, orders = kills["records"], kills["orders"]
    filled = [o for o in orders if float(o.executed_qty) > 0]
    assert len(records) == len(filled)
    assert (records["tag"] != COMPACTION_TAG).all()
    for coin in livebot.COINS:
        for side in ("BUY", "SELL"):
            expected = sorted(float(o.executed_qty) for o in filled if o.coin == coin and o.side == side)
            got = records[(records.coin == coin) & (records.side == side.lower())]
            assert sorted(got["quantity"]) == pytest.approx(expected, abs=1e-12), (coin, side)
