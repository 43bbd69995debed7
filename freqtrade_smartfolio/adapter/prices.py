"""Closing prices per pair, as the strategy reads them (backtest: the analysed dataframe; live: freqtrade's
refreshed candles)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from pandas import DataFrame


class PriceBook:
    """Closing prices per pair: by candle open time (a dict, O(1) per candle) and as sorted arrays
    for look-back windows (Smart Allocation)."""

    def __init__(self) -> None:
        self._closes: dict[str, dict[int, float]] = {}
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def store(self, pair: str, dataframe: DataFrame, closes: np.ndarray | None = None) -> None:
        dates = dataframe["date"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        seconds = dates.astype(np.int64)
        values = dataframe["close"].to_numpy(dtype=float) if closes is None else closes
        self._closes[pair] = dict(zip(seconds.tolist(), values.tolist(), strict=True))
        self._series[pair] = (seconds, values)

    def close_at(self, pair: str, candle_open: datetime) -> float | None:
        return self._closes.get(pair, {}).get(int(candle_open.timestamp()))

    def last_close(self, pair: str, candle_open: datetime) -> float | None:
        """Close of the last candle opening at or before ``candle_open`` (None before the first)."""
        seconds, values = self._series.get(pair, (np.array([], dtype=np.int64), np.array([])))
        at = int(np.searchsorted(seconds, int(candle_open.timestamp()), side="right"))
        return float(values[at - 1]) if at else None

    def window(
        self, pairs: tuple[str, ...], names: tuple[str, ...], start: datetime, end: datetime
    ) -> DataFrame:
        """Closes of ``pairs`` (columns ``names``) for candles opening in ``[start, end]``, on the dates
        every pair has."""
        columns = {}
        for pair, name in zip(pairs, names, strict=True):
            seconds, values = self._series.get(pair, (np.array([], dtype=np.int64), np.array([])))
            lo = np.searchsorted(seconds, int(start.timestamp()), side="left")
            hi = np.searchsorted(seconds, int(end.timestamp()), side="right")
            columns[name] = pd.Series(values[lo:hi], index=seconds[lo:hi])
        return pd.concat(columns, axis=1, join="inner").sort_index()
