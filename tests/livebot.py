"""``freqtrade trade`` in live mode (no ``--dry-run``) as a subprocess against the offline exchange: the
test harness the live end-to-end tests share (test_live_mode.py, test_live_restart.py,
test_live_faults.py, test_funding_live.py, test_compaction_live.py, test_delisting_live.py). It lives
under tests/ because it is no user feature.

    bot = LiveBot(config, workdir, "first").start()
    bot.wait_for("the first loop", bot.looped, timeout=60)
    bot.kill()        # SIGKILL: no clean-up, as a crash or an OOM kill
    bot.stop()        # SIGTERM: freqtrade cleans up and exits with 130

Every start of one ``workdir`` shares its sqlite database, as a restarted deployment does; each
``name`` gets its own config, log file and console output. Also here: the scenario several live tests
share (:data:`START`, :func:`calm_exchange`, :func:`scenario_config`) and :class:`Hooks`, a webhook
receiver (the dry-run tests use it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.accounts import Order
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.live.dryrun import freqtrade_trade_command, stop_process, write_config
from freqtrade_smartfolio.portfolio.lots import floor_to_step

T = TypeVar("T")

# The scenario test_live_faults.py, test_live_restart.py and test_compaction_live.py share: a 40/30/30
# portfolio of 3000 USDT in a 5-point band, shifted to 20/40/40 (and back), on 1h candles replayed at 60x
# from a calm morning (no rebalance of its own within a test).
START = {"BTC": 40, "ETH": 30, "SOL": 30}
SHIFTED = {"BTC": 20, "ETH": 40, "SOL": 40}
COINS = list(START)
INVESTMENT = 3000
BAND = 5.0  # the rebalance threshold, percentage points
REPLAY_FROM = "2024-02-27T10:00"


@contextlib.contextmanager
def calm_exchange(
    datadir: Path, account: str = f"::USDT={INVESTMENT}"
) -> Iterator[tuple[OfflineExchange, str, str]]:
    """The offline exchange replaying ``datadir`` from :data:`REPLAY_FROM` at 60x with one ``account``:
    (exchange, its key, its secret)."""
    clock = Clock(replay_from_ms=parse_time(REPLAY_FROM), speed=60)
    with OfflineExchange(datadir, clock=clock, accounts=[account]) as exchange:
        creds = exchange.credentials[0]
        yield exchange, creds.key, creds.secret


def scenario_config(
    exchange: OfflineExchange, key: str, secret: str, targets: dict[str, float], **extra: Any
) -> dict[str, Any]:
    """:func:`live_config` of the scenario (its investment and band) at ``targets``."""
    return live_config(exchange.url, key, secret, targets, INVESTMENT, BAND, extra=extra)


class LiveBot:
    """``freqtrade trade`` (live: no ``--dry-run``) as a subprocess with its own folder, database and log."""

    def __init__(self, config: dict[str, Any], workdir: Path, name: str) -> None:
        self.workdir, self.config, self.name = workdir, config, name
        self.config_path = workdir / f"{name}.json"
        self.log_path = workdir / f"{name}.log"
        self.db_path = workdir / "tradesv3.sqlite"  # shared by restarts, as in a real deployment
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        userdir = self.workdir / "user_data"
        return freqtrade_trade_command(self.config_path, self.db_path, userdir, self.log_path, dry_run=False)

    def start(self) -> Self:
        (self.workdir / "user_data").mkdir(exist_ok=True)
        write_config(self.config, self.config_path)  # owner-only: it holds the API key
        with open(self.log_path.with_suffix(".out"), "wb") as out:
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "COLUMNS": "400"},  # console lines unwrapped, like the log file
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """freqtrade's log file, or its console output (the same lines) if there is no file."""
        for path in (self.log_path, self.log_path.with_suffix(".out")):
            if path.exists() and path.stat().st_size:
                return path.read_text(errors="replace")
        return ""

    def looped(self) -> bool:
        """True once freqtrade has finished a loop (its first heartbeat is logged after one)."""
        return "Bot heartbeat" in self.log()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
        """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` with the end
        of freqtrade's log if it exits first or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise AssertionError(f"freqtrade exited ({code}) before {what}:\n{self.tail()}")
            if result := check():
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {what} after {timeout:.0f}s; freqtrade's log ends with:\n{self.tail()}"
                )
            time.sleep(interval)

    def stop(self) -> int | None:
        """SIGTERM: freqtrade cleans up and exits with 130 (its code for an interrupt)."""
        return stop_process(self.process)

    def kill(self) -> int | None:
        """SIGKILL: the process dies at once, mid-loop, with no clean-up (returns -9)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        return self.process.returncode


# ---------------------------------------------------------------- freqtrade's database (read-only)


@dataclass(frozen=True)
class DbOrder:
    """One row of freqtrade's ``orders`` table."""

    order_id: str
    pair: str
    side: str
    status: str
    is_open: bool
    amount: float
    filled: float
    tag: str


