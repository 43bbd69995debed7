"""Market data for the engine: aligned candle arrays (:class:`Market`), from DataFrames or the data
folder, and the price precision freqtrade's backtester derives from the candles' decimals.

freqtrade loads each pair with ``fill_up_missing``: a candle missing between a pair's first and last
candle becomes a candle whose open, high, low and close are the last close (volume 0), so inside its
span a pair always has a row. Before its first candle (not listed yet) and after its last (halted,
delisted, its data ended) it has none: the strategy values it at its last close and does not trade it,
and freqtrade fills no order for it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio.engine import compiled_stats

NS_PER_MINUTE = 60_000_000_000
OHLC = ("open", "high", "low", "close")
KEPT = 8  # values a Market keeps (Market.kept)
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Market:
    """Aligned candles: ``open``/``close`` (and optionally ``high``/``low``) are (bars x coins) float
    arrays, ``dates`` int64 ns UTC.

    ``valid`` (bars x coins, optional) says where a coin has a candle: a coin listed, halted or ended
    inside the window has none there, and its prices are then its last close (forward fill; before
    its first candle, its first close, never used: it holds nothing then). None = every coin has a
    candle on every bar.
    """

    coins: tuple[str, ...]
    dates: np.ndarray
    open: np.ndarray
    close: np.ndarray
    timeframe_minutes: float
    price_ticks: np.ndarray | None = None  # freqtrade's backtest price precision per bar and coin
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.coins))
        for name in ("open", "close", "high", "low"):
            array = getattr(self, name)
            if array is None or (name == "close" and array is self.open):  # checked as the open
                continue
            if array.shape != shape:
                raise ValueError(f"Market.{name} has shape {array.shape}, expected {shape} (bars x coins)")
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise ValueError(f"Market.{name}: prices must be positive and finite (align the data first)")
        if self.valid is not None and self.valid.shape != shape:
            raise ValueError(f"Market.valid has shape {self.valid.shape}, expected {shape} (bars x coins)")
        if len(self.dates) < 2:
            raise ValueError("Market: need at least two bars")

    @functools.cached_property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="date").tz_localize("UTC")

    @functools.cached_property
    def _kept(self) -> dict[Hashable, Any]:
        return {}

    def kept(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, computed on the first call with ``key`` and then kept on this Market (the
        prices on a tick grid, the decimals of each bar's price precision: what every run on the same
        market and exchange rules would compute again). The value is shared by every later call: never
        write into it. At most :data:`KEPT` keys, the oldest dropped first; a pickled Market leaves
        them behind."""
        store = self._kept
        if key not in store:
            if len(store) >= KEPT:
                store.pop(next(iter(store)))
            store[key] = build()
        return store[key]

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_kept"}

    def select(self, coins: Sequence[str]) -> Market:
        """The same market restricted to (and ordered as) ``coins``."""
        idx = [self.coins.index(c) for c in coins]

        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else np.ascontiguousarray(array[:, idx])

        valid = pick(self.valid)
        return Market(
            tuple(coins),
            self.dates,
            np.ascontiguousarray(self.open[:, idx]),
            np.ascontiguousarray(self.close[:, idx]),
            self.timeframe_minutes,
            pick(self.price_ticks),
            pick(self.high),
            pick(self.low),
            None if valid is None or valid.all() else valid,
        )


PriceInput = Market | Mapping[str, pd.DataFrame]


