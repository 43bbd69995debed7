"""Candles of coins that do not all trade on every bar, aligned the way freqtrade's backtester sees them.

freqtrade loads each pair with ``fill_up_missing``: a candle missing between a pair's first and last
candle becomes a candle whose open, high, low and close are the last close (volume 0), so inside its
span a pair always has a row. Before its first candle (not listed yet) and after its last (halted,
delisted, its data ended) it has none: the strategy values it at its last close and does not trade it,
and freqtrade fills no order for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close")


def _ffill(array: np.ndarray) -> np.ndarray:
    """Forward fill of NaN down each column (leading NaN stay)."""
    rows = np.arange(len(array))[:, None]
    last = np.where(np.isnan(array), 0, rows)
    np.maximum.accumulate(last, axis=0, out=last)
    filled = np.take_along_axis(array, last, axis=0)
    return filled


def align_candles(fields: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``fields`` ('open', 'close', optionally 'high'/'low': bars x coins, NaN where a coin has no
    price) -> (the same arrays without NaN, ``valid``: where each coin has a candle).

    A coin has a candle from its first to its last close; inside that span a missing candle is filled
    as freqtrade fills it (every price = the last close). Outside it, every price is the coin's last
    close (before its first candle: its first close; a coin with no close at all: 1.0), never traded.
    """
    close = np.asarray(fields["close"], dtype=float)
    bars, n = close.shape
    have = ~np.isnan(close)
    valid = np.zeros((bars, n), dtype=bool)
    for k in range(n):
        rows = np.flatnonzero(have[:, k])
        if len(rows):
            valid[rows[0] : rows[-1] + 1, k] = True
    filled_close = _ffill(close)
    # before the first candle: the first close (valued at 0: nothing is held then)
    first = np.where(have.any(axis=0), np.argmax(have, axis=0), 0)
    first_close = np.where(have.any(axis=0), close[first, np.arange(n)], 1.0)
    filled_close = np.where(np.isnan(filled_close), first_close[None, :], filled_close)
    out = {"close": np.ascontiguousarray(filled_close)}
    for name in ("open", "high", "low"):
        if name not in fields:
            continue
        array = np.asarray(fields[name], dtype=float)
        # a filled (or missing) candle: every price is the last close, as freqtrade's fill-up
        out[name] = np.ascontiguousarray(np.where(np.isnan(array) | ~have, filled_close, array))
    return out, valid


def regular_grid(index: pd.DatetimeIndex, timeframe: str) -> pd.DatetimeIndex:
    """Every candle time from the first to the last of ``index`` (freqtrade's backtest visits each)."""
    try:
        step = pd.Timedelta(timeframe)
    except ValueError:
        return index
    if len(index) == 0 or step <= pd.Timedelta(0):
        return index
    return pd.date_range(index.min(), index.max(), freq=step, name=index.name)
