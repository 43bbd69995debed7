"""Long run: ``freqtrade trade --dry-run`` with SmartPortfolio on the offline exchange for a simulated month
of real 5m candles, sampling the bot's memory, its loop time and the orders it has gathered
(docs/reliability.md, "Long run"; tests/test_long_run.py is the two-minute CI variant).

    .venv/bin/python benchmarks/long_run.py --days 30 --speed 1440 --out run/long_run_month   # ~31 min
    .venv/bin/python benchmarks/long_run.py --days 6 --seed-orders 10000 --out run/seed10k   # trades hold 10k
    .venv/bin/python benchmarks/long_run.py --compare run/*/raw.json --png runs.png          # against orders

Pace. freqtrade refreshes candles and the strategy plans once per closed candle of freqtrade's timeframe on
the *wall clock*, and freqtrade accepts no timeframe below 1m (nor a fractional ``process_throttle_secs``).
So the bot runs on 1m candles and the replay clock compresses the data: at ``--speed 1440`` every served 1m
candle aggregates one data day (288 real 5m candles), the strategy checks the portfolio once per wall minute
(once per data day) and freqtrade loops about once a second (``process_throttle_secs`` 1), each loop seeing
24 data minutes (~5 real 5m candles) of price movement; fills come at the replayed 5m prices.

Measures, without touching freqtrade's code:

* loop time: freqtrade's worker logs ``====`` when an iteration starts and ``Throttling ... last iteration
  took`` when it ends (debug level). The config's ``log_config`` sends only the ``freqtrade.worker`` logger's
  debug lines to ``loops.log`` with ``%(created)f`` stamps; a loop's time is the gap between the two lines
  (its ``process()`` call: candles, strategy, orders, database), to the microsecond.
* CPU per loop: user + system time of the process (``/proc/<pid>/stat``) per sample, over the loops in it
  (an idle loop mostly waits for ccxt's rate limiter, so CPU shows freqtrade's own work better).
* memory: ``VmRSS`` of the freqtrade process from ``/proc/<pid>/status``, every ``--sample-secs``.
* orders: ``SELECT COUNT(*) FROM orders`` on freqtrade's sqlite database (read-only), every sample.

``--seed-orders N`` starts the bot on trades that already hold N closed orders (:func:`seed_database`);
``--profile`` runs freqtrade under cProfile (``bot/freqtrade.prof``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.adapter.cash import COMPACTION_TAG  # noqa: E402
from freqtrade_smartfolio.exchange import OfflineExchange  # noqa: E402
from freqtrade_smartfolio.exchange.feed import Clock, parse_time  # noqa: E402
from freqtrade_smartfolio.freqtrade_config import build_config  # noqa: E402
from freqtrade_smartfolio.live.dryrun import DryRunBot  # noqa: E402
from freqtrade_smartfolio.live.records import group_rebalances, orders_from_db  # noqa: E402
from freqtrade_smartfolio.marketdata import find_data_dir  # noqa: E402

COINS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "UNI", "AAVE"]
START = "2024-03-01T00:00"
LOOP_START = "========================================"
LOOP_END = re.compile(r"Throttling with '_process_running\(\)'.*last iteration took ([\d.]+) s")
PLAN = re.compile(r"Candle \S+ \S+: Rebalance \(")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class LongRunSettings:
    """What to run: ``days`` of data from ``start`` on ``coins`` (equal weights), ``speed`` data time per
    wall time, a ``threshold`` (percentage points, absolute band) and freqtrade's loop throttle."""

    days: float = 30.0
    coins: tuple[str, ...] = tuple(COINS)
    speed: int = 1440
    start: str = START
    threshold: float = 0.5
    investment: float = 10_000.0
    throttle_secs: int = 1
    sample_secs: float = 5.0
    timeframe: str = "1m"
    seed_orders: int = 0  # closed orders the trades hold before the bot starts (see seed_database)
    # smartfolio.compact_after_orders; 0: off (as every run before compaction existed). The command line's
    # default is the strategy's (100).
    compact_after_orders: int = 0
    # start on the database a previous run left in the same folder (e.g. after its compaction) instead of
    # a new one; seed_orders is then ignored
    reuse_db: bool = False

    def __post_init__(self) -> None:
        if self.speed * 60 % 300:
            raise ValueError(
                f"speed={self.speed}: one 1m candle must hold whole 5m candles (a multiple of 5)"
            )
        if 100 % len(self.coins):
            raise ValueError(f"{len(self.coins)} coins: equal weights need a count that divides 100")

    @property
    def candles_per_check(self) -> int:
        """Real 5m candles in one served 1m candle (the strategy checks once per served candle)."""
        return self.speed * 60 // 300


@dataclass
class Loop:
    wall: float  # epoch seconds at the loop's start
    seconds: float  # the loop's duration
    sim_ms: float  # data time at the loop's start


