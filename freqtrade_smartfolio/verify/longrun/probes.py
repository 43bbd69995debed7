"""How a long run watches the bot without touching freqtrade's code: its config (the worker's debug lines
stamped into ``loops.log``), the loops read back from that log, the process's memory and CPU from /proc,
the orders from its sqlite database (read-only) and matches in its logs."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.adapter.cash import COMPACTION_TAG
from freqtrade_smartfolio.exchange.feed import Clock
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.verify.longrun.model import LongRunSettings, Loop

REPO = Path(__file__).resolve().parents[3]
LOOP_START = "========================================"
LOOP_END = re.compile(r"Throttling with '_process_running\(\)'.*last iteration took ([\d.]+) s")
PLAN = re.compile(r"Candle \S+ \S+: Rebalance \(")


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
