"""Time in the offline exchange: Binance intervals, UTC times and the :class:`Clock` that maps served
(wall) times to data times.

Two clocks:

* historical (default): the clock stands at the end of the data. Every candle is served with its
  own date; tickers and books show each coin's last close. For backtesting and download-data.
* replay: ``data_time = replay_from + (wall_time - start) * speed`` (origins snapped to whole hours,
  see :class:`Clock`). See :mod:`.feed` for what a served candle holds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_OFFSET_MS = 4 * DAY_MS  # Binance weeks open on Monday; 1970-01-01 was a Thursday
UNIT_MS = {"s": 1000, "m": MINUTE_MS, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}
MAX_ROWS_PER_CANDLE = 2000  # prefer finer data for a served candle while it needs at most this many rows
ALIGN_MS = 3_600_000  # replay origins sit on whole hours (served and data)
_TF_RE = re.compile(r"^(\d+)([smhdw])$")


class FeedError(ValueError):
    """A request the feed cannot answer; ``code`` is the Binance error code to send back."""

    def __init__(self, message: str, code: int = -1100) -> None:
        super().__init__(message)
        self.code = code


def timeframe_ms(timeframe: str) -> int:
    """Length of a Binance interval such as ``5m`` or ``1d`` in milliseconds (``1M`` is not supported)."""
    match = _TF_RE.match(timeframe)
    if not match:
        raise FeedError(f"Invalid interval {timeframe!r}: use e.g. 1m, 5m, 1h, 4h, 1d, 1w.", code=-1120)
    return int(match.group(1)) * UNIT_MS[match.group(2)]


def grid_offset(interval_ms: int) -> int:
    """Epoch offset of an interval's candle grid (weeks start on Monday, everything else at epoch)."""
    return WEEK_OFFSET_MS if interval_ms % (7 * DAY_MS) == 0 else 0


def wall_ms() -> int:
    """Current wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def parse_time(value: str | datetime | int | float) -> int:
    """A UTC time (ISO string such as ``2024-03-01T00:00``, datetime, or epoch ms) as epoch ms."""
    if isinstance(value, int | float):
        return int(value)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"replay_from={value!r} is not a time; use ISO format like 2024-03-01T00:00"
        ) from err
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


@dataclass
class Clock:
    """Maps served (wall) times to data times; see the module docstring.

    ``data_time(s) = origin_data + (s - origin_served) * speed``. ``origin_served`` is the server's
    start time floored to the hour and ``origin_data`` is ``replay_from`` moved back (by less than one
    data hour) so both sit on whole hours: then every served candle of an interval dividing one hour
    starts exactly where a real 5m/1h candle starts, and the data clock at start-up is within the
    hour before ``replay_from``.
    """

    replay_from_ms: int | None = None
    speed: float = 1.0
    anchor_ms: int | None = None  # wall time the replay starts at (default: now)
    now: Callable[[], int] = field(default=wall_ms, repr=False)
    origin_served: int = field(init=False, default=0)
    origin_data: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not (self.speed > 0 and math.isfinite(self.speed)):
            raise ValueError(
                f"speed={self.speed!r} must be a positive number (1 = real time, 60 = one hour per minute)"
            )
        if self.replay_from_ms is None:
            return
        if self.anchor_ms is None:
            self.anchor_ms = self.now()
        self.origin_served = self.anchor_ms // ALIGN_MS * ALIGN_MS
        behind = round((self.anchor_ms - self.origin_served) * self.speed)
        self.origin_data = (self.replay_from_ms - behind) // ALIGN_MS * ALIGN_MS

    @property
    def replay(self) -> bool:
        return self.replay_from_ms is not None

    def to_data(self, served_ms: float) -> float:
        if not self.replay:
            return served_ms
        return self.origin_data + (served_ms - self.origin_served) * self.speed

    def to_served(self, data_ms: float) -> float:
        if not self.replay:
            return data_ms
        return self.origin_served + (data_ms - self.origin_data) / self.speed

    def data_now(self) -> float:
        """Current data time (``inf`` in historical mode: everything has happened)."""
        return self.to_data(self.now()) if self.replay else math.inf

    def describe(self) -> str:
        if not self.replay:
            return "historical clock (end of data)"
        start = datetime.fromtimestamp(self.to_data(self.now()) / 1000, tz=UTC).isoformat()
        return f"replay clock at {start}, speed {self.speed:g}"