def as_market(
    prices: PriceInput, coins: Sequence[str] | None = None, *, column_major: bool = False
) -> Market:
    """A :class:`Market` from a Market or a dict of date x coin DataFrames ``{'open':..., 'close':...}``
    (``'high'``/``'low'`` optional).

    Bars where some coins lack a price are kept (:func:`align_candles`): a coin has a
    candle from its first to its last price; a gap inside that span is filled as freqtrade fills it
    (every price = the last close, still a candle); outside it the coin has none (``Market.valid``).
    Bars before the first or after the last price of any coin are dropped; a bar inside where no coin
    has a price is kept (nothing is planned on the bar after it, as in freqtrade). ``column_major``:
    close prices alone may keep ``DataFrame.to_numpy``'s layout (clean mode; :func:`_close_only`).
    """
    if isinstance(prices, Market):
        return prices if coins is None or tuple(coins) == prices.coins else prices.select(coins)

    close = prices["close"]
    open_ = prices.get("open", close)
    cols = list(coins) if coins is not None else list(close.columns)
    if open_ is close and not ("high" in prices and "low" in prices):
        fast = _close_only(close, cols, column_major)
        if fast is not None:
            return fast
    frames = {"open": open_, "close": close}
    if "high" in prices and "low" in prices:
        frames |= {"high": prices["high"], "low": prices["low"]}
    index, arrays = _shared_index_arrays(frames, cols) or _joined_arrays(frames, cols)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    dates = index.as_unit("ns").asi8.copy()
    steps = np.diff(dates)
    tf = float(np.min(steps[steps > 0]) / NS_PER_MINUTE) if len(steps) else 0.0
    aligned, valid = align_candles(arrays)
    ticks = None
    if "high" in arrays:
        # freqtrade's precision comes from each pair's own (filled) candles: NaN cells count for nothing
        ticks = _price_ticks(index, [aligned[col] for col in OHLC], None if valid.all() else valid)
    return Market(
        tuple(cols),
        dates,
        aligned["open"],
        aligned["close"],
        tf,
        ticks,
        aligned.get("high"),
        aligned.get("low"),
        None if valid.all() else valid,
    )


def _joined_arrays(
    frames: Mapping[str, pd.DataFrame], cols: list[str]
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """The fields' ``cols`` joined on their dates (``pd.concat``), the bars before the first and after
    the last price of any coin dropped: the dates and one (bars x coins) array per field."""
    frame = pd.concat({name: f[cols] for name, f in frames.items()}, axis=1)
    some = np.flatnonzero(frame.notna().to_numpy().any(axis=1))
    if len(some):  # bars before the first and after the last price of any coin go
        frame = frame.iloc[some[0] : some[-1] + 1]
    return pd.DatetimeIndex(frame.index), {name: frame[name].to_numpy(dtype=float) for name in frames}


def _shared_index_arrays(
    frames: Mapping[str, pd.DataFrame], cols: list[str]
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]] | None:
    """:func:`_joined_arrays` where every field is a float64 frame on the same unique dates (nothing to
    join): each field to one C-ordered array (one copy), no concatenation; None otherwise."""
    index = frames["close"].index
    if not isinstance(index, pd.DatetimeIndex) or not index.is_unique:
        return None
    arrays: dict[str, np.ndarray] = {}
    for name, frame in frames.items():
        if frame.index is not index and not (frame.index.dtype == index.dtype and frame.index.equals(index)):
            return None
        if not frame.columns.is_unique:
            return None
        values = (frame if list(frame.columns) == cols else frame[cols]).to_numpy()
        if values.dtype != np.float64:
            return None
        arrays[name] = np.array(values, dtype=np.float64, order="C")  # a copy: never the frame's memory
    have = np.zeros(len(index), dtype=bool)
    for values in arrays.values():
        have |= ~np.isnan(values).all(axis=1)
    some = np.flatnonzero(have)
    if len(some) and (some[0] > 0 or some[-1] < len(index) - 1):
        keep = slice(some[0], some[-1] + 1)
        return index[keep], {name: np.ascontiguousarray(values[keep]) for name, values in arrays.items()}
    return index, arrays


def _close_only(close: pd.DataFrame, cols: list[str], column_major: bool = False) -> Market | None:
    """:func:`as_market` of close prices alone with no missing price on strictly increasing dates (one
    ``to_numpy``, no per-column work): the same Market as the general path; None otherwise (the general
    path aligns or refuses the data). ``column_major``: keep the layout ``to_numpy`` gives (column after
    column) instead of a row-major copy; clean mode's kernel reads either, and reordering costs more
    than the whole clean kernel."""
    if list(close.columns) != cols or not isinstance(close.index, pd.DatetimeIndex) or len(cols) == 0:
        return None
    if column_major:
        values = close.to_numpy(dtype=float, copy=True)  # a new array, never the frame's memory
        if not (values.flags.c_contiguous or values.flags.f_contiguous):
            return None
    else:
        frame_values = close.to_numpy(dtype=float)
        values = np.ascontiguousarray(frame_values)  # one copy (the frame's columns are its blocks)
        if values is frame_values:  # already C-ordered: it may be the frame's own memory
            values = values.copy()
    if np.isnan(values).any():
        return None
    index = close.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    dates = index.as_unit("ns").asi8
    smallest_step, _ = compiled_stats.date_steps(dates)
    if smallest_step <= 0:  # fewer than two dates, or not strictly increasing
        return None
    return Market(tuple(cols), dates, values, values, float(np.int64(smallest_step) / NS_PER_MINUTE))


