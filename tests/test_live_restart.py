"""``kill -9`` of the live bot at each step of a rebalance, then a restart: nothing ordered twice, nothing
lost, the portfolio back in band within two checks and every filled order recorded with its tag.

One offline exchange account and one freqtrade database for the module, as one deployment. The bot
buys BTC 40 / ETH 30 / SOL 30 and is killed; each scenario then restarts it with other target
weights, whose first check sells the over-weight coins and buys the others, and a fault holds the
rebalance at one step until the bot is SIGKILLed:

* ``sell_open``: a ``never_fill`` sale rests on the exchange (the buys wait for it);
* ``sold_not_bought``: the sales have filled, every buy answers 503;
* ``buy_open``: the sale and one buy have filled, the other buy rests on the exchange.

The fault is cleared (a held order is released: it fills at the exchange's next look) and the bot
restarts with the same weights. Where an order was left open, it is released only once the restarted
bot has planned, and a few loops later, so the restarted bot meets it open: it must neither repeat it
nor spend its cash again (the bug this test found, see docs/reliability.md). About a minute in all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.accounts import Order
from freqtrade_smartfolio.exchange.faults import Fault
from freqtrade_smartfolio.live.records import orders_from_db
from freqtrade_smartfolio.portfolio.lots import floor_to_step
from tests import livebot
from tests.livebot import (
    LiveBot,
    book_mismatches,
    calm_exchange,
    db_orders,
    db_trades,
    exchange_orders,
    out_of_band,
    release,
    scenario_config,
    settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PLAN_LINE = re.compile(r"Candle (\d{4}-\d\d-\d\d \d\d:\d\d): Rebalance \(([a-z]+):")
OPEN_WINDOW_S = 4  # loops (one a second) the restarted bot spends with the order still open


@dataclass
class Scenario:
    """One kill point: what the restart found and did."""

    name: str
    targets: dict[str, float]
    first_order: int  # the account's orders of this scenario have higher ids
    at_kill: list[tuple[str, str, str]] = field(default_factory=list)  # its orders then: coin, side, status
    killed_with: list[Order] = field(default_factory=list)  # those still open
    db_open_at_kill: list[str] = field(default_factory=list)  # order ids freqtrade had open then
    orders_while_open: list[Order] = field(default_factory=list)  # placed by the restart before release
    orders: list[Order] = field(default_factory=list)  # every order of the scenario, at the end
    plans: list[tuple[str, str]] = field(default_factory=list)  # the restarted bot's (candle, trigger)
    tags: dict[int, str] = field(default_factory=dict)  # freqtrade's tag of each order, by exchange id
    checks: int = 0  # candles the restarted bot checked until it was back in band
    mismatches: list[str] = field(default_factory=list)
    out_of_band: list[str] = field(default_factory=list)
    kill_code: int | None = None
    restart_log: str = ""
    seconds: float = 0.0


def last_order_id(exchange: OfflineExchange, key: str) -> int:
    orders = exchange_orders(exchange.accounts, key)
    return orders[-1].order_id if orders else 0


def run_scenario(
    exchange: OfflineExchange,
    workdir: Any,
    key: str,
    secret: str,
    name: str,
    targets: dict[str, float],
    hold: Callable[[], Fault],
    at_kill_point: Callable[[OfflineExchange, str, list[Order], LiveBot], bool],
) -> Scenario:
    store = exchange.accounts
    started = time.monotonic()
    scenario = Scenario(name, targets, last_order_id(exchange, key))
    fault = hold()
    config = scenario_config(exchange, key, secret, targets)
    bot = LiveBot(config, workdir, f"{name}-killed").start()
    try:
        bot.wait_for(
            f"the kill point of {name}",
            lambda: at_kill_point(exchange, key, exchange_orders(store, key, scenario.first_order), bot),
            timeout=60,
        )
    finally:
        scenario.kill_code = bot.kill()
    exchange.faults.remove(fault)
    orders = exchange_orders(store, key, scenario.first_order)
    scenario.at_kill = sorted((o.coin, o.side, "open" if o.is_open else o.status) for o in orders)
    scenario.killed_with = [o for o in orders if o.is_open]
    scenario.db_open_at_kill = [o.order_id for o in db_orders(bot.db_path) if o.is_open]
    seen = last_order_id(exchange, key)
    restarted = LiveBot(config, workdir, f"{name}-restarted").start()
    try:
        restarted.wait_for("the restarted bot's first loop", restarted.looped, timeout=60)
        first_loop = time.time() - 1.0  # (its first check is a little earlier than the log line is seen)
        if scenario.killed_with:
            # Let the restarted bot meet the open order: its startup, its plan and a few loops.
            time.sleep(OPEN_WINDOW_S)
            scenario.orders_while_open = exchange_orders(store, key, seen)
            for order in scenario.killed_with:
                release(store, order)
        restarted.wait_for(
            f"{name}: the portfolio back in band, its book equal to the account",
            lambda: settled(exchange, key, restarted, targets),
            timeout=240,  # a loaded CI machine (3 test workers on 2 cores) needs the slack
        )
        # one check per closed 1m candle: the first loop's, then one at each new minute
        scenario.checks = 1 + int((time.time() - 1.0) // 60) - int(first_loop // 60)
        scenario.plans = PLAN_LINE.findall(restarted.log())
        time.sleep(2)  # a couple more loops: nothing else may happen
        scenario.orders = exchange_orders(store, key, scenario.first_order)
        scenario.tags = {int(o.order_id): o.tag for o in db_orders(restarted.db_path)}
        scenario.mismatches = book_mismatches(store, key, restarted.db_path, livebot.COINS)
        scenario.out_of_band = out_of_band(store, key, targets, livebot.BAND)
    finally:
        restarted.kill()
    scenario.restart_log = restarted.log()
    scenario.seconds = time.monotonic() - started
    print(f"{name}: killed and back in band in {scenario.seconds:.0f}s")
    return scenario


def booked(exchange: OfflineExchange, key: str, bot: LiveBot, coins: list[str]) -> bool:
    """freqtrade has booked the fills of ``coins`` in full: its amounts equal the account's, floored.

    (freqtrade commits a filled buy before it books the fee charged in the coin, and a kill in that
    instant leaves the fee unbooked; see docs/reliability.md. The kill points wait past it.)"""
    trades = db_trades(bot.db_path)
    balances = exchange.accounts.balances(key)
    for coin in coins:
        step = exchange.accounts.rules(coin).step_size
        held = floor_to_step(balances.get(coin, 0.0), step)
        if abs(trades.get(f"{coin}/USDT", {}).get("amount", 0.0) - held) > step / 2:
            return False
    return True


def open_sale(exchange: OfflineExchange, key: str, orders: list[Order], bot: LiveBot) -> bool:
    """(a) The sale rests on the exchange and freqtrade has recorded it."""
    sales = [o for o in orders if o.side == "SELL" and o.is_open]
    recorded = {o.order_id for o in db_orders(bot.db_path) if o.is_open}
    return bool(sales) and all(str(o.order_id) in recorded for o in sales)


def sold_buys_refused(fault: Fault) -> Callable[[OfflineExchange, str, list[Order], LiveBot], bool]:
    """(b) Both sales filled and booked; the buys were tried and refused."""

    def check(exchange: OfflineExchange, key: str, orders: list[Order], bot: LiveBot) -> bool:
        sales = [o for o in orders if o.side == "SELL"]
        closed = {o.order_id for o in db_orders(bot.db_path) if o.side == "sell" and o.status == "closed"}
        return (
            len(sales) == 2
            and all(o.status == "FILLED" and str(o.order_id) in closed for o in sales)
            and fault.hits >= 2
            and booked(exchange, key, bot, ["ETH", "SOL"])
        )

    return check


def one_buy_open(exchange: OfflineExchange, key: str, orders: list[Order], bot: LiveBot) -> bool:
    """(c) The sale and the SOL buy filled and booked, the ETH buy rests; freqtrade has recorded all three."""
    recorded = {o.order_id: o for o in db_orders(bot.db_path)}
    filled = [o for o in orders if o.status == "FILLED"]
    resting = [o for o in orders if o.is_open and o.side == "BUY" and o.coin == "ETH"]
    return (
        len(filled) == 2
        and len(resting) == 1
        and all(str(o.order_id) in recorded for o in filled + resting)
        and all(recorded[str(o.order_id)].status == "closed" for o in filled)
        and booked(exchange, key, bot, ["BTC", "SOL"])
    )


@pytest.fixture(scope="module")
def restarts(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in livebot.COINS])
    workdir = tmp_path_factory.mktemp("live-restart")
    started = time.monotonic()
    with calm_exchange(datadir) as (exchange, key, secret):
        # The allocation, then a kill while idle.
        config = scenario_config(exchange, key, secret, livebot.START)
        bot = LiveBot(config, workdir, "allocate").start()
        try:
            bot.wait_for(
                "the initial allocation", lambda: settled(exchange, key, bot, livebot.START), timeout=90
            )
        finally:
            bot.kill()
        faults = exchange.faults
        results = {
            "sell_open": run_scenario(
                exchange,
                workdir,
                key,
                secret,
                "sell_open",
                livebot.SHIFTED,
                lambda: faults.add("never_fill", side="SELL", count=1),
                open_sale,
            )
        }
        refuse = Fault("server_error", endpoint="/api/v3/order", method="POST", side="BUY", count=None)
        results["sold_not_bought"] = run_scenario(
            exchange,
            workdir,
            key,
            secret,
            "sold_not_bought",
            livebot.START,
            lambda: faults.add(refuse),
            sold_buys_refused(refuse),
        )
        results["buy_open"] = run_scenario(
            exchange,
            workdir,
            key,
            secret,
            "buy_open",
            livebot.SHIFTED,
            lambda: faults.add("never_fill", side="BUY", symbol="ETHUSDT", count=1),
            one_buy_open,
        )
        records = orders_from_db(bot.db_path)
        every_order = exchange_orders(exchange.accounts, key)
    print(f"live restarts: {time.monotonic() - started:.0f}s in all")
    return {"scenarios": results, "records": records, "orders": every_order}


SCENARIOS = ["sell_open", "sold_not_bought", "buy_open"]


def test_each_kill_point_was_reached(restarts):
    runs = restarts["scenarios"]
    assert all(run.kill_code == -9 for run in runs.values())
    assert {name: run.at_kill for name, run in runs.items()} == {
        "sell_open": [("BTC", "SELL", "open")],  # the buys wait for the sale
        "sold_not_bought": [("ETH", "SELL", "FILLED"), ("SOL", "SELL", "FILLED")],
        "buy_open": [("BTC", "SELL", "FILLED"), ("ETH", "BUY", "open"), ("SOL", "BUY", "FILLED")],
    }
    # freqtrade had recorded the open order before the kill
    for run in runs.values():
        assert run.db_open_at_kill == [str(o.order_id) for o in run.killed_with]


SOLD = {"sell_open": {"BTC"}, "sold_not_bought": {"ETH", "SOL"}, "buy_open": {"BTC"}}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_order_is_duplicated(restarts, name):
    run = restarts["scenarios"][name]
    # the restarted bot left the open order alone: nothing new while it was open
    assert run.orders_while_open == []
    assert {o.status for o in run.orders} == {"FILLED"}, "nothing cancelled, replaced or expired"
    first = {}
    for order in run.orders:
        if (order.coin, order.side) in first:  # a second order only to spend cash the first left
            assert run.tags[order.order_id].startswith("completion:"), (order, run.tags)
        first.setdefault((order.coin, order.side), order)
    assert {c for c, side in first if side == "SELL"} == SOLD[name]
    assert {c for c, side in first if side == "BUY"} == set(livebot.COINS) - SOLD[name]


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_position_is_lost_or_orphaned(restarts, name):
    run = restarts["scenarios"][name]
    assert run.mismatches == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_back_in_band_within_two_checks(restarts, name):
    run = restarts["scenarios"][name]
    assert run.out_of_band == []
    assert run.checks <= 2, f"back in band after {run.checks} checks; plans {run.plans}"
    # (no plan at all when the open order was all that was missing)
    assert len({candle for candle, _ in run.plans}) <= run.checks
    assert "Traceback" not in run.restart_log


def test_every_filled_order_is_recorded_with_its_tag(restarts):
    records, orders = restarts["records"], restarts["orders"]
    filled = [o for o in orders if float(o.executed_qty) > 0]
    assert len(records) == len(filled) == 3 + sum(len(r.orders) for r in restarts["scenarios"].values())
    for coin in livebot.COINS:
        for side in ("BUY", "SELL"):
            expected = sorted(float(o.executed_qty) for o in filled if o.coin == coin and o.side == side)
            got = records[(records.coin == coin) & (records.side == side.lower())]
            assert sorted(got["quantity"]) == pytest.approx(expected, abs=1e-12), (coin, side)
    initial = records.iloc[:3]
    assert set(initial["tag"]) == {"initial allocation"}
    later = records.iloc[3:]
    assert later["tag"].str.match(r"^(threshold|completion): .* \| (sell|buy) [A-Z]+$").all(), later["tag"]