def _read(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
        try:
            return con.execute(query).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []  # freqtrade has not created its tables yet (a loaded machine starts it slowly)
            raise


def db_trades(db: Path) -> dict[str, dict[str, float]]:
    """Open trades in freqtrade's database: pair -> amount and stake."""
    if not db.exists():
        return {}
    rows = _read(db, "SELECT pair, amount, stake_amount FROM trades WHERE is_open = 1")
    return {pair: {"amount": amount, "stake": stake} for pair, amount, stake in rows}


def db_orders(db: Path) -> list[DbOrder]:
    """Every order freqtrade recorded, in the order it recorded them."""
    if not db.exists():
        return []
    rows = _read(
        db,
        "SELECT order_id, ft_pair, ft_order_side, status, ft_is_open, COALESCE(amount, ft_amount), "
        "COALESCE(filled, 0), COALESCE(ft_order_tag, '') FROM orders ORDER BY id",
    )
    return [DbOrder(str(r[0]), r[1], r[2], r[3] or "", bool(r[4]), r[5], r[6], r[7]) for r in rows]


# ---------------------------------------------------------------- the offline exchange's side


def release(store: AccountStore, order: Order) -> None:
    """Let an order held by a ``late``/``never_fill`` fault fill at the exchange's next look (the next
    signed request): the fault has cleared."""
    with store.lock:
        order.never = False
        order.hold_requests = None
        order.hold_until_ms = store.now()


def exchange_orders(store: AccountStore, key: str, since_id: int = 0) -> list[Order]:
    """The account's orders with an id above ``since_id``, oldest first."""
    with store.lock:
        return sorted(
            (o for o in store.orders.values() if o.key == key and o.order_id > since_id),
            key=lambda o: o.order_id,
        )


def live_config(
    url: str,
    key: str,
    secret: str,
    portfolio: dict[str, float],
    investment: float,
    threshold: float = 5.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A live (``dry_run: false``) config on 1m candles, a loop a second and a heartbeat every 5 s, for
    the offline exchange at ``url`` and its account ``key``/``secret``; ``extra`` overrides top-level
    keys (e.g. ``unfilledtimeout``)."""
    from freqtrade_smartfolio.freqtrade_config import build_config

    config = build_config(
        {
            "portfolio": portfolio,
            "investment": investment,
            "rebalance": {"mode": "proportional", "threshold": threshold},
        },
        timeframe="1m",
        exchange_url=url,
        dry_run=False,
        extra={"internals": {"process_throttle_secs": 1, "heartbeat_interval": 5}, **(extra or {})},
    )
    config["exchange"]["key"], config["exchange"]["secret"] = key, secret
    return config


def weights(
    store: AccountStore, key: str, coins: list[str], quote: str = "USDT", reserve: float = 0.0
) -> dict[str, float]:
    """Percent of the portfolio's value in each coin (and ``quote``) at the exchange's current prices;
    the portfolio is the account less ``reserve`` of ``quote`` kept outside it."""
    balances = store.balances(key)
    values = {coin: balances.get(coin, 0.0) * store.feed.price(coin) for coin in coins}
    values[quote] = balances.get(quote, 0.0) - reserve
    total = sum(values.values())
    return {asset: 100.0 * value / total for asset, value in values.items()}


def out_of_band(
    store: AccountStore,
    key: str,
    targets: dict[str, float],
    band: float,
    quote: str = "USDT",
    reserve: float = 0.0,
) -> list[str]:
    """The coins (and cash) further than ``band`` percentage points from their ``targets`` (percent)."""
    now = weights(store, key, list(targets), quote, reserve)
    goals = {**targets, quote: 100.0 - sum(targets.values())}
    return [f"{a} {now[a]:.2f}% (target {goals[a]:.2f}%)" for a in goals if abs(now[a] - goals[a]) > band]


def book_mismatches(store: AccountStore, key: str, db: Path, coins: list[str]) -> list[str]:
    """Where freqtrade's database and the exchange account disagree: an open trade's amount that is not
    the coin's balance floored to the lot step, a coin held without a trade, an order of the account
    freqtrade does not know, or an order still open in either. Empty when they agree."""
    problems = []
    balances = store.balances(key)
    trades = db_trades(db)
    for coin in coins:
        step = store.rules(coin).step_size
        held = floor_to_step(balances.get(coin, 0.0), step)
        booked = trades.get(f"{coin}/USDT", {}).get("amount", 0.0)
        if abs(held - booked) > step / 2:
            problems.append(
                f"{coin}: the account holds {held:.8f} (floored to {step:g}), freqtrade {booked:.8f}"
            )
    known = {o.order_id: o for o in db_orders(db)}
    for order in exchange_orders(store, key):
        if str(order.order_id) not in known:
            problems.append(
                f"order {order.order_id} ({order.side} {order.symbol}) is not in freqtrade's database"
            )
        if order.is_open:
            problems.append(f"order {order.order_id} ({order.side} {order.symbol}) is still open")
    problems += [
        f"freqtrade still has order {o.order_id} ({o.side} {o.pair}) open"
        for o in known.values()
        if o.is_open
    ]
    return problems


def settled(
    exchange: OfflineExchange, key: str, bot: LiveBot, targets: dict[str, float], reserve: float = 0.0
) -> bool:
    """The scenario at rest: nothing open, freqtrade's book equal to the account, every weight within
    :data:`BAND` of ``targets`` (the account less ``reserve`` USDT is the portfolio)."""
    store = exchange.accounts
    return (
        not store.open_orders(key, None)
        and not book_mismatches(store, key, bot.db_path, COINS)
        and not out_of_band(store, key, targets, BAND, reserve=reserve)
    )


class Hooks(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that keeps every JSON body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                length = int(handler.headers.get("Content-Length", 0))
                self.bodies.append(json.loads(handler.rfile.read(length) or b"{}"))
                handler.send_response(200)
                handler.end_headers()

            def log_message(handler, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def webhook(self) -> dict[str, Any]:
        """freqtrade's ``webhook`` section that posts every message, the strategy's as ``{"text": msg}``,
        here."""
        return {
            "enabled": True,
            "url": self.url,
            "format": "json",
            "allow_custom_messages": True,
            "strategy_msg": {"text": "{msg}"},
        }
