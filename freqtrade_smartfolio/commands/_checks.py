"""Checks the commands share, raising :class:`~freqtrade_smartfolio.cli.UserError` with the option,
the value and the fix: candle files per coin, times, timeframes, URLs, coins on an exchange."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from freqtrade_smartfolio.cli import UserError, one_line
from freqtrade_smartfolio.marketdata import MarketDataMissing, candle_file, find_data_dir

# freqtrade's (and Binance's) candle sizes
TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
BINANCE_URL = "https://api.binance.com"
EXCHANGE_TIMEOUT = 5.0


def check_timeframe(text: str, option: str = "--timeframe") -> str:
    if text not in TIMEFRAMES:
        raise UserError(f"{option}: {text!r} is not a candle size; use one of {', '.join(TIMEFRAMES)}")
    return text


def check_time(text: str | None, option: str = "--end") -> str | None:
    """``text`` if pandas reads it as a time (``2024-09-01``, ``2024-09-01T12:00``), else UserError."""
    if text is None:
        return None
    import pandas as pd

    try:
        pd.Timestamp(text)
    except (ValueError, TypeError):
        raise UserError(
            f"{option}: {text!r} is not a time; use a UTC date like 2024-09-01 or 2024-09-01T12:00"
        ) from None
    return text


def check_url(text: str, option: str) -> str:
    """``http(s)://HOST[:PORT]`` or UserError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise UserError(
            f"{option}: {text!r} is not an address; give http://HOST:PORT, e.g. http://127.0.0.1:8765"
        )
    return text.rstrip("/")


def data_folder(coins: Sequence[str], timeframe: str, datadir: Path | None, option: str = "COIN") -> Path:
    """The folder holding a ``timeframe`` candle file of every coin. UserError naming the folder when
    it is missing, or the coins without a file there (and where to get them)."""
    coins = [c.upper() for c in coins]
    needed = [candle_file(c, timeframe) for c in coins]
    if datadir is not None:
        if not Path(datadir).is_dir():
            raise UserError(
                f"--datadir: {datadir} is not a folder; give the folder of <COIN>_USDT-<tf>.feather files"
            )
        folder = Path(datadir)
    else:
        try:
            return find_data_dir(needed)
        except MarketDataMissing:
            pass
        try:
            folder = find_data_dir()
        except MarketDataMissing as err:
            raise UserError(one_line(err)) from None
    missing = [c for c, name in zip(coins, needed, strict=True) if not (folder / name).is_file()]
    if not missing:
        return folder
    have_any = [c for c in missing if any(folder.glob(f"{c}_USDT-*.feather"))]
    if have_any and len(have_any) == len(missing):
        sizes = sorted(
            {p.name.split("-", 1)[1].removesuffix(".feather") for p in folder.glob(f"{missing[0]}_USDT-*")}
        )
        raise UserError(
            f"--timeframe: no {timeframe} candle file for {', '.join(missing)} in {folder} "
            f"({missing[0]} has {', '.join(sizes)}); pick one of those or download {timeframe} candles"
        )
    pairs = " ".join(f"{c}/USDT" for c in missing)
    raise UserError(
        f"{option}: no {timeframe} candle file for {', '.join(missing)} in {folder} "
        f"(looked for {', '.join(candle_file(c, timeframe) for c in missing)}); check the spelling, or "
        f"download it: freqtrade download-data --exchange binance --pairs {pairs} --timeframes {timeframe} "
        f"--data-format-ohlcv feather --datadir {folder}"
    )


def exchange_coins(url: str, quote: str = "USDT", timeout: float = EXCHANGE_TIMEOUT) -> set[str]:
    """Base coins traded against ``quote`` on the Binance-style exchange at ``url``
    (``/api/v3/exchangeInfo``); OSError or ValueError when it does not answer properly."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v3/exchangeInfo", timeout=timeout) as resp:
        data = json.loads(resp.read())
    return {
        str(s["baseAsset"]).upper()
        for s in data["symbols"]
        if str(s.get("quoteAsset", "")).upper() == quote and s.get("status", "TRADING") == "TRADING"
    }


@dataclass(frozen=True)
class CoinCheck:
    """How the coins were checked: ``how`` is one line for the summary."""

    how: str


def check_coins_exist(
    coins: Sequence[str], option: str, exchange_url: str | None, datadir: Path | None, quote: str = "USDT"
) -> CoinCheck:
    """Every coin (the stake currency aside) must trade on the exchange when it answers (the offline
    exchange at ``exchange_url``, else Binance), else have a candle file in the data folder.
    UserError names the unknown coins and which check was made; the result says which check was
    possible."""
    coins = [c.upper() for c in coins if c.upper() != quote]
    url = exchange_url or BINANCE_URL
    try:
        if exchange_url is None and os.environ.get("SMARTFOLIO_OFFLINE"):
            raise OSError("SMARTFOLIO_OFFLINE is set: no public exchange is asked")
        listed = exchange_coins(url, quote)
    except (OSError, ValueError, KeyError, TypeError) as err:
        reason = f"{url} did not answer ({one_line(getattr(err, 'reason', err))})"
    else:
        unknown = [c for c in coins if c not in listed]
        if unknown:
            raise UserError(
                f"{option}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not traded as "
                f"{'/'.join((unknown[0], quote))} on {url} (checked its markets); check the spelling or "
                "leave the coin out"
            )
        return CoinCheck(f"every coin trades against {quote} on {url}")
    try:
        folder = Path(datadir) if datadir is not None else find_data_dir()
    except MarketDataMissing:
        return CoinCheck(f"not checked: {reason} and there is no data folder")
    unknown = [c for c in coins if not any(folder.glob(f"{c}_{quote}-*.feather"))]
    if unknown:
        raise UserError(
            f"{option}: {', '.join(unknown)} {'has' if len(unknown) == 1 else 'have'} no candle file in "
            f"{folder} and could not be looked up on an exchange ({reason}); check the spelling, leave "
            "the coin out, or give --offline-exchange URL of a running exchange"
        )
    return CoinCheck(f"every coin has candles in {folder} (the exchange was not checked: {reason})")


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def check_file(path: Path, option: str, what: str) -> Path:
    """``path`` is an existing, non-empty file (UserError naming ``option`` and ``what`` it should be)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{option}: {path} does not exist; give {what}")
    if not path.is_file():
        raise UserError(f"{option}: {path} is not a file; give {what}")
    if path.stat().st_size == 0:
        raise UserError(f"{option}: {path} is empty; give {what}")
    return path


def check_database(path: Path, option: str = "--db") -> Path:
    """``path`` is a sqlite file (freqtrade's ``tradesv3.sqlite``); UserError otherwise."""
    what = "the bot's sqlite database, e.g. user_data/tradesv3.sqlite"
    check_file(path, option, what)
    if not is_sqlite(path):
        raise UserError(f"{option}: {path} is not a sqlite database; give {what}")
    return path


def sql_reason(err: BaseException) -> str:
    """A database error's reason without the SQL pandas puts in front (``no such table: orders``)."""
    return one_line(str(err).rsplit("': ", 1)[-1])
