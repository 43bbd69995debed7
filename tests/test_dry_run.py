"""Dry-run end to end, offline: the offline exchange replays real 5m/1h candles (DOGE's +18% hour on
2024-02-28) and ``freqtrade trade --dry-run`` runs SmartPortfolio against it with mode "both": the test
waits, through the REST API, for the initial allocation, a threshold-triggered and a scheduled
rebalance, checks the weights came back to target, the tagged orders, the webhook notifications and
the REST endpoints FreqUI uses, then stops both processes.

Timing: the strategy checks once per closed 1m candle, and one served 1m candle is one real hour
(speed 60). The replay clock is anchored so that the candle with DOGE's jump closes about a minute
after freqtrade's first loop: initial allocation, then the threshold rebalance, then the scheduled
one, about two minutes in all.
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime, timedelta

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.dryrun import DryRunBot
from freqtrade_smartfolio.live.records import api_trades, group_rebalances, orders_from_api, orders_from_db
from freqtrade_smartfolio.live.status import portfolio_status
from tests.livebot import Hooks

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PORTFOLIO = {"DOGE": 25, "SOL": 25, "ETH": 25, "BTC": 25}
THRESHOLD = 1.5
# Every 3 candles: the jump is checked 1 or 2 candles after the initial allocation (threshold), the
# schedule fires at the third (a due schedule takes precedence over the band).
INTERVAL_MINUTES = 3
JUMP_HOUR = "2024-02-28T16:00"  # DOGE +18.5% in this 1h candle
STARTUP_MARGIN_S = 45  # freqtrade reaches its first loop ~15 s after launch; 30 s to spare


def replay_clock() -> Clock:
    """Served minute M shows the data hour JUMP_HOUR, with M the first whole minute after freqtrade's
    first loop is expected, so the first check plans at an earlier candle and the jump is checked
    one or two candles later."""
    anchor = int((time.time() + STARTUP_MARGIN_S) // 60 * 60)
    return Clock(replay_from_ms=parse_time(JUMP_HOUR), speed=60, anchor_ms=anchor * 1000)


def rebalances(bot: DryRunBot):
    return group_rebalances(orders_from_api(api_trades(bot.client())))


def planned(log: str, reason: str) -> set[tuple[str, str]]:
    """(side, coin) of every order of the plan logged for ``reason`` (``RebalancePlan.summary``)."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if f"Rebalance ({reason})" in line:
            orders = (re.match(r"  (sell|buy) \S+ (\S+) \(", nxt) for nxt in lines[i + 1 :])
            return {(m[1], m[2]) for m in itertools.takewhile(bool, orders) if m}
    return set()


def finished(bot: DryRunBot, kind: str):
    """The first rebalance of ``kind`` once all its orders (sales and buys) have filled: every order of
    its logged plan, not only a sale and a buy (the buys fill one per freqtrade loop pass, a status
    taken between them saw the later coins under target)."""
    records = rebalances(bot)
    for _, group in records.groupby("rebalance"):
        reason = group["reason"].iloc[0]
        if reason.startswith(kind) and set(group["side"]) == {"sell", "buy"}:
            done = set(zip(group["side"], group["coin"], strict=True))
            wanted = planned(bot.log_tail(lines=1_000_000), reason)
            return group if wanted and wanted <= done else None
    return None


