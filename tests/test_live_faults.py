"""The live bot under injected exchange faults: it keeps running, retries where freqtrade retries (and
where the strategy hands a refused order to freqtrade again), never buys with cash the portfolio does
not have, and reaches its target weights once the fault clears.

One offline exchange account (5,000 USDT, of which the portfolio is 3,000: the rest must stay
untouched) and one freqtrade database; three runs of the bot, each with a batch of faults:

1. ``allocation`` (BTC 40 / ETH 30 / SOL 30): a ``timeout`` of the balance request (longer than
   ccxt's timeout), ``server_error`` 503s on the order book, a ``rate_limit`` 429 and a ``timeout``
   (-1007, not processed) on order placement, a ``late`` buy whose polling meets a 429.
2. ``rejections`` (BTC 20 / ETH 40 / SOL 40): ``lot_size`` on the sale, ``insufficient_balance`` and
   ``min_notional`` on the buys, one buy ``partial`` with the rest expiring (30% filled: the next
   check buys the rest), another ``partial`` whose rest fills later.
3. ``unfilled`` (back to 40/30/30, ``unfilledtimeout`` 10 s): one sale ``never_fill`` (freqtrade
   cancels it, the strategy plans again and sells anew), the other fills ``late``; the buy waits for both.

About two minutes in all (the partial fill's completion waits for the next 1m check).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.accounts import Order
from freqtrade_smartfolio.exchange.faults import Fault
from freqtrade_smartfolio.live.records import orders_from_db
from tests import livebot
from tests.livebot import (
    LiveBot,
    book_mismatches,
    calm_exchange,
    exchange_orders,
    out_of_band,
    scenario_config,
    settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RESERVE = 2000  # USDT on the account that is not the portfolio's
CCXT_TIMEOUT_MS = 3000


@dataclass
class Run:
    """One run of the bot under a batch of faults."""

    name: str
    faults: dict[str, Fault]
    orders: list[Order] = field(default_factory=list)  # the account's orders placed during the run
    log: str = ""
    exit_code: int | None = None
    min_cash: float = float("inf")  # the least portfolio cash (USDT less the reserve) seen
    mismatches: list[str] = field(default_factory=list)
    out_of_band: list[str] = field(default_factory=list)
    seconds: float = 0.0


def config(exchange: OfflineExchange, key: str, secret: str, targets: dict, **extra: Any) -> dict:
    cfg = scenario_config(exchange, key, secret, targets, **extra)
    for section in ("ccxt_config", "ccxt_async_config"):
        cfg["exchange"][section]["timeout"] = CCXT_TIMEOUT_MS  # ccxt's default is 10 s
    return cfg


def run_bot(
    exchange: OfflineExchange,
    workdir: Any,
    key: str,
    secret: str,
    name: str,
    targets: dict[str, float],
    faults: dict[str, Fault],
    **extra: Any,
) -> Run:
    """Start the bot under ``faults`` and wait until every fault has fired and the portfolio is in band
    with freqtrade's book equal to the account; then a clean stop."""
    store = exchange.accounts
    started = time.monotonic()
    run = Run(name, faults)
    first = max((o.order_id for o in exchange_orders(store, key)), default=0)
    for fault in faults.values():
        exchange.faults.add(fault)
    bot = LiveBot(config(exchange, key, secret, targets, **extra), workdir, name).start()

    def done() -> bool:
        run.min_cash = min(run.min_cash, store.balances(key).get("USDT", 0.0) - RESERVE)
        return all(f.spent for f in faults.values()) and settled(exchange, key, bot, targets, RESERVE)

    try:
        bot.wait_for(f"{name}: every fault met and the portfolio in band", done, timeout=240)
        time.sleep(2)  # a couple more loops: nothing else may happen
        run.mismatches = book_mismatches(store, key, bot.db_path, livebot.COINS)
        run.out_of_band = out_of_band(store, key, targets, livebot.BAND, reserve=RESERVE)
    finally:
        run.exit_code = bot.stop()
        for fault in faults.values():
            exchange.faults.remove(fault)
    run.orders = exchange_orders(store, key, first)
    run.log = bot.log()
    run.seconds = time.monotonic() - started
    print(f"{name}: faults met and back in band in {run.seconds:.0f}s")
    return run


