"""Per-coin market rules (tick size, lot size, minimum notional) derived from the candle files.

Pure numpy/pandas, no freqtrade import. The tick size is the data's own decimal grid, so rounding a
candle price to ``tick_size`` never moves it: a fill price rounded by freqtrade stays inside the
candle's low-high range. The lot size follows Binance's habit of a step worth a few cents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_smartfolio.marketdata import MarketDataMissing, candle_file

QUOTE = "USDT"
MIN_NOTIONAL = 5.0  # Binance spot NOTIONAL filter for USDT pairs
MAKER_FEE = 0.001
TAKER_FEE = 0.001
MAX_PRICE_DECIMALS = 12
REL_TOLERANCE = 1e-9
STEP_VALUE_USDT = 0.1  # one lot step is worth at most this much at the median price
MAX_AMOUNT_DECIMALS = 5  # BTC: 0.00001, as on Binance
MIN_AMOUNT_DECIMALS = 0  # steps never exceed 1 unit (PEPE, SHIB: 1, as on Binance)
PRICE_COLUMNS = ["open", "high", "low", "close"]


@dataclass(frozen=True)
class MarketRules:
    """Trading rules of one spot market, in Binance's terms (``symbol`` is the freqtrade pair)."""

    symbol: str
    base: str
    quote: str
    tick_size: float
    step_size: float
    min_qty: float
    min_notional: float
    price_decimals: int
    amount_decimals: int
    max_qty: float = 9.0e9
    maker_fee: float = MAKER_FEE
    taker_fee: float = TAKER_FEE

    @property
    def exchange_id(self) -> str:
        """Binance's market id, e.g. ``BTCUSDT``."""
        return f"{self.base}{self.quote}"

    def round_price(self, price: float) -> float:
        """``price`` rounded to the nearest tick."""
        return round(round(price / self.tick_size) * self.tick_size, self.price_decimals)


def price_decimals(prices: np.ndarray, max_decimals: int = MAX_PRICE_DECIMALS) -> int:
    """Smallest ``d`` such that every positive price rounds to ``d`` decimals within 1e-9 relative.

    Float noise such as ``4.995000000000001e-05`` is tolerated. Raises ``ValueError`` when no
    ``d <= max_decimals`` fits (the prices are not on a decimal grid).
    """
    values = np.asarray(prices, dtype=float).ravel()
    values = np.unique(values[np.isfinite(values) & (values > 0)])
    if values.size == 0:
        raise ValueError("price_decimals: no positive prices to derive a tick size from")
    for decimals in range(max_decimals + 1):
        if np.max(np.abs(np.round(values, decimals) - values) / values) < REL_TOLERANCE:
            return decimals
    raise ValueError(
        f"price_decimals: prices are not on a decimal grid of <= {max_decimals} decimals "
        f"(e.g. {values[0]!r}); pass a larger max_decimals or check the data"
    )


def amount_decimals(median_price: float) -> int:
    """Decimals of the lot step: the coarsest power of ten worth <= 0.1 USDT, clamped to 0..5."""
    if not (median_price > 0 and math.isfinite(median_price)):
        raise ValueError(f"amount_decimals: median_price must be a positive number, got {median_price!r}")
    exponent = math.floor(math.log10(STEP_VALUE_USDT / median_price) + 1e-12)
    return min(max(-exponent, MIN_AMOUNT_DECIMALS), MAX_AMOUNT_DECIMALS)


def rules_from_prices(coin: str, prices: np.ndarray, median_price: float, quote: str = QUOTE) -> MarketRules:
    """Market rules for ``coin`` from its OHLC prices and median close."""
    base = coin.upper()
    p_dec = price_decimals(prices)
    a_dec = amount_decimals(median_price)
    step = float(f"1e-{a_dec}")
    return MarketRules(
        symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        tick_size=float(f"1e-{p_dec}"),
        step_size=step,
        min_qty=step,
        min_notional=MIN_NOTIONAL,
        price_decimals=p_dec,
        amount_decimals=a_dec,
        max_qty=float(f"9e{9 - a_dec}"),
    )


def coin_timeframes(coin: str, datadir: Path, quote: str = QUOTE) -> list[str]:
    """Timeframes with a candle file for ``coin`` in ``datadir``."""
    prefix = f"{coin.upper()}_{quote}-"
    return sorted(p.name[len(prefix) : -len(".feather")] for p in Path(datadir).glob(f"{prefix}*.feather"))


@lru_cache(maxsize=4096)
def _cached_rules(coin: str, datadir: str, timeframe: str | None) -> MarketRules:
    folder = Path(datadir)
    timeframes = [timeframe] if timeframe else coin_timeframes(coin, folder)
    if not timeframes:
        raise MarketDataMissing(f"market_rules: no candle file for coin={coin!r} in {folder}")
    prices: list[np.ndarray] = []
    median = math.nan
    for tf in timeframes:
        path = folder / candle_file(coin, tf)
        if not path.is_file():
            raise MarketDataMissing(
                f"market_rules: no candle file {path} (coin={coin!r}, timeframe={tf!r}); "
                "pick a timeframe that exists in the data folder or timeframe=None for all files"
            )
        frame = pd.read_feather(path, columns=PRICE_COLUMNS)
        prices.append(frame.to_numpy(dtype=float).ravel())
        if tf == (timeframe or ("1h" if "1h" in timeframes else timeframes[0])):
            median = float(frame["close"].median())
    return rules_from_prices(coin, np.concatenate(prices), median)


def market_rules(coin: str, datadir: Path | str, timeframe: str | None = "1h") -> MarketRules:
    """Rules of ``<coin>/USDT`` derived from ``datadir``'s candles of ``timeframe`` (cached).

    ``timeframe=None`` uses every file of the coin (the finest grid over all of them); the offline
    exchange server does that so the tick fits every timeframe it serves.
    """
    return _cached_rules(coin.upper(), str(Path(datadir).resolve()), timeframe)