SIGNIFICANT = 14  # freqtrade formats prices with 14 significant digits
_POW10 = 10 ** np.arange(SIGNIFICANT + 1, dtype=np.int64)


def _decimals_exact(values: np.ndarray) -> np.ndarray:
    """Decimals up to the last non-zero digit at 14 significant digits (nan for whole numbers), by
    freqtrade's own formatter, one value at a time."""
    counts = np.empty(len(values))
    for k, value in enumerate(values.tolist()):
        text = np.format_float_positional(
            value, precision=SIGNIFICANT, unique=False, fractional=False, trim="-"
        )
        tail = text.partition(".")[2].rstrip("0")
        counts[k] = len(tail) if tail else math.nan
    return counts


def _decimals(values: np.ndarray) -> np.ndarray:
    """:func:`_decimals_exact`, vectorised: the 14 significant digits as an integer ``N`` (value x
    10^(13 - exponent), rounded), its trailing zeros dropped. The float product is off by far less
    than 0.01 of a unit of ``N``, so only a value whose product lies within 0.01 of a rounding tie,
    or whose exponent guess is off, goes to the formatter (tests: equal on real and random prices)."""
    values = np.asarray(values, dtype=float)
    counts = np.full(len(values), math.nan)
    positive = np.isfinite(values) & (values > 0)
    v = values[positive]
    exponent = np.floor(np.log10(v)).astype(np.int64)
    shift = SIGNIFICANT - 1 - exponent  # decimals shown before trimming
    scaled = v * np.power(10.0, shift.astype(float))
    number = np.rint(scaled)
    fraction = np.abs(scaled - np.trunc(scaled) - 0.5)
    fast = (
        (fraction > 0.01)
        & (number >= 10.0 ** (SIGNIFICANT - 1))
        & (number < 10.0**SIGNIFICANT)
        & (np.abs(shift) <= 300)
    )
    digits = np.where(fast, number, 0).astype(np.int64)
    zeros = np.zeros(len(v), dtype=np.int64)  # trailing zeros of the 14 digits
    for j in range(1, SIGNIFICANT):
        zeros += digits % _POW10[j] == 0
    shown = shift - zeros
    result = np.where(shown > 0, shown, math.nan).astype(float)
    slow = ~fast
    if slow.any():
        result[slow] = _exact_unique(v[slow])
    counts[positive] = result
    if not positive.all():
        counts[~positive] = _exact_unique(values[~positive])
    return counts