@dataclass
class Sample:
    wall: float
    sim_ms: float
    rss_mb: float
    cpu_s: float  # CPU time (user + system) the freqtrade process has used so far
    orders: int
    trades: int
    loops: list[Loop] = field(default_factory=list)
    held: int = -1  # orders of the open trades (what freqtrade reads each loop); -1 when not read


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass
class LongRunResult:
    settings: LongRunSettings
    workdir: Path
    samples: list[Sample]
    loops: list[Loop]
    plans: int  # rebalance plans the strategy logged (initial allocation included)
    rebalances: int  # groups of filled orders (smartfolio records)
    orders: int
    seeded: int  # orders seed_database put in before the start
    code: str  # code_version() at the start
    tracebacks: int
    errors: int
    wall_seconds: float
    first_loop_wall: float
    exit_code: int | None
    compactions: int = 0  # trades closed by a compaction at the end of the run

    # --- quarters: by simulated time from the first loop to the end of the run
    def _quarter(self, which: int) -> tuple[float, float]:
        lo = self.loops[0].sim_ms if self.loops else 0.0
        hi = self.samples[-1].sim_ms if self.samples else lo
        step = (hi - lo) / 4
        return lo + which * step, lo + (which + 1) * step

    def loop_median(self, which: int) -> float:
        a, b = self._quarter(which)
        return _median([x.seconds for x in self.loops if a <= x.sim_ms <= b])

    def check_loop_median(self, which: int) -> float:
        """Median over served candles of the slowest loop of each candle (the loop that plans and trades)."""
        a, b = self._quarter(which)
        slowest: dict[int, float] = {}
        for x in self.loops:
            if a <= x.sim_ms <= b:
                minute = int(x.wall // 60)
                slowest[minute] = max(slowest.get(minute, 0.0), x.seconds)
        return _median(list(slowest.values()))

    def cpu_per_loop(self) -> list[tuple[Sample, float]]:
        """(sample, CPU seconds per loop since the previous sample) for samples that saw loops."""
        pairs = []
        for prev, cur in zip(self.samples, self.samples[1:], strict=False):
            if cur.loops and cur.cpu_s >= prev.cpu_s > 0:
                pairs.append((cur, (cur.cpu_s - prev.cpu_s) / len(cur.loops)))
        return pairs

    def cpu_median(self, which: int) -> float:
        a, b = self._quarter(which)
        return _median([cpu for s, cpu in self.cpu_per_loop() if a <= s.sim_ms <= b])

    def rss_median(self, which: int) -> float:
        a, b = self._quarter(which)
        return _median([s.rss_mb for s in self.samples if a <= s.sim_ms <= b and s.rss_mb > 0])

    def orders_at_quarter_end(self, which: int) -> int:
        _, b = self._quarter(which)
        return max((s.orders for s in self.samples if s.sim_ms <= b), default=0)

    @property
    def simulated_days(self) -> float:
        if not self.loops or not self.samples:
            return 0.0
        return (self.samples[-1].sim_ms - self.loops[0].sim_ms) / DAY_MS

    def summary(self) -> dict[str, Any]:
        loop_first, loop_last = self.loop_median(0), self.loop_median(3)
        check_first, check_last = self.check_loop_median(0), self.check_loop_median(3)
        rss_first, rss_last = self.rss_median(0), self.rss_median(3)
        cpu_first, cpu_last = self.cpu_median(0), self.cpu_median(3)
        rss = [s.rss_mb for s in self.samples if s.rss_mb > 0 and s.wall >= self.first_loop_wall]
        return {
            "simulated_days": round(self.simulated_days, 2),
            "wall_seconds": round(self.wall_seconds, 1),
            "loops": len(self.loops),
            "checks": len({int(x.wall // 60) for x in self.loops}),
            "candles_per_check": self.settings.candles_per_check,
            "orders": self.orders,
            "seeded": self.seeded,
            "compact_after_orders": self.settings.compact_after_orders,
            "compactions": self.compactions,
            "orders_after_q1": self.orders_at_quarter_end(0),
            "plans": self.plans,
            "rebalances": self.rebalances,
            "loop_ms_q1": round(1000 * loop_first, 2),
            "loop_ms_q4": round(1000 * loop_last, 2),
            "loop_ratio": round(loop_last / loop_first, 3),
            "check_loop_ms_q1": round(1000 * check_first, 1),
            "check_loop_ms_q4": round(1000 * check_last, 1),
            "check_loop_ratio": round(check_last / check_first, 3),
            "cpu_ms_per_loop_q1": round(1000 * cpu_first, 1),
            "cpu_ms_per_loop_q4": round(1000 * cpu_last, 1),
            "cpu_ratio": round(cpu_last / cpu_first, 3),
            "rss_mb_q1": round(rss_first, 1),
            "rss_mb_q4": round(rss_last, 1),
            "rss_ratio": round(rss_last / rss_first, 3),
            "rss_growth_mb": round(rss_last - rss_first, 1),
            "loop_ms_all": round(1000 * _median([x.seconds for x in self.loops]), 2),
            "cpu_ms_per_loop_all": round(1000 * _median([c for _, c in self.cpu_per_loop()]), 1),
            "rss_mb_all": round(_median(rss), 1) if rss else None,
            "first_loop_s": round(self.loops[0].seconds, 2) if self.loops else None,
            "held_max": max((x.held for x in self.samples), default=-1),
            "held_median": round(_median([float(x.held) for x in self.samples if x.held >= 0]), 1),
            "rss_mb_first_loop": round(rss[0], 1) if rss else None,
            "rss_mb_peak": round(max(rss), 1) if rss else None,
            "tracebacks": self.tracebacks,
            "errors": self.errors,
            "exit_code": self.exit_code,
        }


def loop_log_config(path: Path) -> dict[str, Any]:
    """freqtrade's default logging (console and ``--logfile`` at INFO) plus the worker's debug lines, stamped
    with ``%(created)f``, in ``path``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "basic": {"format": "%(message)s"},
            "standard": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"},
            "stamped": {"format": "%(created).6f %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "freqtrade.loggers.ft_rich_handler.FtRichHandler",
                "formatter": "basic",
                "level": "INFO",
            },
            "file": {  # freqtrade sets the filename from --logfile
                "class": "logging.handlers.RotatingFileHandler",
                "formatter": "standard",
                "filename": "freqtrade.log",
                "maxBytes": 10 * 1024 * 1024,
                "backupCount": 10,
                "level": "INFO",
            },
            "loops": {"class": "logging.FileHandler", "formatter": "stamped", "filename": str(path)},
        },
        "loggers": {"freqtrade.worker": {"level": "DEBUG", "handlers": ["loops"], "propagate": True}},
        "root": {"handlers": ["console"], "level": "INFO"},
    }


def bot_config(settings: LongRunSettings, exchange_url: str, loops_log: Path) -> dict[str, Any]:
    weight = 100 // len(settings.coins)
    config = build_config(
        {
            "portfolio": dict.fromkeys(settings.coins, weight),
            "investment": settings.investment,
            "rebalance": {"mode": "proportional", "threshold": settings.threshold},
            "compact_after_orders": settings.compact_after_orders or False,
        },
        timeframe=settings.timeframe,
        exchange_url=exchange_url,
        api_server=True,
        extra={
            "internals": {"process_throttle_secs": settings.throttle_secs},
            "log_config": loop_log_config(loops_log),
            # freqtrade skips its logging setup when PYTEST_VERSION is set (the CI variant runs under pytest)
            "ft_tests_force_logging": True,
        },
    )
    config["api_server"]["listen_port"] = 0
    return config


def code_version() -> str:
    """The checkout's commit, with the files changed since (the tree may be shared while the run lasts)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(REPO), "diff", "--name-only", "HEAD", "--", "freqtrade_smartfolio"],
            capture_output=True,
            text=True,
        ).stdout.split()
    except OSError:
        return "unknown"
    return commit + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_orders(db_path: Path) -> tuple[int, int]:
    """(orders, trades) in freqtrade's database, read-only; (-1, -1) while it is locked or not created."""
    orders, trades, _ = count_held(db_path)
    return orders, trades


def count_held(db_path: Path) -> tuple[int, int, int]:
    """(orders, trades, orders of the open trades) in freqtrade's database, read-only; -1s while it is
    locked or not created."""
    if not db_path.exists():
        return -1, -1, -1
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2) as db:
            orders = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
            trades = db.execute("SELECT COUNT(*) FROM trades").fetchone()[0]
            held = db.execute(
                "SELECT COUNT(*) FROM orders o JOIN trades t ON o.ft_trade_id = t.id WHERE t.is_open = 1"
            ).fetchone()[0]
        return int(orders), int(trades), int(held)
    except sqlite3.Error:
        return -1, -1, -1


def count_compactions(db_path: Path) -> int:
    """Trades closed by a compaction (adapter/compaction.py), read-only."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2) as db:
            row = db.execute(
                "SELECT COUNT(*) FROM trades WHERE exit_reason = ?", (COMPACTION_TAG,)
            ).fetchone()
        return int(row[0])
    except sqlite3.Error:
        return -1


class ProfiledBot(DryRunBot):
    """The same bot under cProfile (``python -m cProfile -o freqtrade.prof -m freqtrade ...``): the profile is
    written when freqtrade exits. Loops are slower under the profiler; use it to see where time goes."""

    def command(self) -> list[str]:
        command = super().command()
        assert command[1:3] == ["-m", "freqtrade"]
        return [command[0], "-m", "cProfile", "-o", str(self.workdir / "freqtrade.prof"), *command[1:]]


class LoopReader:
    """Reads new ``loops.log`` lines and pairs each iteration's start with its end."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path, self.clock = path, clock
        self.offset = 0
        self.started: float | None = None

    def read(self) -> list[Loop]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            chunk = file.read()
        end = chunk.rfind(b"\n") + 1  # whole lines only
        self.offset += end
        loops = []
        for line in chunk[:end].decode(errors="replace").splitlines():
            stamp, _, message = line.partition(" ")
            try:
                created = float(stamp)
            except ValueError:
                continue
            if message == LOOP_START:
                self.started = created
            elif self.started is not None and LOOP_END.search(message):
                loops.append(
                    Loop(self.started, created - self.started, self.clock.to_data(1000 * self.started))
                )
                self.started = None
        return loops


def count_in_logs(workdir: Path, pattern: str) -> int:
    """Matches in freqtrade's log files or in its console output, whichever has more (the console repeats
    the log at INFO, and alone holds what freqtrade printed before its logging was set up)."""

    def count(paths: list[Path]) -> int:
        return sum(len(re.findall(pattern, p.read_text(errors="replace"))) for p in paths if p.is_file())

    return max(count(sorted(workdir.glob("freqtrade.log*"))), count([workdir / "freqtrade.out"]))


def start_prices(coins: tuple[str, ...], start: str, datadir: Path) -> dict[str, float]:
    """Each coin's last 5m close before ``start``."""
    import pandas as pd

    when = pd.Timestamp(parse_time(start), unit="ms", tz="UTC")
    prices = {}
    for coin in coins:
        frame = pd.read_feather(datadir / f"{coin}_USDT-5m.feather")
        prices[coin] = float(frame.loc[frame["date"] < when, "close"].iloc[-1])
    return prices


def seed_database(db_url: str, settings: LongRunSettings, datadir: Path, exchange_id: str = "binance") -> int:
    """Fill an empty freqtrade database with the portfolio's open trades, already holding
    ``settings.seed_orders`` closed orders between them, through freqtrade's own models: each trade
    starts with its initial buy at the last close before ``start`` and then alternates sales and buys of
    5% of the position at that price (sales 0.2% higher: realised profit about zero, the cash unchanged).
    The bot then starts on trades that look as if they had traded for a long time. Run it in a fresh
    interpreter (it initialises freqtrade's global database session)."""
    from datetime import timedelta

    from freqtrade.enums import TradingMode
    from freqtrade.persistence import Order, Trade, init_db

    from freqtrade_smartfolio.exchange.markets import market_rules

    init_db(db_url)
    prices = start_prices(settings.coins, settings.start, datadir)
    per_trade = max(1, settings.seed_orders // len(settings.coins))
    fee = 0.001
    first = datetime.now(UTC) - timedelta(seconds=per_trade + 60)
    count = 0
    for coin in settings.coins:
        rules = market_rules(coin, datadir, timeframe=None)
        price = prices[coin]
        step = rules.step_size

        def lots(value: float, step: float = step, price: float = price) -> float:
            return round(int(value / price / step) * step, 10)

        amount = lots(settings.investment / len(settings.coins) * 0.995)
        swing = max(lots(settings.investment / len(settings.coins) * 0.05), step)
        pair = f"{coin}/USDT"
        trade = Trade(
            pair=pair,
            base_currency=coin,
            stake_currency="USDT",
            stake_amount=amount * price,
            amount=0,
            is_open=True,
            amount_requested=amount,
            fee_open=fee,
            fee_close=fee,
            fee_open_currency="USDT",
            fee_close_currency="USDT",
            open_rate=price,
            open_rate_requested=price,
            open_date=first,
            exchange=exchange_id,
            strategy="SmartPortfolio",
            enter_tag="initial allocation",
            timeframe=1,
            leverage=1.0,
            is_short=False,
            trading_mode=TradingMode.SPOT,
            amount_precision=step,
            price_precision=rules.tick_size,
            precision_mode=4,  # ccxt TICK_SIZE
            precision_mode_price=4,
            contract_size=1.0,
        )
        trade.adjust_stop_loss(price, -1.0, initial=True)
        for i in range(per_trade):
            side = "buy" if i % 2 == 0 else "sell"
            size = amount if i == 0 else swing
            # sales a little above the buys, so that their realised profit pays the fees (about zero)
            fill = price if side == "buy" else price * (1 + fee) / (1 - fee)
            tag = "initial allocation" if i == 0 else f"seeded: history | {side} {coin}"
            when = first + timedelta(seconds=i)
            order = Order.parse_from_ccxt_object(
                {
                    "id": f"seeded_{coin}_{i}",
                    "symbol": pair,
                    "status": "closed",
                    "type": "market",
                    "side": side,
                    "price": fill,
                    "average": fill,
                    "amount": size,
                    "filled": size,
                    "remaining": 0.0,
                    "cost": size * fill,
                    "timestamp": int(when.timestamp() * 1000),
                    "lastTradeTimestamp": int(when.timestamp() * 1000),
                },
                pair,
                side,
            )
            order.ft_order_tag = tag
            trade.orders.append(order)
            count += 1
        trade.recalc_trade_from_orders()
        Trade.session.add(trade)
    Trade.commit()
    return count


def run_long(
    settings: LongRunSettings,
    workdir: Path,
    datadir: Path | None = None,
    progress: bool = False,
    profile: bool = False,
) -> LongRunResult:
    """Start the offline exchange and a dry-run bot, sample until ``settings.days`` of data have passed
    since the bot's first loop, stop both and collect the result."""
    workdir.mkdir(parents=True, exist_ok=True)
    if datadir is None:
        datadir = find_data_dir([f"{c}_USDT-5m.feather" for c in settings.coins])
    clock = Clock(replay_from_ms=parse_time(settings.start), speed=settings.speed)
    db_path = workdir / "tradesv3.sqlite"
    if not settings.reuse_db:
        for old in workdir.glob("tradesv3.sqlite*"):
            old.unlink()
    seeded = 0
    if settings.seed_orders and not settings.reuse_db:
        # freqtrade's persistence is global: seed in a fresh interpreter
        script = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); import long_run as L; "
            "from pathlib import Path; s = json.loads(sys.argv[2]); s['coins'] = tuple(s['coins']); "
            "print(L.seed_database(sys.argv[3], L.LongRunSettings(**s), Path(sys.argv[4])))"
        )
        seeding = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(Path(__file__).resolve().parent),
                json.dumps(asdict(settings)),
                f"sqlite:///{db_path}",
                str(datadir),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        seeded = int(seeding.stdout.strip().splitlines()[-1])
    loops_log = workdir / "loops.log"
    loops_log.unlink(missing_ok=True)
    reader = LoopReader(loops_log, clock)
    samples: list[Sample] = []
    loops: list[Loop] = []
    started = time.time()
    version = code_version()
    with OfflineExchange(datadir, clock=clock) as exchange:
        bot = (ProfiledBot if profile else DryRunBot)(bot_config(settings, exchange.url, loops_log), workdir)
        try:
            bot.start(timeout=120)
            assert bot.process is not None
            first = bot.wait_for("freqtrade's first loop", lambda: reader.read() or None, 120, 0.2)
            loops.extend(first)
            first_wall = first[0].wall
            end_ms = first[0].sim_ms + settings.days * DAY_MS
            last_print = 0.0
            while True:
                time.sleep(settings.sample_secs)
                if not bot.running:
                    raise RuntimeError(f"freqtrade exited early; its log ends with:\n{bot.log_tail()}")
                new = reader.read()
                loops.extend(new)
                orders, trades, held = count_held(bot.db_path)
                if orders < 0 and samples:
                    orders, trades, held = samples[-1].orders, samples[-1].trades, samples[-1].held
                now = time.time()
                pid = bot.process.pid
                sample = Sample(
                    now, clock.to_data(1000 * now), rss_mb(pid), cpu_seconds(pid), orders, trades, new, held
                )
                samples.append(sample)
                if progress and now - last_print >= 60:
                    last_print = now
                    done = (sample.sim_ms - first[0].sim_ms) / DAY_MS
                    recent = [x.seconds for x in loops[-60:]]
                    print(
                        f"  {done:5.1f}/{settings.days:g} days  {now - started:6.0f}s  "
                        f"rss {sample.rss_mb:6.1f} MB  orders {orders:5d} (open trades {held:5d})  "
                        f"loop median {1000 * statistics.median(recent):6.1f} ms",
                        flush=True,
                    )
                if sample.sim_ms >= end_ms:
                    break
        finally:
            exit_code = bot.stop()
    loops.extend(reader.read())
    try:
        records = orders_from_db(bot.db_path)
        records = group_rebalances(records[records["time"].map(lambda t: t.timestamp()) >= started])
        rebalances = int(records["rebalance"].nunique())
    except Exception:  # report what can be read
        rebalances = -1
    orders, _ = count_orders(bot.db_path)
    return LongRunResult(
        settings=settings,
        workdir=workdir,
        samples=samples,
        loops=loops,
        plans=count_in_logs(workdir, PLAN.pattern),
        rebalances=rebalances,
        orders=orders,
        seeded=seeded,
        compactions=count_compactions(bot.db_path),
        code=version,
        tracebacks=count_in_logs(workdir, r"Traceback"),
        errors=count_in_logs(workdir, r" - ERROR - "),
        wall_seconds=time.time() - started,
        first_loop_wall=first_wall,
        exit_code=exit_code,
    )


# ---------------------------------------------------------------------------------------------- output
def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_csvs(result: LongRunResult, out: Path) -> tuple[Path, Path]:
    """``samples.csv`` (one row per sample, with the loops since the previous one) and ``loops.csv``."""
    t0 = result.first_loop_wall
    samples_csv, loops_csv = out / "samples.csv", out / "loops.csv"
    with open(samples_csv, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "wall_s",
                "sim_time",
                "sim_days",
                "rss_mb",
                "cpu_s",
                "orders",
                "trades",
                "loops",
                "loop_median_ms",
                "loop_max_ms",
                "cpu_ms_per_loop",
            ]
        )
        cpu = {id(sample): value for sample, value in result.cpu_per_loop()}
        start_ms = result.loops[0].sim_ms
        for s in result.samples:
            secs = [x.seconds for x in s.loops]
            writer.writerow(
                [
                    f"{s.wall - t0:.1f}",
                    iso(s.sim_ms),
                    f"{(s.sim_ms - start_ms) / DAY_MS:.4f}",
                    f"{s.rss_mb:.1f}",
                    f"{s.cpu_s:.2f}",
                    s.orders,
                    s.trades,
                    len(secs),
                    f"{1000 * statistics.median(secs):.2f}" if secs else "",
                    f"{1000 * max(secs):.2f}" if secs else "",
                    f"{1000 * cpu[id(s)]:.2f}" if id(s) in cpu else "",
                ]
            )
    orders_at = [(s.wall, s.orders) for s in result.samples]
    with open(loops_csv, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["wall_s", "sim_time", "loop_ms", "orders"])
        i = 0
        for x in result.loops:
            while i + 1 < len(orders_at) and orders_at[i + 1][0] <= x.wall:
                i += 1
            orders = orders_at[i][1] if orders_at and orders_at[i][0] <= x.wall else 0
            writer.writerow([f"{x.wall - t0:.3f}", iso(x.sim_ms), f"{1000 * x.seconds:.3f}", orders])
    return samples_csv, loops_csv


