"""Candle files as numpy arrays: :class:`CandleStore` (a lazy, thread-safe cache of :class:`Series`,
one per coin and timeframe) and :func:`aggregate` (consecutive rows summed into served candles)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_smartfolio.exchange.clock import FeedError, timeframe_ms
from freqtrade_smartfolio.exchange.markets import QUOTE, MarketRules, coin_timeframes, market_rules


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


def aggregate(s: Series, starts: np.ndarray, span: int, cutoff: float) -> tuple[np.ndarray, ...]:
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
