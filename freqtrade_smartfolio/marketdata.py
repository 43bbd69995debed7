"""Locate and read the candle files (freqtrade's feather layout); pandas only.

The project never ships market data. It reads it from, in order:
``$SMARTFOLIO_DATADIR``, ``../shared/data/binance`` beside the checkout, ``user_data/data/binance``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV_VAR = "SMARTFOLIO_DATADIR"

HOW_TO_GET_DATA = (
    f"Set {DATA_ENV_VAR} to a folder of freqtrade candle files, or put the shared data at "
    "../shared/data beside the checkout, or download it with:\n"
    "  freqtrade download-data --exchange binance --pairs BTC/USDT ETH/USDT SOL/USDT XRP/USDT "
    "BNB/USDT --timeframes 1h 1d --timerange 20210101- --data-format-ohlcv feather "
    "--datadir user_data/data/binance"
)


class MarketDataMissing(FileNotFoundError):
    """Raised when no candle files can be found; the message says where it looked and how to fix."""


def candidate_data_dirs() -> list[Path]:
    """Folders searched for ``<COIN>_USDT-<tf>.feather`` files, in order of preference."""
    dirs: list[Path] = []
    if env := os.environ.get(DATA_ENV_VAR):
        dirs.append(Path(env).expanduser())
    dirs.append(REPO_ROOT.parent / "shared" / "data" / "binance")
    dirs.append(REPO_ROOT / "user_data" / "data" / "binance")
    return dirs


def find_data_dir(required: Iterable[str] = ()) -> Path:
    """Return the first candidate folder holding all ``required`` file names (e.g. 'BTC_USDT-1h.feather')."""
    needed = list(required)
    for folder in candidate_data_dirs():
        has_files = folder.is_dir() and all((folder / name).is_file() for name in needed)
        if has_files and (needed or any(folder.glob("*.feather"))):
            return folder
    looked = "\n  ".join(str(d) for d in candidate_data_dirs())
    what = f" with {', '.join(needed)}" if needed else ""
    raise MarketDataMissing(f"No candle data{what} found. Looked in:\n  {looked}\n{HOW_TO_GET_DATA}")


def candle_file(coin: str, timeframe: str, stake: str = "USDT") -> str:
    """File name freqtrade uses for a spot pair's candles."""
    return f"{coin.upper()}_{stake.upper()}-{timeframe}.feather"


def load_candles(coin: str, timeframe: str, datadir: Path | None = None, stake: str = "USDT") -> pd.DataFrame:
    """One coin's candles (``date, open, high, low, close, volume``), date in UTC, sorted."""
    name = candle_file(coin, timeframe, stake)
    folder = datadir if datadir is not None else find_data_dir([name])
    path = Path(folder) / name
    if not path.is_file():
        raise MarketDataMissing(f"No candle file {path}.\n{HOW_TO_GET_DATA}")
    frame = pd.read_feather(path)
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    return frame.sort_values("date").reset_index(drop=True)


def load_closes(
    coins: Sequence[str],
    timeframe: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    datadir: Path | None = None,
    field: str = "close",
    join: Literal["inner", "outer"] = "inner",
) -> pd.DataFrame:
    """A date x coin matrix of one price field on the dates every coin shares (inner join).

    With ``join="outer"``: on the dates any coin has, NaN where a coin has no candle (before its
    listing, after its data ends, in its gaps).
    The last candle of each file may still have been open when downloaded: it is dropped.
    ``start`` is inclusive and ``end`` exclusive, both UTC.
    """
    columns = {}
    for coin in coins:
        frame = load_candles(coin, timeframe, datadir).iloc[:-1]
        columns[coin.upper()] = frame.set_index("date")[field]
    prices = pd.concat(columns, axis=1, join=join, sort=True).sort_index()
    if start is not None:
        prices = prices[prices.index >= _utc(start)]
    if end is not None:
        prices = prices[prices.index < _utc(end)]
    return prices


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def available_coins(timeframe: str, datadir: Path | None = None, stake: str = "USDT") -> list[str]:
    """Coins with a candle file for ``timeframe`` in the data folder, sorted."""
    folder = datadir if datadir is not None else find_data_dir()
    suffix = f"_{stake}-{timeframe}.feather"
    return sorted(p.name[: -len(suffix)] for p in Path(folder).glob(f"*{suffix}"))