def plot(result: LongRunResult, path: Path) -> Path:
    """RSS, loop time and CPU per loop against simulated time and against the orders gathered (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start_ms = result.loops[0].sim_ms
    samples = [s for s in result.samples if s.rss_mb > 0]

    def days(ms: float) -> float:
        return (ms - start_ms) / DAY_MS

    def orders_at(wall: float) -> int:
        before = [s.orders for s in samples if s.wall <= wall]
        return max(before[-1], 0) if before else 0

    loop_orders = [orders_at(x.wall) for x in result.loops]
    loop_ms = [1000 * x.seconds for x in result.loops]
    # Per served candle: the median loop and the slowest loop (the one that plans and trades).
    by_minute: dict[int, list[int]] = {}
    for k, x in enumerate(result.loops):
        by_minute.setdefault(int(x.wall // 60), []).append(k)
    minute_x = {
        "days": [statistics.median(days(result.loops[k].sim_ms) for k in ks) for ks in by_minute.values()],
        "orders": [max(loop_orders[k] for k in ks) for ks in by_minute.values()],
    }
    minute_median = [statistics.median(loop_ms[k] for k in ks) for ks in by_minute.values()]
    minute_max = [max(loop_ms[k] for k in ks) for ks in by_minute.values()]
    cpu = result.cpu_per_loop()
    rss_max = max((s.rss_mb for s in samples), default=1.0)
    cpu_max = max((1000 * c for _, c in cpu), default=1.0)

    fig, axes = plt.subplots(3, 2, figsize=(13, 11), constrained_layout=True)
    for col, (key, label) in enumerate([("days", "simulated days"), ("orders", "orders in the database")]):
        sample_x = [days(s.sim_ms) if key == "days" else max(s.orders, 0) for s in samples]
        loop_x = [days(x.sim_ms) for x in result.loops] if key == "days" else loop_orders
        cpu_x = [days(s.sim_ms) if key == "days" else max(s.orders, 0) for s, _ in cpu]
        ax = axes[0][col]
        style: dict[str, Any] = {"lw": 1.0} if key == "days" else {"lw": 0, "marker": ".", "ms": 3}
        ax.plot(sample_x, [s.rss_mb for s in samples], color="#2f80ed", **style)
        ax.set_ylabel("freqtrade RSS (MiB)")
        ax.set_ylim(0, rss_max * 1.15)
        ax = axes[1][col]
        ax.scatter(loop_x, loop_ms, s=3, color="#9b9b9b", alpha=0.35, label="every loop")
        ax.plot(minute_x[key], minute_median, color="#2f80ed", label="median loop per served candle", **style)
        ax.plot(
            minute_x[key],
            minute_max,
            color="#eb5757",
            label="slowest loop per candle (plans, trades)",
            **style,
        )
        ax.set_yscale("log")
        ax.set_ylabel("loop time (ms)")
        ax.legend(loc="upper left", fontsize=8)
        ax = axes[2][col]
        ax.plot(cpu_x, [1000 * c for _, c in cpu], color="#27ae60", **style)
        ax.set_ylabel(f"CPU per loop (ms, {result.settings.sample_secs:g} s windows)")
        ax.set_ylim(0, cpu_max * 1.15)
        for ax in axes[:, col]:
            ax.set_xlabel(label)
            ax.grid(alpha=0.3, which="both")
    st = result.settings
    fig.suptitle(
        f"SmartPortfolio dry-run, {len(st.coins)} coins, proportional {st.threshold:g} pp: "
        f"{result.simulated_days:.1f} simulated days of 5m data in {result.wall_seconds / 60:.0f} min, "
        f"{result.orders} orders",
        fontsize=11,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_runs(results: list[LongRunResult], path: Path) -> Path:
    """Several runs (e.g. seeded with 0, 3,000 and 10,000 orders) on one orders axis: median loop time,
    CPU per loop and RSS of each sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for result in results:
        st = result.settings
        label = f"{result.simulated_days:.0f} days, {st.seed_orders:,} orders seeded"
        samples = [s for s in result.samples if s.loops and s.orders >= 0]
        axes[0].plot(
            [s.orders for s in samples],
            [1000 * statistics.median(x.seconds for x in s.loops) for s in samples],
            ".",
            ms=3,
            label=label,
        )
        cpu = result.cpu_per_loop()
        axes[1].plot([s.orders for s, _ in cpu], [1000 * c for _, c in cpu], ".", ms=3, label=label)
        axes[2].plot([s.orders for s in samples], [s.rss_mb for s in samples], ".", ms=3, label=label)
    for ax, ylabel in zip(
        axes, ["median loop time (ms)", "CPU per loop (ms)", "freqtrade RSS (MiB)"], strict=True
    ):
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlabel("orders held by the open trades")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "The same bot with trades that hold more orders (5 s samples; symlog orders axis)", fontsize=11
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_seeded(results: list[LongRunResult], path: Path) -> Path:
    """Runs seeded with different histories (e.g. 0, 10,000 and 50,000 orders) with compaction on, against
    simulated time: median loop time and CPU per loop of each sample, RSS, and the orders the open trades
    hold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), constrained_layout=True)
    for result in results:
        st = result.settings
        label = f"{result.seeded:,} orders of history, compaction after {st.compact_after_orders or 'never'}"
        if st.reuse_db:
            at_start = result.samples[0].orders if result.samples else 0
            label = f"restart on a compacted database of {at_start:,} orders"
        t0 = result.loops[0].sim_ms if result.loops else 0.0

        def days(ms: float, t0: float = t0) -> float:
            return (ms - t0) / DAY_MS

        samples = [s for s in result.samples if s.loops]
        axes[0].plot(
            [days(s.sim_ms) for s in samples],
            [1000 * statistics.median(x.seconds for x in s.loops) for s in samples],
            ".-",
            ms=3,
            lw=0.6,
            label=label,
        )
        cpu = result.cpu_per_loop()
        axes[1].plot([days(s.sim_ms) for s, _ in cpu], [1000 * c for _, c in cpu], ".-", ms=3, lw=0.6)
        rss = [s for s in result.samples if s.rss_mb > 0]
        axes[2].plot([days(s.sim_ms) for s in rss], [s.rss_mb for s in rss], ".-", ms=3, lw=0.6)
        held = [s for s in result.samples if s.held >= 0]
        axes[3].plot([days(s.sim_ms) for s in held], [s.held for s in held], ".-", ms=3, lw=0.6)
    labels = [
        "median loop time (ms)",
        "CPU per loop (ms)",
        "freqtrade RSS (MiB)",
        "orders of the open trades",
    ]
    for ax, ylabel in zip(axes, labels, strict=True):
        ax.set_xlabel("simulated days since the first loop")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    machine = machine_info()
    fig.suptitle(
        "The same dry-run bot on trades seeded with years of orders, compacted on its first loop "
        f"(5 s samples; {machine['nproc']} CPUs {machine['cpu']})",
        fontsize=10,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_comparison(results: list[LongRunResult], machine: dict[str, str]) -> str:
    """One row per run (markdown) and each figure's ratio to the first run's."""
    rows = [(r, r.summary()) for r in results]
    base = rows[0][1]
    lines = [
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"load average now {machine['load_avg']}",
        "",
        "| orders of history | compaction after | trades compacted | first loop (s) | loop median (ms) "
        "| ratio | CPU per loop (ms) | ratio | slowest loop per candle (ms) | RSS median (MiB) "
        "| RSS first->last quarter (MiB) | orders held (median/max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result, s in rows:
        check = _median([x for x in (result.check_loop_median(q) for q in range(4)) if not math.isnan(x)])
        history = f"{s['seeded']:,}"
        if result.settings.reuse_db:
            at_start = result.samples[0].orders if result.samples else 0
            history = f"{at_start:,} (restart on a compacted DB)"
        lines.append(
            f"| {history} | {s['compact_after_orders'] or 'never'} | {s['compactions']} "
            f"| {s['first_loop_s']} | {s['loop_ms_all']} | {s['loop_ms_all'] / base['loop_ms_all']:.2f} "
            f"| {s['cpu_ms_per_loop_all']} | {s['cpu_ms_per_loop_all'] / base['cpu_ms_per_loop_all']:.2f} "
            f"| {1000 * check:.0f} | {s['rss_mb_all']} | {s['rss_mb_q1']} -> {s['rss_mb_q4']} "
            f"| {s['held_median']:g} / {s['held_max']} |"
        )
    return "\n".join(lines)


def save_raw(result: LongRunResult, path: Path) -> Path:
    """Everything measured, as JSON (``--from-raw`` redoes the outputs from it)."""
    data = asdict(result)
    data["settings"]["coins"] = list(result.settings.coins)
    data["workdir"] = str(result.workdir)
    path.write_text(json.dumps(data))
    return path


def load_raw(path: Path) -> LongRunResult:
    data = json.loads(path.read_text())
    raw = data.pop("settings")
    samples = [Sample(**{**s, "loops": [Loop(**x) for x in s["loops"]]}) for s in data.pop("samples")]
    loops = [Loop(**x) for x in data.pop("loops")]
    data["workdir"] = Path(data["workdir"])
    data.setdefault("seeded", 0)
    data.setdefault("compactions", 0)
    data.setdefault("code", "unknown")
    settings = LongRunSettings(**{**raw, "coins": tuple(raw["coins"])})
    return LongRunResult(settings=settings, samples=samples, loops=loops, **data)


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if "MemTotal" in line
        ),
        0,
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram_gib": f"{mem / 1024**2:.1f}",
        "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def format_summary(result: LongRunResult, machine: dict[str, str]) -> str:
    s = result.summary()
    st = result.settings
    return "\n".join(
        [
            f"long run: {len(st.coins)} coins ({' '.join(st.coins)}), proportional, "
            f"threshold {st.threshold:g} pp, from {st.start}, speed {st.speed} (one served 1m candle = "
            f"{st.candles_per_check} real 5m candles, one check per wall minute), "
            f"process_throttle_secs {st.throttle_secs}",
            f"simulated {s['simulated_days']} days in {s['wall_seconds'] / 60:.1f} min wall; "
            f"{s['loops']} loops, {s['checks']} served candles",
            f"orders {s['orders']} ({s['seeded']} seeded before the start, {s['orders_after_q1']} after the "
            "first quarter), "
            f"rebalance plans {s['plans']}, rebalances (records) {s['rebalances']}",
            f"loop time median, first vs last quarter: {s['loop_ms_q1']} ms -> {s['loop_ms_q4']} ms "
            f"(x{s['loop_ratio']})",
            f"slowest loop per candle, median: {s['check_loop_ms_q1']} ms -> {s['check_loop_ms_q4']} ms "
            f"(x{s['check_loop_ratio']})",
            f"CPU per loop median, first vs last quarter: {s['cpu_ms_per_loop_q1']} ms -> "
            f"{s['cpu_ms_per_loop_q4']} ms (x{s['cpu_ratio']})",
            f"RSS median, first vs last quarter: {s['rss_mb_q1']} MiB -> {s['rss_mb_q4']} MiB "
            f"(x{s['rss_ratio']}, {s['rss_growth_mb']:+} MiB); "
            f"at the first loop {s['rss_mb_first_loop']} MiB, peak {s['rss_mb_peak']} MiB",
            f"compaction: after {st.compact_after_orders or 'never'} orders; {s['compactions']} trades "
            f"compacted; orders held by the open trades: median {s['held_median']}, max {s['held_max']}; "
            f"first loop {s['first_loop_s']} s",
            f"whole run: loop median {s['loop_ms_all']} ms, "
            f"CPU per loop median {s['cpu_ms_per_loop_all']} ms, "
            f"RSS median {s['rss_mb_all']} MiB",
            f"tracebacks {s['tracebacks']}, ERROR lines {s['errors']}, freqtrade exit code {s['exit_code']}",
            f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
            f"load average at the end {machine['load_avg']}",
            f"code at the start: {result.code}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30.0, help="simulated days after the first loop (30)")
    parser.add_argument("--coins", default=",".join(COINS), help="comma-separated coins with 5m data")
    parser.add_argument(
        "--speed", type=int, default=1440, help="data time per wall time (1440: a day a minute)"
    )
    parser.add_argument("--start", default=START, help=f"first data time, UTC ({START})")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="rebalance band, percentage points (0.5)"
    )
    parser.add_argument("--throttle", type=int, default=1, help="freqtrade's process_throttle_secs (1)")
    parser.add_argument(
        "--seed-orders", type=int, default=0, help="closed orders the trades hold before the start (0)"
    )
    parser.add_argument(
        "--compact",
        type=int,
        default=100,
        help="smartfolio.compact_after_orders (100, the strategy's default; 0: never compact)",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="start on the database a previous run left in OUT/bot (e.g. compacted) instead of a new one",
    )
    parser.add_argument("--sample-secs", type=float, default=5.0, help="seconds between samples (5)")
    parser.add_argument("--out", type=Path, default=REPO / "run" / "long_run", help="output folder")
    parser.add_argument("--png", type=Path, default=None, help="plot file (default OUT/long_run.png)")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        default=None,
        help="plot several raw.json against the orders (--png)",
    )
    parser.add_argument("--profile", action="store_true", help="run freqtrade under cProfile (slower)")
    parser.add_argument(
        "--from-raw", type=Path, default=None, help="redo CSVs, plot, summary from a raw.json"
    )
    args = parser.parse_args(argv)
    settings = LongRunSettings(
        days=args.days,
        coins=tuple(c.strip().upper() for c in args.coins.split(",") if c.strip()),
        speed=args.speed,
        start=args.start,
        threshold=args.threshold,
        throttle_secs=args.throttle,
        sample_secs=args.sample_secs,
        seed_orders=args.seed_orders,
        compact_after_orders=args.compact,
        reuse_db=args.reuse_db,
    )
    out = args.out.resolve()
    if args.compare:
        results = [load_raw(path) for path in args.compare]
        png = args.png or out / "runs.png"
        if any(r.settings.compact_after_orders for r in results):
            print(format_comparison(results, machine_info()))
            print(f"plot: {plot_seeded(results, png)}")
        else:
            print(f"plot: {plot_runs(results, png)}")
        return 0
    print(f"long run into {out}: {settings}", flush=True)
    if args.from_raw:
        result = load_raw(args.from_raw)
    else:
        result = run_long(settings, out / "bot", progress=True, profile=args.profile)
        save_raw(result, out / "raw.json")
    samples_csv, loops_csv = write_csvs(result, out)
    png = plot(result, (args.png or out / "long_run.png").resolve())
    text = format_summary(result, machine_info())
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"samples: {samples_csv}\nloops: {loops_csv}\nplot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
