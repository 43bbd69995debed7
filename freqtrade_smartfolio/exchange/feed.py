"""Candles, clock and prices behind the offline exchange (numpy only, no HTTP, no freqtrade).

Two clocks:

* historical (default): the clock stands at the end of the data. Every candle is served with its
  own date; tickers and books show each coin's last close. For backtesting and download-data.
* replay: ``data_time = replay_from + (wall_time - start) * speed`` (origins snapped to whole hours,
  see :class:`Clock`). A served candle of interval
  ``I`` opening at wall time ``s`` holds the real data of ``[data_time(s), data_time(s) + I*speed)``
  (one real candle when ``I*speed`` is a data timeframe, otherwise several aggregated). So served
  candles always carry present-day dates on freqtrade's own timeframe grid and the newest closed one
  is never stale, while the market underneath moves ``speed`` times faster than real time.
  ``I*speed`` must be a multiple of a timeframe in the data folder (5m data and ``speed=60`` make
  every 1m candle one real hour: 12 real 5m candles).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_smartfolio.exchange.markets import QUOTE, MarketRules, coin_timeframes, market_rules

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


@dataclass(frozen=True)
class Series:
    """One candle file as numpy arrays; ``t`` holds open times in epoch ms, sorted."""

    timeframe: str
    tf_ms: int
    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    low: np.ndarray
    c: np.ndarray
    v: np.ndarray

    @property
    def start(self) -> int:
        return int(self.t[0])

    @property
    def end(self) -> int:
        """End of the last candle (its open time plus one timeframe)."""
        return int(self.t[-1]) + self.tf_ms


class CandleStore:
    """Lazy, thread-safe cache of candle files as :class:`Series` (one read per coin and timeframe)."""

    def __init__(self, datadir: Path | str, quote: str = QUOTE) -> None:
        self.datadir = Path(datadir)
        if not self.datadir.is_dir():
            raise FileNotFoundError(f"datadir={str(self.datadir)!r} is not a folder; pass --datadir")
        self.quote = quote
        self._series: dict[tuple[str, str], Series] = {}
        self._timeframes: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        suffix = f"_{quote}-"
        self.coins: list[str] = sorted(
            {p.name.split(suffix)[0] for p in self.datadir.glob(f"*{suffix}*.feather")}
        )
        if not self.coins:
            raise FileNotFoundError(
                f"datadir={str(self.datadir)!r} holds no <COIN>_{quote}-<tf>.feather files; "
                "point --datadir at freqtrade feather candles"
            )
        self._coin_set = set(self.coins)

    def has(self, coin: str) -> bool:
        return coin in self._coin_set

    def timeframes(self, coin: str) -> dict[str, int]:
        """``{timeframe: ms}`` of the coin's files."""
        if coin not in self._timeframes:
            tfs = {}
            for tf in coin_timeframes(coin, self.datadir, self.quote):
                try:
                    tfs[tf] = timeframe_ms(tf)
                except FeedError:
                    continue  # e.g. 1M files: not servable
            self._timeframes[coin] = tfs
        return self._timeframes[coin]

    def series(self, coin: str, timeframe: str) -> Series:
        key = (coin, timeframe)
        cached = self._series.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if key not in self._series:
                path = self.datadir / f"{coin}_{self.quote}-{timeframe}.feather"
                frame = pd.read_feather(path)
                dates = pd.to_datetime(frame["date"], utc=True)
                t = (dates.astype("int64") // 1_000_000).to_numpy(dtype=np.int64)
                order = np.argsort(t, kind="stable")

                def col(name: str, order: np.ndarray = order, frame: pd.DataFrame = frame) -> np.ndarray:
                    return np.ascontiguousarray(frame[name].to_numpy(dtype=float)[order])

                self._series[key] = Series(
                    timeframe,
                    timeframe_ms(timeframe),
                    np.ascontiguousarray(t[order]),
                    col("open"),
                    col("high"),
                    col("low"),
                    col("close"),
                    col("volume"),
                )
        return self._series[key]

    def all_series(self, coin: str) -> list[Series]:
        return [self.series(coin, tf) for tf in self.timeframes(coin)]

    def rules(self, coin: str) -> MarketRules:
        """Market rules over every file of the coin (the finest price grid of all)."""
        return market_rules(coin, self.datadir, timeframe=None)


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


@dataclass(frozen=True)
class Candles:
    """Aggregated candles: served open times plus OHLCV, as numpy arrays of equal length."""

    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    low: np.ndarray
    c: np.ndarray
    v: np.ndarray
    qv: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


def _aggregate(s: Series, starts: np.ndarray, span: int, cutoff: float) -> tuple[np.ndarray, ...]:
    """OHLCV of consecutive groups ``[starts[i], starts[i] + span)`` of ``s`` (rows opened before ``cutoff``).

    The row that is open at ``cutoff`` is revealed partially: its close moves linearly from open
    to close, high/low follow open and that close, volume grows in proportion.
    """
    t = s.t
    n = len(starts)
    lo = np.searchsorted(t, starts, "left")
    ends = starts + span
    hi = np.searchsorted(t, ends, "left")
    if math.isfinite(cutoff):  # rows opened by the cutoff (a row opening exactly then shows its open)
        hi = np.minimum(hi, np.searchsorted(t, cutoff, "right"))
    hi = np.maximum(hi, lo)
    count = hi - lo
    nan = np.full(n, np.nan)
    out = [nan.copy() for _ in range(6)]
    nonempty = np.flatnonzero(count > 0)
    if nonempty.size == 0:
        return (*out, count)
    base, top = int(lo[nonempty[0]]), int(hi[nonempty[-1]])
    o, h, low, c, v = (a[base:top] for a in (s.o, s.h, s.low, s.c, s.v))
    last = top - 1
    if math.isfinite(cutoff) and t[last] + s.tf_ms > cutoff:
        frac = max(0.0, min(1.0, (cutoff - t[last]) / s.tf_ms))
        o, h, low, c, v = (a.copy() for a in (o, h, low, c, v))
        i = last - base
        c[i] = o[i] + frac * (c[i] - o[i])
        h[i], low[i], v[i] = max(o[i], c[i]), min(o[i], c[i]), v[i] * frac
    idx = lo[nonempty] - base
    out[0][nonempty] = o[idx]
    out[1][nonempty] = np.maximum.reduceat(h, idx)
    out[2][nonempty] = np.minimum.reduceat(low, idx)
    out[3][nonempty] = c[hi[nonempty] - 1 - base]
    out[4][nonempty] = np.add.reduceat(v, idx)
    out[5][nonempty] = np.add.reduceat(v * c, idx)
    return (*out, count)


class Feed:
    """Klines, prices, tickers and order books of a :class:`CandleStore`'s coins under a :class:`Clock`."""

    def __init__(self, store: CandleStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()
        # coin -> when its market closes (a delisting, see .delisting): no candle opens from then on
        # and the price stays at the last close (data time on the replay clock)
        self.market_close: dict[str, int] = {}
        if self.clock.replay and self.clock.replay_from_ms is not None:
            self._check_replay_start(self.clock.replay_from_ms)

    def _check_replay_start(self, start_ms: int) -> None:
        spans = [(s.start, s.end) for coin in self.store.coins for s in self._first_series(coin)]
        if spans and not any(a <= start_ms < b for a, b in spans):
            first = datetime.fromtimestamp(min(a for a, _ in spans) / 1000, tz=UTC).isoformat()
            last = datetime.fromtimestamp(max(b for _, b in spans) / 1000, tz=UTC).isoformat()
            raise ValueError(
                f"replay_from={datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()} is outside "
                f"the data ({first} to {last}); pick a start inside that range"
            )

    def _first_series(self, coin: str) -> list[Series]:
        tfs = self.store.timeframes(coin)
        return [self.store.series(coin, tf) for tf in tfs][:1]

    # ---- symbols -------------------------------------------------------------------------------
    def coin_of(self, symbol: str) -> str:
        """``BTCUSDT`` -> ``BTC``; raises :class:`FeedError` (-1121) for unknown symbols."""
        quote = self.store.quote
        if symbol.endswith(quote) and self.store.has(symbol[: -len(quote)]):
            return symbol[: -len(quote)]
        raise FeedError(f"Invalid symbol {symbol!r}.", code=-1121)

    # ---- candles -------------------------------------------------------------------------------
    def _sources(self, coin: str, span: int) -> list[Series]:
        """Candle files able to build groups of ``span`` ms, best first."""
        tfs = [(tf, ms) for tf, ms in self.store.timeframes(coin).items() if span % ms == 0]
        if not tfs:
            have = ", ".join(self.store.timeframes(coin)) or "none"
            raise FeedError(
                f"Invalid interval: {span / MINUTE_MS:g} minutes of data per candle (interval x speed) "
                f"cannot be built from the {coin} files ({have}); choose an interval/speed whose product "
                "is a multiple of a data timeframe",
                code=-1120,
            )
        exact = [tf for tf, ms in tfs if ms == span]
        if self.clock.replay:
            fine = sorted((ms, tf) for tf, ms in tfs if span // ms <= MAX_ROWS_PER_CANDLE)
            coarse = sorted(((ms, tf) for tf, ms in tfs if span // ms > MAX_ROWS_PER_CANDLE), reverse=True)
            order = [tf for _, tf in fine + coarse]
        else:
            order = exact + [tf for _, tf in sorted(((ms, tf) for tf, ms in tfs if ms != span), reverse=True)]
        return [self.store.series(coin, tf) for tf in order]

    def _groups(self, coin: str, data_starts: np.ndarray, span: int, cutoff: float) -> tuple[np.ndarray, ...]:
        """OHLCV of data groups, each from the best file covering it (files differ in history length)."""
        n = len(data_starts)
        result = [np.full(n, np.nan) for _ in range(6)]
        rows = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        sources = self._sources(coin, span)
        for strict in (True, False):
            for s in sources:
                if done.all():
                    break
                *vals, count = _aggregate(s, data_starts, span, cutoff)
                take = ~done & (count > 0)
                if strict:
                    take &= (data_starts >= s.start) & (np.minimum(data_starts + span, cutoff) <= s.end)
                for dst, src in zip(result, vals, strict=True):
                    dst[take] = src[take]
                rows[take] = count[take]
                done |= take
        return (*result, rows)

    def data_end(self, coin: str) -> int:
        """End of the coin's data (close time of its last candle over all files), or when its market
        closes (a delisting), whichever comes first."""
        end = max(s.end for s in self.store.all_series(coin))
        return min(end, self.market_close.get(coin, end))

    def data_start(self, coin: str) -> int:
        return min(s.start for s in self.store.all_series(coin))

    def klines(
        self,
        coin: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> Candles:
        """Served candles of ``interval`` with Binance's startTime/endTime/limit semantics.

        Only candles that opened by the clock's now are served; the newest may still be open.
        """
        step = timeframe_ms(interval)
        span_f = step * self.clock.speed if self.clock.replay else float(step)
        span = round(span_f)
        if abs(span - span_f) > 1e-6:
            raise FeedError(
                f"Invalid interval {interval!r} at speed {self.clock.speed:g}: not whole ms", -1120
            )
        limit = max(1, min(int(limit), 1000))
        offset = grid_offset(step)
        clock = self.clock
        if clock.replay:
            served_now = clock.now()
            cutoff = min(clock.data_now(), self.market_close.get(coin, math.inf) - 1)
            # candles after the end of data (or the market's close) are never formed
            served_now = min(served_now, math.floor(clock.to_served(self.data_end(coin))) - 1)
        else:
            served_now = self.data_end(coin) - 1
            cutoff = math.inf
        last_open = (served_now - offset) // step * step + offset
        first_avail = (math.floor(clock.to_served(self.data_start(coin))) - offset) // step * step + offset
        if start_ms is not None:
            first = max(-((offset - start_ms) // step) * step + offset, first_avail)
            last = last_open if end_ms is None else min(last_open, (end_ms - offset) // step * step + offset)
            last = min(last, first + (limit - 1) * step)
        else:
            last = last_open if end_ms is None else min(last_open, (end_ms - offset) // step * step + offset)
            first = max(last - (limit - 1) * step, first_avail)
        if last < first:
            empty = np.zeros(0)
            return Candles(
                empty.astype(np.int64), empty, empty, empty, empty, empty, empty, empty.astype(int)
            )
        served = np.arange(first, last + 1, step, dtype=np.int64)
        data0 = round(clock.to_data(float(served[0])))
        data_starts = data0 + span * np.arange(len(served), dtype=np.int64)
        o, h, low, c, v, qv, rows = self._groups(coin, data_starts, span, cutoff)
        keep = rows > 0
        tick = self.store.rules(coin).tick_size

        def snap(a: np.ndarray) -> np.ndarray:
            return np.round(a[keep] / tick) * tick

        return Candles(served[keep], snap(o), snap(h), snap(low), snap(c), v[keep], qv[keep], rows[keep])

    # ---- prices --------------------------------------------------------------------------------
    def price(self, coin: str) -> float:
        """Last traded price at the clock's now (interpolated open->close within the current real candle);
        after a delisting, the last price before it."""
        now = min(self.clock.data_now(), self.market_close.get(coin, math.inf) - 1)
        files = sorted(self.store.all_series(coin), key=lambda x: x.tf_ms)
        live = [s for s in files if s.start <= now < s.end]
        if live:
            s = live[0]
            idx = int(np.searchsorted(s.t, now, "right")) - 1
            frac = max(0.0, min(1.0, (now - s.t[idx]) / s.tf_ms))
            value = float(s.o[idx] + frac * (s.c[idx] - s.o[idx]))
        else:
            ended = [s for s in files if s.end <= now]
            if not ended:
                raise FeedError(
                    f"No price for {coin}{self.store.quote} yet: the replay clock is before its first candle",
                    code=-1121,
                )
            value = float(max(ended, key=lambda x: (x.end, -x.tf_ms)).c[-1])
        return self.store.rules(coin).round_price(value)

    def stats_24h(self, coin: str) -> dict[str, float]:
        """Open/high/low/last/volume over the 24 data hours up to now."""
        now = self.clock.data_now()
        end = self.data_end(coin) if not math.isfinite(now) else now
        start = np.array([math.floor(end) - DAY_MS], dtype=np.int64)
        cutoff = min(end, self.market_close.get(coin, math.inf) - 1)  # nothing trades after a delisting
        o, h, low, _c, v, qv, rows = self._groups(coin, start, DAY_MS, cutoff)
        last = self.price(coin)
        if rows[0] == 0:
            return {"open": last, "high": last, "low": last, "last": last, "volume": 0.0, "quote_volume": 0.0}
        rules = self.store.rules(coin)
        return {
            "open": rules.round_price(float(o[0])),
            "high": rules.round_price(max(float(h[0]), last)),
            "low": rules.round_price(min(float(low[0]), last)),
            "last": last,
            "volume": float(v[0]),
            "quote_volume": float(qv[0]),
        }

    def book(self, coin: str, levels: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Synthetic order book: best bid at the last price, best ask one tick above, ``levels`` a side."""
        rules = self.store.rules(coin)
        last = self.price(coin)
        tick = rules.tick_size
        bid0 = max(last, tick)
        bids, asks = [], []
        for i in range(levels):
            notional = 2_000.0 * (1.0 + ((i * 7919 + 3) % 11) / 5.0)  # 2k-6k USDT per level
            bid = round(bid0 - i * tick, rules.price_decimals)
            ask = round(bid0 + (i + 1) * tick, rules.price_decimals)
            if bid > 0:
                bids.append((bid, self._qty(notional / bid, rules)))
            asks.append((ask, self._qty(notional / ask, rules)))
        return bids, asks

    @staticmethod
    def _qty(amount: float, rules: MarketRules) -> float:
        return max(
            round(round(amount / rules.step_size) * rules.step_size, rules.amount_decimals), rules.min_qty
        )
