"""What a long run measures: its settings (:class:`LongRunSettings`), freqtrade's loops and the samples of
the process (:class:`Loop`, :class:`Sample`), and the result with its per-quarter figures
(:class:`LongRunResult`)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COINS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "UNI", "AAVE"]
START = "2024-03-01T00:00"
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