@pytest.fixture(scope="module")
def live(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    hooks = Hooks()
    started = time.monotonic()
    with OfflineExchange(datadir, clock=replay_clock()) as exchange:
        config = build_config(
            {
                "portfolio": PORTFOLIO,
                "investment": 10_000,
                "rebalance": {"mode": "both", "threshold": THRESHOLD, "interval": f"{INTERVAL_MINUTES}m"},
            },
            timeframe="1m",
            exchange_url=exchange.url,
            api_server=True,
            extra={
                "internals": {"process_throttle_secs": 1},
                "webhook": hooks.webhook(),
            },
        )
        config["api_server"]["listen_port"] = 0
        bot = DryRunBot(config, tmp_path_factory.mktemp("dry_run"))
        try:
            bot.start()
            client = bot.client()
            bot.wait_for("the initial allocation", lambda: len(client.status()) == len(PORTFOLIO) or None, 60)
            after_initial = portfolio_status(client)
            threshold = bot.wait_for("a threshold rebalance", lambda: finished(bot, "threshold"), 150)
            after_threshold = portfolio_status(client)
            schedule = bot.wait_for("a scheduled rebalance", lambda: finished(bot, "schedule"), 150)
            after_schedule = portfolio_status(client)
            log = bot.log_tail(lines=1_000_000)  # the log file, or freqtrade's console output
            yield {
                "log": log,
                "bot": bot,
                "client": client,
                "hooks": hooks,
                "threshold": threshold,
                "schedule": schedule,
                "status": (after_initial, after_threshold, after_schedule),
            }
        finally:
            code = bot.stop()
            hooks.shutdown()
            print(f"dry-run bot ran {time.monotonic() - started:.0f}s, exit code {code}")
    assert code in (0, 130), f"freqtrade did not stop cleanly (exit code {code}):\n{bot.log_tail()}"


def test_threshold_and_scheduled_rebalances_bring_weights_back_to_target(live):
    reason = live["threshold"]["reason"].iloc[0]
    assert reason.startswith("threshold: DOGE") and " > " in reason, reason
    for status in live["status"]:
        assert status.max_deviation < THRESHOLD, [(c.coin, round(c.weight, 2)) for c in status.coins]
        assert [c.coin for c in status.coins] == [*PORTFOLIO, "USDT"]
        assert all(c.target == pytest.approx(PORTFOLIO.get(c.coin, 0)) for c in status.coins)
    after_schedule = live["status"][2]
    assert after_schedule.max_deviation < 0.5  # a scheduled rebalance goes all the way to target
    assert after_schedule.last_check is not None and after_schedule.next_check > after_schedule.last_check


def test_the_schedule_counts_on_candle_times(live):
    """The scheduled rebalance is planned exactly INTERVAL_MINUTES candles after the initial
    allocation, whatever the loop's wall-clock timing (it used to drift by the loop's lateness)."""
    import re

    # \s+: the console output wraps long lines
    pattern = r"Candle\s+(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d):\s+Rebalance\s+\((initial|schedule)"
    planned = [(f"{day} {hour}", kind) for day, hour, kind in re.findall(pattern, live["log"])]
    assert planned[0][1] == "initial" and planned[1][1] == "schedule", planned
    first, second = (datetime.strptime(when, "%Y-%m-%d %H:%M") for when, _ in planned[:2])
    assert second - first == timedelta(minutes=INTERVAL_MINUTES), planned


def test_every_order_is_tagged_and_recorded(live):
    records = rebalances(live["bot"])
    reasons = list(dict.fromkeys(records["reason"]))
    assert reasons[0] == "initial allocation"
    assert any(r.startswith("threshold: ") for r in reasons)
    assert any(r == f"schedule: every {INTERVAL_MINUTES}m" for r in reasons)
    assert (records["tag"] != "").all()
    later = records[records["reason"] != "initial allocation"]
    assert later["tag"].str.match(r"^(threshold|schedule|completion): .* \| (sell|buy) [A-Z]+$").all()
    # The same rows from the sqlite database (what `smartfolio records --db` reads).
    from_db = group_rebalances(orders_from_db(live["bot"].db_path))
    assert len(from_db) >= len(records)
    assert from_db[["coin", "side", "tag"]].head(len(records)).equals(records[["coin", "side", "tag"]])
    assert (records["fee"] > 0).all() and (records["price"] > 0).all()


def test_one_notification_per_rebalance_reaches_the_webhook(live):
    texts = [body["text"] for body in live["hooks"].bodies]
    assert texts, "no webhook call received"
    assert all(t.startswith("SmartPortfolio Rebalance (") for t in texts)
    assert any("threshold: DOGE" in t and "sell" in t and "buy" in t for t in texts)
    assert any(f"schedule: every {INTERVAL_MINUTES}m" in t for t in texts)
    assert len(texts) == len(set(texts))
    # each rebalance after the first says whether rebalancing paid so far, from the orders
    later = [t for t in texts if "initial" not in t.split("\n")[0]]
    assert later and all("So far, vs holding the start coins" in t and "vs keeping USDT" in t for t in later)


def test_rest_endpoints_freqtrade_ui_uses(live):
    client = live["client"]
    assert client.ping() == {"status": "pong"}
    config = client.show_config()
    assert config["strategy"] == "SmartPortfolio" and config["dry_run"] is True
    assert config["state"] == "running" and config["timeframe"] == "1m"
    assert {t["pair"] for t in client.status()} == {f"{c}/USDT" for c in PORTFOLIO}
    balance = client.balance()
    assert balance["total"] > 0 and {c["currency"] for c in balance["currencies"]} >= {*PORTFOLIO, "USDT"}
    assert client.trades()["total_trades"] == 0  # /trades lists closed trades; the portfolio holds all
    # freqtrade's starting_capital (no available_capital set) is free stake + open trades' stakes - closed
    # profit: a rebalance's partial sales leave their realised profit in it (docs/frequi.md)
    open_trades = client.status()
    realised = sum(t["realized_profit"] for t in open_trades)
    print(f"starting_capital {balance['starting_capital']:.2f}, realised on open trades {realised:.2f}")
    assert balance["starting_capital"] == pytest.approx(10_000 + realised, abs=0.05)
    candles = client.pair_candles("DOGE/USDT", "1m", limit=20)
    assert {"sf_weight", "sf_target", "sf_vs_hold", "sf_coins_vs_hold"} <= set(candles["columns"])
    plot = client.plot_config()
    assert set(plot["subplots"]["Weight %"]) == {"sf_weight", "sf_target", "sf_band_low", "sf_band_high"}
    assert set(plot["subplots"]["vs holding %"]) == {"sf_vs_hold"}
    assert set(plot["subplots"]["Coins vs holding %"]) == {"sf_coins_vs_hold"}


def _rows(client, pair: str, columns: list[str], limit: int = 200) -> list[dict]:
    answer = client.pair_candles(pair, "1m", limit=limit, columns=columns)
    return [dict(zip(answer["columns"], row, strict=False)) for row in answer["data"]]


def _number(value) -> bool:
    return isinstance(value, float) and value == value


def test_status_columns_weight_nan_before_the_allocation_rounded_after(live):
    rows = _rows(live["client"], "DOGE/USDT", ["sf_weight", "sf_target", "sf_vs_hold", "sf_coins_vs_hold"])
    weights = [r["sf_weight"] for r in rows]
    checked = [w for w in weights if _number(w)]
    assert checked, weights
    # no 0.0 before the initial buy: NaN (null in JSON) until the first allocation, then numbers
    first = next(i for i, w in enumerate(weights) if _number(w))
    assert all(not _number(w) for w in weights[:first])
    assert all(round(w, 2) == w for w in checked) and min(checked) > 10, checked
    # did rebalancing pay: the portfolio and DOGE (sold on its jump) against holding, from the orders
    vs = [r["sf_vs_hold"] for r in rows if _number(r["sf_vs_hold"])]
    coins = [r["sf_coins_vs_hold"] for r in rows if _number(r["sf_coins_vs_hold"])]
    assert vs and coins and all(round(v, 2) == v for v in vs)
    assert coins[-1] < 0  # DOGE was sold after its jump: fewer DOGE than holding


def test_entry_signal_only_on_the_last_candle_of_a_pair_without_a_trade(live):
    """freqtrade reads only the last candle's signal in dry-run/live: no marker on every candle."""
    answer = live["client"].pair_candles("DOGE/USDT", "1m", limit=200)
    assert answer["enter_long_signals"] == 0  # DOGE has its trade: no signal at all
    assert answer["length"] > 3


def test_status_and_records_commands(live, capsys, tmp_path):
    from freqtrade_smartfolio.cli import main

    bot = live["bot"]
    assert main(["status", "--config", str(bot.config_path)]) == 0
    out = capsys.readouterr().out
    assert "DOGE" in out and "target %" in out and "next check" in out
    assert "did rebalancing pay?" in out and "holding the start coins" in out and "fees" in out
    assert bot.config["api_server"]["password"] not in out
    csv = tmp_path / "records.csv"
    assert main(["records", "--config", str(bot.config_path), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "initial allocation" in out and "threshold: DOGE" in out and csv.exists()
    assert main(["records", "--db", str(bot.db_path)]) == 0
    assert f"schedule: every {INTERVAL_MINUTES}m" in capsys.readouterr().out
