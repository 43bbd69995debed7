"""Portfolio take-profit and stop-loss in dry-run, end to end and offline: two ``freqtrade trade --dry-run``
bots run side by side, each against its own offline exchange replaying a real market move (speed 60: one
served 1m candle is one real hour).

* ``sell_all``: SOL + XRP from 2025-03-02 15:00 UTC (SOL +11.9% and XRP +16.7% in that hour, +9.3% and
  +9.6% in the next), ``take_profit`` 3: the bot buys, the take-profit fires, every coin is sold to USDT.
* ``keep_coins``: ETH + LINK from 2024-04-12 17:00 UTC (ETH -2.9% and LINK -5.1% in that hour, -3.4% and
  -11.2% in the next), ``stop_loss`` 3, a 0.25-point rebalancing band: the bot buys, the stop-loss fires
  and the coins are kept, with no rebalance afterwards although one is due.

Both set a global lock (``/locks``) whose reason says what fired and send one webhook message. Then both
bots are restarted on their databases: the lock is back and nothing is bought or rebalanced. Last, the
keep_coins bot resumes once its lock is deleted and the config reloaded.

Timing: the replay clocks serve the move's first hour in the first whole minute after ``FIRST_LOOP_S``.
freqtrade's first loop (the initial allocation) lands in that minute or the one before; the exit fires
when the minute closes, or one candle later if the start was slow (the move goes on for a second hour).
Both windows fire for any first loop between 60 s before and 95 s after the anchor (checked with the
5m/1h candles), so startups of 0-65 s are covered. About 1.5-2 minutes in all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.dryrun import DryRunBot, write_config
from freqtrade_smartfolio.live.records import api_trades
from freqtrade_smartfolio.live.status import portfolio_status
from tests.livebot import Hooks

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

INVESTMENT = 10_000
FIRST_LOOP_S = 30  # launch to freqtrade's first loop, two bots starting at once (~12 s on an idle machine)


@dataclass
class Case:
    """One bot: its portfolio and settings, the real hour its replay serves at the anchor, and what the
    test saw of it (``seen``: REST snapshots by phase)."""

    name: str
    portfolio: dict[str, float]
    move_hour: str
    smartfolio: dict[str, Any]
    bot: DryRunBot | None = None
    hooks: Hooks | None = None
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pairs(self) -> set[str]:
        return {f"{coin}/USDT" for coin in self.portfolio}


# The keep_coins bot rebalances when a weight is 0.25 points off target: once prices move, a rebalance is
# due at every check, so the test can see that none happens after the stop-loss.
CASES = (
    (
        "sell_all",
        {"SOL": 50, "XRP": 50},
        "2025-03-02T15:00",
        {"take_profit": 3, "on_exit": "sell_all", "rebalance": {"mode": "proportional", "threshold": 5}},
    ),
    (
        "keep_coins",
        {"ETH": 50, "LINK": 50},
        "2024-04-12T17:00",
        {"stop_loss": 3, "on_exit": "keep_coins", "rebalance": {"mode": "proportional", "threshold": 0.25}},
    ),
)


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def global_locks(bot: DryRunBot) -> list[dict[str, Any]]:
    return [lock for lock in bot.client().locks()["locks"] if lock["pair"] == "*" and lock["active"]]


def halt_lock(bot: DryRunBot) -> dict[str, Any] | None:
    """The active global lock, if any."""
    locks = global_locks(bot)
    return locks[0] if locks else None


def last_loop(bot: DryRunBot) -> datetime | None:
    """When freqtrade last finished a whole loop (None before the first one)."""
    value = bot.client().health().get("last_process")
    return datetime.fromisoformat(value) if value else None


def settle(bot: DryRunBot) -> None:
    """Wait until the strategy has checked a candle in this process and freqtrade has then finished
    one more loop, so what that check decided is traded."""
    bot.wait_for("a checked candle", lambda: portfolio_status(bot.client()).last_check, 90)
    seen = datetime.now(UTC)
    bot.wait_for("one more loop", lambda: (last_loop(bot) or seen) > seen or None, 30, interval=0.5)


def reload(bot: DryRunBot) -> None:
    """/reload_config, then wait for the first whole loop of the reloaded bot."""
    asked = datetime.now(UTC)
    bot.client().reload_config()
    bot.wait_for("the reloaded bot's first loop", lambda: (last_loop(bot) or asked) > asked or None, 60)


def filled(trades: list[dict[str, Any]]) -> list[tuple[str, str, float, str]]:
    """(pair, side, amount, tag) of every filled order."""
    return [
        (t["pair"], o["ft_order_side"], float(o["filled"]), o.get("ft_order_tag") or "")
        for t in trades
        for o in t["orders"]
        if o.get("order_filled_timestamp")
    ]


def last_fill(trades: list[dict[str, Any]]) -> datetime:
    stamps = [
        o["order_filled_timestamp"] for t in trades for o in t["orders"] if o.get("order_filled_timestamp")
    ]
    return datetime.fromtimestamp(max(stamps) / 1000, tz=UTC)


def snapshot(case: Case, phase: str) -> None:
    assert case.bot is not None
    client = case.bot.client()
    case.seen[phase] = {
        "trades": api_trades(client),
        "open": client.status(),
        "locks": global_locks(case.bot),
        "lock": halt_lock(case.bot),
        "balance": client.balance(),
        "status": portfolio_status(client),
        "checked": checked_deviation(case.bot, case.pairs),
    }


def checked_deviation(bot: DryRunBot, pairs: set[str]) -> float:
    """The largest distance (percentage points) from target the strategy saw at its last check (its
    ``sf_weight``/``sf_target`` columns); NaN before the first check after the allocation (the weight is
    NaN for the checks of the empty portfolio)."""
    worst = 0.0
    for pair in pairs:
        answer = bot.client().pair_candles(pair, "1m", limit=5, columns=["sf_weight", "sf_target"])
        rows = [dict(zip(answer["columns"], row, strict=False)) for row in answer["data"]]
        checked = [r for r in rows if isinstance(r["sf_weight"], float) and r["sf_weight"] == r["sf_weight"]]
        if not checked:
            return float("nan")
        worst = max(worst, abs(checked[-1]["sf_weight"] - checked[-1]["sf_target"]))
    return worst


def log_text(path: Path) -> str:
    """freqtrade's console output with the console's line wrapping undone."""
    return " ".join(path.read_text(errors="replace").split())


def link_data(datadir: Path, coins: set[str], folder: Path) -> Path:
    """A data folder with only these coins' files: the exchange and freqtrade load 4 markets, not 290."""
    folder.mkdir()
    for coin in coins:
        for path in datadir.glob(f"{coin}_USDT-*.feather"):
            (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture(scope="module")
def runs(require_data, tmp_path_factory):
    cases = [Case(*spec) for spec in CASES]
    coins = {coin for case in cases for coin in case.portfolio}
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in coins])
    datadir = link_data(datadir, coins, tmp_path_factory.mktemp("data") / "binance")
    anchor = datetime.fromtimestamp((time.time() + FIRST_LOOP_S) // 60 * 60, tz=UTC)
    started = time.monotonic()
    with ExitStack() as stack:
        for case in cases:
            clock = Clock(parse_time(case.move_hour), speed=60, anchor_ms=int(anchor.timestamp() * 1000))
            exchange = stack.enter_context(OfflineExchange(datadir, clock=clock))
            case.hooks = Hooks()
            stack.callback(case.hooks.shutdown)
            section = {"portfolio": case.portfolio, "investment": INVESTMENT, **case.smartfolio}
            config = build_config(
                section,
                timeframe="1m",
                exchange_url=exchange.url,
                api_server=True,
                extra={
                    "internals": {"process_throttle_secs": 1},
                    "webhook": case.hooks.webhook(),
                },
            )
            config["api_server"]["listen_port"] = 0
            case.bot = DryRunBot(config, tmp_path_factory.mktemp(case.name))
            stack.callback(case.bot.stop)
        bots = [case.bot for case in cases if case.bot is not None]

        in_parallel(*(bot.start for bot in bots))
        for case, bot in zip(cases, bots, strict=True):
            bot.wait_for("the initial allocation", lambda b=bot: len(b.client().status()) == 2 or None, 120)
            snapshot(case, "allocated")
        for case, bot in zip(cases, bots, strict=True):
            bot.wait_for("the portfolio exit's global lock", lambda b=bot: halt_lock(b), 180)
            if case.name == "sell_all":
                bot.wait_for("every coin sold", lambda b=bot: not b.client().status() or None, 30)
            settle(bot)
            snapshot(case, "halted")
        for case in cases:
            allocated = last_fill(case.seen["allocated"]["trades"]) - anchor
            fired = (
                datetime.fromtimestamp(case.seen["halted"]["lock"]["lock_timestamp"] / 1000, tz=UTC) - anchor
            )
            print(f"{case.name}: allocated at anchor{allocated.total_seconds():+.0f}s, fired at {fired}")
            print(f"{case.name}: /locks {case.seen['halted']['locks']}")
        print(f"both exits fired {time.monotonic() - started:.0f}s after the start")

        codes = in_parallel(*(bot.stop for bot in bots))
        assert all(code in (0, 130) for code in codes), codes
        for bot in bots:  # keep the first run's output (freqtrade.out is rewritten on start)
            (bot.workdir / "freqtrade.out").rename(bot.workdir / "freqtrade-before-restart.out")
        in_parallel(*(bot.start for bot in bots))
        for case, bot in zip(cases, bots, strict=True):
            settle(bot)
            snapshot(case, "restarted")
        print(f"restarted and checked {time.monotonic() - started:.0f}s after the start")
        yield {case.name: case for case in cases}


def test_both_bots_bought_the_allocation(runs):
    for case in runs.values():
        bought = filled(case.seen["allocated"]["trades"])
        assert {pair for pair, *_ in bought} == case.pairs
        assert all(side == "buy" and tag == "initial allocation" for _, side, _, tag in bought), bought


def test_take_profit_sold_every_coin_to_usdt(runs):
    case = runs["sell_all"]
    halted = case.seen["halted"]
    assert halted["open"] == []
    trades = halted["trades"]
    assert {t["pair"] for t in trades} == case.pairs and not any(t["is_open"] for t in trades)
    reason = halted["lock"]["reason"]
    assert all(t["exit_reason"] == f"{reason} | sell all" for t in trades), [t["exit_reason"] for t in trades]
    sales = [order for order in filled(trades) if order[3].startswith(reason)]
    assert sorted((pair, side) for pair, side, *_ in sales) == [("SOL/USDT", "sell"), ("XRP/USDT", "sell")]
    holdings = {c["currency"]: c["balance"] for c in halted["balance"]["currencies"] if c["balance"]}
    assert set(holdings) == {"USDT"} and holdings["USDT"] >= INVESTMENT * 1.02  # about +3% or more
    assert sum(t["profit_abs"] for t in trades) > 0


def test_take_profit_buys_nothing_after_the_exit_nor_after_a_restart(runs):
    case = runs["sell_all"]
    restarted = case.seen["restarted"]
    assert restarted["open"] == []
    assert filled(restarted["trades"]) == filled(case.seen["halted"]["trades"])
    assert "Not creating new trades, reason: take_profit: portfolio +" in log_text(
        case.bot.workdir / "freqtrade.out"
    )


def test_stop_loss_keeps_the_coins_and_stops_rebalancing(runs):
    case = runs["keep_coins"]
    halted, restarted = case.seen["halted"], case.seen["restarted"]
    assert {t["pair"] for t in halted["open"]} == case.pairs
    kept = [(t["trade_id"], t["pair"], t["amount"]) for t in halted["open"]]
    assert [(t["trade_id"], t["pair"], t["amount"]) for t in restarted["open"]] == kept
    # At the check after the restart the weights were out of their 0.25-point band (a rebalance was
    # due), yet nothing was traded after the stop-loss fired, before or after the restart.
    assert restarted["checked"] > 0.25, restarted["checked"]
    assert filled(restarted["trades"]) == filled(halted["trades"])
    assert last_fill(restarted["trades"]).timestamp() * 1000 < halted["lock"]["lock_timestamp"]


@pytest.mark.parametrize("name, what", [("sell_all", "take_profit"), ("keep_coins", "stop_loss")])
def test_global_lock_names_what_fired_and_survives_a_restart(runs, name, what):
    case = runs[name]
    lock = case.seen["halted"]["lock"]
    sign, op = ("+", ">=") if what == "take_profit" else ("-", "<=")
    assert lock["pair"] == "*" and lock["side"] == "*"
    assert lock["reason"].startswith(f"{what}: portfolio {sign}") and lock["reason"].endswith(
        f" {op} {sign}3.00%"
    )
    # the same lock, read back at start: the exit did not fire (and lock) a second time
    after = case.seen["restarted"]["locks"]
    assert [(a["id"], a["reason"]) for a in after] == [(lock["id"], lock["reason"])]
    assert after[0]["lock_end_timestamp"] > time.time() * 1000 + 365 * 86_400_000
    before = log_text(case.bot.workdir / "freqtrade-before-restart.out")
    assert f"SmartPortfolio {lock['reason']}: " in before
    assert f"SmartPortfolio halted since {lock['lock_time']} UTC by {lock['reason']}" in log_text(
        case.bot.workdir / "freqtrade.out"
    )


@pytest.mark.parametrize(
    "name, what", [("sell_all", "selling every coin"), ("keep_coins", "keeping the coins")]
)
def test_one_webhook_message_says_what_fired(runs, name, what):
    case = runs[name]
    reason = case.seen["halted"]["lock"]["reason"]
    texts = [body["text"] for body in case.hooks.bodies]
    halts = [t for t in texts if t.startswith(("SmartPortfolio take_profit", "SmartPortfolio stop_loss"))]
    assert halts == [f"SmartPortfolio {reason}: {what}; rebalancing stopped (global lock)."], texts


def test_resuming_needs_the_lock_deleted_and_the_exit_rule_changed(runs):
    """Last (it changes the keep_coins bot). Deleting the lock alone does not resume: the portfolio is
    still past the stop-loss, which fires again at the next check. Without the stop-loss in the config,
    deleting the lock and reloading resumes the rebalancing."""
    case = runs["keep_coins"]
    bot, client = case.bot, case.bot.client()
    first = case.seen["restarted"]["lock"]
    client.delete_lock(first["id"])
    reload(bot)
    again = bot.wait_for("the stop-loss to fire again", lambda: halt_lock(bot), 30)
    assert again["id"] != first["id"] and again["reason"].startswith("stop_loss: portfolio -")

    del bot.config["smartfolio"]["stop_loss"]
    write_config(bot.config, bot.config_path)
    client.delete_lock(again["id"])
    reload(bot)

    def rebalanced() -> list[tuple[str, str, float, str]] | None:
        orders = [o for o in filled(api_trades(client)) if o[3].startswith("threshold: ")]
        return orders or None

    orders = bot.wait_for("a threshold rebalance after the reload", rebalanced, 30)
    assert {side for _, side, _, _ in orders} >= {"sell"}
    assert halt_lock(bot) is None
