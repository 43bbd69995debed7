"""Funding with held coins in live mode: ``freqtrade trade`` (``dry_run: false``) on an offline-exchange
account holding USDT 500, BTC 0.01, ETH 0.2, XRP 200 and BNB 0.5, with
``use_held_coins: ["BTC", "ETH", "XRP"]``.

The account is the truth here: BTC and ETH must not be traded away and bought back (no ETH order at
all: it is taken over up to its target), XRP is sold, SOL and the missing BTC are bought, BNB (not
listed) is untouched, and freqtrade's trades hold what the account holds. About 40 s.
"""

from __future__ import annotations

import time

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.portfolio.lots import floor_to_step
from tests.livebot import LiveBot, db_orders, db_trades, exchange_orders

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PORTFOLIO = {"BTC": 40, "ETH": 30, "SOL": 30}
INVESTMENT = 1500
ACCOUNT = {"USDT": 500, "BTC": 0.01, "ETH": 0.2, "XRP": 200, "BNB": 0.5}
HELD_TAG = "held: taken over"


@pytest.fixture(scope="module")
def funded(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in [*PORTFOLIO, "XRP"]])
    workdir = tmp_path_factory.mktemp("funded_live")
    spec = "::" + ",".join(f"{coin}={amount}" for coin, amount in ACCOUNT.items())
    clock = Clock(replay_from_ms=parse_time("2024-02-27T10:00"), speed=60)
    with OfflineExchange(datadir, clock=clock, accounts=[spec]) as exchange:
        creds = exchange.credentials[0]
        config = build_config(
            {
                "portfolio": PORTFOLIO,
                "investment": INVESTMENT,
                "rebalance": {"mode": "proportional", "threshold": 3},
                "use_held_coins": ["BTC", "ETH", "XRP"],
                "confirm_risk": True,
            },
            timeframe="1m",
            exchange_url=exchange.url,
            dry_run=False,
            extra={"internals": {"process_throttle_secs": 1, "heartbeat_interval": 5}},
        )
        config["exchange"]["key"], config["exchange"]["secret"] = creds.key, creds.secret
        store = exchange.accounts

        def done():
            trades = db_trades(bot.db_path)
            orders = exchange_orders(store, creds.key)
            sold = any(o.symbol == "XRPUSDT" and o.side == "SELL" and not o.is_open for o in orders)
            bought = {o.symbol for o in orders if o.side == "BUY" and not o.is_open}
            ready = (
                set(trades) == {f"{c}/USDT" for c in PORTFOLIO} and sold and {"SOLUSDT", "BTCUSDT"} <= bought
            )
            return ready and not any(o.is_open for o in orders) and bot.looped()

        bot = LiveBot(config, workdir, "funded").start()
        try:
            bot.wait_for("the funding rebalance", done, timeout=120)
            time.sleep(3)  # a few more loops: nothing else may happen
            result = {
                "balances": store.balances(creds.key),
                "orders": exchange_orders(store, creds.key),
                "trades": db_trades(bot.db_path),
                "db_orders": db_orders(bot.db_path),
                "steps": {coin: store.rules(coin).step_size for coin in PORTFOLIO},
                "log": bot.log(),
            }
        finally:
            code = bot.stop()
    assert code == 130, bot.tail()
    return result


def test_only_what_must_trade_is_traded(funded):
    traded = {(o.symbol, o.side) for o in funded["orders"]}
    assert traded == {("XRPUSDT", "SELL"), ("SOLUSDT", "BUY"), ("BTCUSDT", "BUY")}
    assert funded["balances"].get("XRP", 0.0) == pytest.approx(0.0, abs=1e-12)
    assert funded["balances"]["BNB"] == ACCOUNT["BNB"]  # not listed: untouched
    assert funded["balances"]["ETH"] == ACCOUNT["ETH"]  # taken over in part, never traded


def test_freqtrade_holds_what_the_account_holds(funded):
    balances, trades, steps = funded["balances"], funded["trades"], funded["steps"]
    eth_taken = next(o.filled for o in funded["db_orders"] if o.pair == "ETH/USDT" and o.tag == HELD_TAG)
    assert trades["ETH/USDT"]["amount"] == pytest.approx(eth_taken, abs=1e-12)
    assert eth_taken < ACCOUNT["ETH"]  # the rest stays the user's
    for coin in ("BTC", "SOL"):
        held = floor_to_step(balances[coin], steps[coin])
        assert trades[f"{coin}/USDT"]["amount"] == pytest.approx(held, abs=steps[coin] * 1.01), coin


def test_usdt_moves_only_by_the_orders(funded):
    sold = sum(float(o.cum_quote) for o in funded["orders"] if o.side == "SELL")
    bought = sum(float(o.cum_quote) for o in funded["orders"] if o.side == "BUY")
    assert funded["balances"]["USDT"] == pytest.approx(
        ACCOUNT["USDT"] + sold * (1 - 0.001) - bought, abs=0.01
    )
    assert bought < ACCOUNT["USDT"] + sold  # never more than the cash it had
    assert "held coins taken over: BTC 0.01" in funded["log"]
    assert "Traceback" not in funded["log"]