@pytest.fixture(scope="module")
def runs(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in livebot.COINS])
    workdir = tmp_path_factory.mktemp("live-faults")
    started = time.monotonic()
    account = f"::USDT={livebot.INVESTMENT + RESERVE},BNB=0.5"
    with calm_exchange(datadir, account) as (exchange, key, secret):
        order = "/api/v3/order"
        results = {
            "allocation": run_bot(
                exchange,
                workdir,
                key,
                secret,
                "allocation",
                livebot.START,
                {
                    "timeout": Fault("timeout", endpoint="/api/v3/account", delay=4, skip=2),
                    "server_error": Fault("server_error", endpoint="/api/v3/depth", count=2, skip=3),
                    "rate_limit": Fault("rate_limit", endpoint=order, method="POST", retry_after=2),
                    "order_timeout": Fault("timeout", endpoint=order, method="POST", delay=1, process=False),
                    "late": Fault("late", symbol="SOLUSDT", side="BUY", after_seconds=4),
                    "poll_rate_limit": Fault("rate_limit", endpoint=order, method="GET"),
                },
            )
        }
        results["rejections"] = run_bot(
            exchange,
            workdir,
            key,
            secret,
            "rejections",
            livebot.SHIFTED,
            {
                "lot_size": Fault("lot_size", side="SELL"),
                "insufficient_balance": Fault("insufficient_balance", side="BUY", symbol="ETHUSDT"),
                "min_notional": Fault("min_notional", side="BUY", symbol="SOLUSDT"),
                "partial_expire": Fault("partial", side="BUY", symbol="ETHUSDT", ratio=0.3, rest="expire"),
                "partial_later": Fault("partial", side="BUY", symbol="SOLUSDT", ratio=0.5, rest="later"),
            },
        )
        results["unfilled"] = run_bot(
            exchange,
            workdir,
            key,
            secret,
            "unfilled",
            livebot.START,
            {
                "never_fill": Fault("never_fill", side="SELL", symbol="ETHUSDT"),
                "late": Fault("late", side="SELL", symbol="SOLUSDT", after_seconds=3),
            },
            unfilledtimeout={"entry": 10, "exit": 10, "unit": "seconds"},
        )
        records = orders_from_db(workdir / "tradesv3.sqlite")
    print(f"live faults: {time.monotonic() - started:.0f}s in all")
    return {"runs": results, "records": records}


RUNS = ["allocation", "rejections", "unfilled"]


@pytest.mark.parametrize("name", RUNS)
def test_the_bot_keeps_running_and_reaches_its_targets(runs, name):
    run = runs["runs"][name]
    assert run.exit_code == 130, "a clean stop: the faults never stopped the bot"
    for fault_name, fault in run.faults.items():
        assert fault.hits == (fault.count or 1), f"{fault_name} fired {fault.hits} times"
    assert run.out_of_band == []
    assert run.mismatches == []
    assert "OperationalException" not in run.log and "Stopping trader" not in run.log


@pytest.mark.parametrize("name", RUNS)
def test_never_buys_with_cash_it_does_not_have(runs, name):
    run = runs["runs"][name]
    assert run.min_cash >= -0.01, f"the portfolio's cash went to {run.min_cash:.2f}: it spent the reserve"
    # the account refused no buy for want of funds but the injected one
    refusals = run.log.count("Insufficient funds to create")
    assert refusals == (1 if "insufficient_balance" in run.faults else 0)


def test_freqtrade_retries_what_it_retries(runs):
    log = runs["runs"]["allocation"].log
    # reads go through freqtrade's @retrier: the same call again, with a backoff after a 429
    assert re.search(r"get_balances\(\) returned exception: .*Retrying still for \d times", log)
    assert re.search(r"fetch_l2_order_book\(\) returned exception: .*Retrying still for \d times", log)
    assert re.search(r"fetch_order\(\) returned exception: .*Retrying still for \d times", log)
    assert "Applying DDosProtection backoff delay" in log
    # order placement is never retried by freqtrade (it could place twice): it logs and goes on, and
    # the strategy hands the same order to freqtrade again on the next loop
    assert len(re.findall(r"Unable to create trade for [A-Z]+/USDT", log)) == 2


def test_refused_orders_are_placed_again_and_partial_fills_completed(runs):
    run = runs["runs"]["rejections"]
    log = run.log
    assert len(re.findall(r"Unable to adjust position of trade for [A-Z]+/USDT", log)) == 3
    filled = [(o.coin, o.side, o.status) for o in run.orders if float(o.executed_qty) > 0]
    assert ("BTC", "SELL", "FILLED") in filled
    assert ("ETH", "BUY", "EXPIRED") in filled  # 30% filled, the rest expired ...
    assert ("ETH", "BUY", "FILLED") in filled  # ... and bought by the next check
    sol = next(o for o in run.orders if o.coin == "SOL")
    assert sol.status == "FILLED" and len(sol.fills) >= 2  # partial, then the rest


def test_a_sale_that_never_fills_is_cancelled_and_sold_again(runs):
    run = runs["runs"]["unfilled"]
    eth = [o for o in run.orders if o.coin == "ETH"]
    assert [(o.side, o.status) for o in eth] == [("SELL", "CANCELED"), ("SELL", "FILLED")]
    assert eth[1].time - eth[0].time >= 10_000  # freqtrade's unfilledtimeout, then the new sale
    sol = next(o for o in run.orders if o.coin == "SOL")
    btc = [o for o in run.orders if o.coin == "BTC"]
    assert [(o.side, o.status) for o in btc] == [("BUY", "FILLED")]
    # the buy waited for both sales' cash
    assert btc[0].time >= max(eth[1].update_time, sol.update_time)


def test_every_filled_order_is_recorded_with_its_tag(runs):
    records = runs["records"]
    filled = [o for run in runs["runs"].values() for o in run.orders if float(o.executed_qty) > 0]
    assert len(records) == len(filled)
    assert set(records["tag"].iloc[:3]) == {"initial allocation"}
    assert records["tag"].iloc[3:].str.match(r"^(threshold|completion): .* \| (sell|buy) [A-Z]+$").all()