def _exact_unique(values: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(values, return_inverse=True)
    return _decimals_exact(unique)[inverse]


def backtest_price_ticks(index: pd.DatetimeIndex, ohlc: Sequence[np.ndarray]) -> np.ndarray:
    """The price precision freqtrade's backtester gives a trade opened at each bar (its
    ``get_tick_size_over_time``: the most decimals any open/high/low/close shows in the calendar
    month, as a tick; nan where unknown, meaning the exchange's tick)."""
    columns = [np.asarray(col, dtype=float).reshape(-1, 1) for col in ohlc]
    return _price_ticks(index, columns, None)[:, 0]


def backtest_price_ticks_reference(index: pd.DatetimeIndex, ohlc: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`backtest_price_ticks` through pandas, one coin (the reference of the compiled passes:
    ``_decimals`` per column, ``resample("MS").max()``, ``asof`` on the bars)."""
    counts = np.fmax.reduce([_decimals(np.asarray(col, dtype=float)) for col in ohlc])
    monthly = pd.Series(counts, index=index).resample("MS").max()
    ticks = 1 / 10**monthly
    return ticks.asof(index).to_numpy(dtype=float)


with np.errstate(over="ignore"):
    TICK_OF = 1 / 10 ** np.arange(400, dtype=float)  # as the reference's ``1 / 10**monthly``


def _month_numbers(index: pd.DatetimeIndex) -> np.ndarray | None:
    """Each bar's calendar month as pandas' ``resample("MS")`` bins it (months since 1970), or None
    where the compiled passes do not apply (a time zone other than UTC, unsorted or missing times)."""
    if len(index) == 0 or index.hasnans or not index.is_monotonic_increasing:
        return None
    if index.tz is not None and str(index.tz) != "UTC":
        return None
    stamps = np.asarray(index.asi8).view(f"datetime64[{index.unit}]")
    return stamps.astype("datetime64[M]").astype(np.int64)


def _price_ticks(index: pd.DatetimeIndex, ohlc: Sequence[np.ndarray], valid: np.ndarray | None) -> np.ndarray:
    """:func:`backtest_price_ticks` of every coin at once (``ohlc``: bars x coins arrays; ``valid``:
    where each coin has a candle, None = everywhere; elsewhere its prices count for nothing), by the
    compiled passes of :mod:`.compiled_market`; the same floats as the reference coin by coin."""
    from freqtrade_smartfolio.portfolio.engine import compiled_market

    columns = [np.ascontiguousarray(col, dtype=np.float64) for col in ohlc]
    bars, n = columns[3].shape
    months = _month_numbers(index)
    if months is None or len(months) != bars:
        return np.column_stack(
            [
                backtest_price_ticks_reference(
                    index,
                    [
                        col[:, k] if valid is None else np.where(valid[:, k], col[:, k], np.nan)
                        for col in columns
                    ],
                )
                for k in range(n)
            ]
        ).reshape(bars, n)
    mask = np.ones((1, 1), dtype=bool) if valid is None else np.ascontiguousarray(valid, dtype=bool)
    starts = np.flatnonzero(np.diff(months, prepend=months[0] - 1)).astype(np.int64)
    most, slow = compiled_market.month_digits(*columns, mask, valid is None, starts, compiled_market.POW10)
    if len(slow):  # near a rounding tie, or not a positive finite price: the formatter decides
        cell, column = np.divmod(slow, 4)
        rows, coins = np.divmod(cell, n)
        values = np.empty(len(slow))
        for c, col in enumerate(columns):
            at = column == c
            values[at] = col[rows[at], coins[at]]
        exact = _exact_unique(values)
        shown = ~np.isnan(exact)
        month = np.searchsorted(starts, rows[shown], side="right") - 1
        np.maximum.at(most, (month, coins[shown]), exact[shown].astype(np.int64))
    if most.max(initial=0) >= len(TICK_OF):
        raise ValueError("backtest_price_ticks: more decimals than a float shows")
    return compiled_market.month_ticks(most, starts, bars, TICK_OF)


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def load_market(
    coins: Sequence[str],
    timeframe: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    datadir: Path | str | None = None,
) -> Market:
    """Candles of ``coins`` from the data folder for ``start <= date <= end`` (both inclusive, as
    freqtrade's ``--timerange``), on every candle time from the first to the last any coin has; a coin
    without a candle on a bar (not listed yet, halted, data ended) is marked in ``Market.valid``."""
    from freqtrade_smartfolio.marketdata import load_candles

    lo, hi = _utc(start), _utc(end)
    columns: dict[str, dict[str, pd.Series]] = {col: {} for col in OHLC}
    for coin in coins:
        frame = load_candles(coin, timeframe, Path(datadir) if datadir is not None else None)
        frame = frame[(frame["date"] >= lo) & (frame["date"] <= hi)].set_index("date")
        for col in OHLC:
            columns[col][coin] = frame[col]
    joined = {col: pd.concat(series, axis=1, join="outer", sort=True) for col, series in columns.items()}
    if joined["close"].notna().sum().sum() < 2:
        raise ValueError(
            f"load_market: no candle of {', '.join(coins)} on {timeframe} between {lo} and {hi} in "
            f"{datadir or 'the data folder'}: pick a window inside the data, or download it"
        )
    grid = regular_grid(pd.DatetimeIndex(joined["close"].index), timeframe)
    return as_market({col: frame.reindex(grid) for col, frame in joined.items()}, coins)


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
    if not any(np.isnan(np.asarray(a, dtype=float)).any() for a in fields.values()):  # nothing to fill
        copies = {name: np.ascontiguousarray(a, dtype=float) for name, a in fields.items()}
        return copies, np.ones((bars, n), dtype=bool)
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
