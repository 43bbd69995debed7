"""Compiled market preparation (:func:`market.as_market` from OHLC): freqtrade's backtest price
precision of every coin and bar in two passes.

freqtrade's precision of a bar is the most decimals any open, high, low or close of its calendar
month shows at 14 significant digits (``get_tick_size_over_time``), as a tick. :func:`month_digits`
finds each month's most decimals with :func:`market._decimals`' float test, value by value: the 14
digits as the integer ``N = rint(value * 10**shift)`` (the same powers of ten), decided by the float
product unless it lies within 0.01 of a rounding tie (or the exponent guess is off, or the value is
not a positive finite number): those values are listed for the exact formatter
(:func:`market._decimals_exact`). A value needs counting only when it shows more decimals than its
month's most so far, that is when ``N`` is not a multiple of ``10**(shift - most)``, one exact float
division (``N < 2**53``; a multiple divides exactly, any other ``N`` is further than an ulp from an
integer quotient). :func:`month_ticks` spreads each month's tick over its bars, a month without
decimals keeping the tick of the month before (pandas' ``resample("MS").max()`` then ``asof``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module
from freqtrade_smartfolio.portfolio.engine.compiled_exact import JIT_OPTIONS

SIGNIFICANT = 14  # freqtrade formats prices with 14 significant digits
MAX_SHIFT = 300  # market._decimals' fast path: |shift| <= 300
POW10_OFFSET = 400  # POW10[k + POW10_OFFSET] = np.power(10.0, k), as market._decimals computes it
with np.errstate(over="ignore"):
    POW10 = np.power(10.0, np.arange(-POW10_OFFSET, POW10_OFFSET + 1).astype(float))
LOW = 10.0 ** (SIGNIFICANT - 1)
HIGH = 10.0**SIGNIFICANT


@njit(**JIT_OPTIONS)
def month_digits(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    valid: np.ndarray,
    all_valid: bool,
    month_starts: np.ndarray,
    pow10: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The most decimals (0: none) of each month (rows ``month_starts[j]`` to ``month_starts[j + 1]``
    excluded, the last to the end) and coin over the open, high, low and close of its bars where the
    coin has a candle (``valid``; ``all_valid``: everywhere), leaving out the values the float product
    does not decide, listed by flat index ``(bar * coins + coin) * 4 + column`` (columns in that
    order)."""
    bars, n = close.shape
    months = len(month_starts)
    most = np.zeros((months, n), dtype=np.int64)
    slow = np.empty(64, dtype=np.int64)
    found = 0
    for c in range(4):
        prices = open_ if c == 0 else high if c == 1 else low if c == 2 else close
        for i in range(n):
            e = np.int64(0)  # the exponent of the last value: the next one's guess
            for j in range(months):
                end = month_starts[j + 1] if j + 1 < months else bars
                best = most[j, i]
                for r in range(month_starts[j], end):
                    if not all_valid and not valid[r, i]:
                        continue
                    value = prices[r, i]
                    decided = False
                    if value > 0.0 and value < np.inf:
                        if not (pow10[e + POW10_OFFSET] <= value < pow10[e + 1 + POW10_OFFSET]):
                            e = np.int64(np.floor(np.log10(value)))
                        shift = SIGNIFICANT - 1 - e  # decimals shown before trimming
                        if abs(shift) <= MAX_SHIFT:
                            scaled = value * pow10[shift + POW10_OFFSET]
                            number = np.rint(scaled)
                            fraction = abs(scaled - np.trunc(scaled) - 0.5)
                            decided = fraction > 0.01 and number >= LOW and number < HIGH
                    if not decided:
                        if found == len(slow):
                            grown = np.empty(2 * len(slow), dtype=np.int64)
                            grown[:found] = slow
                            slow = grown
                        slow[found] = (r * n + i) * 4 + c
                        found += 1
                        continue
                    need = shift - best  # more decimals than best: N is not a multiple of 10**need
                    if need <= 0:
                        continue
                    if need < SIGNIFICANT:
                        quotient = number / pow10[need + POW10_OFFSET]
                        if quotient == np.floor(quotient):
                            continue
                    zeros = 0  # trailing zeros of the 14 digits (fewer than need)
                    while zeros < SIGNIFICANT - 1:
                        quotient = number / pow10[zeros + 1 + POW10_OFFSET]
                        if quotient != np.floor(quotient):
                            break
                        zeros += 1
                    best = shift - zeros
                most[j, i] = best
    return most, slow[:found].copy()


@njit(**JIT_OPTIONS)
def month_ticks(
    most: np.ndarray, month_starts: np.ndarray, bars: int, tick_of: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Each bar's tick: ``tick_of[d]`` (``1 / 10**d``) of its month's most decimals ``d``; a month
    without any (0) keeps the tick of the last month before it that had some (nan before)."""
    months, n = most.shape
    out = np.empty((bars, n))
    for i in range(n):
        tick = np.nan
        for j in range(months):
            end = month_starts[j + 1] if j + 1 < months else bars
            if most[j, i] > 0:
                tick = tick_of[most[j, i]]
            for r in range(month_starts[j], end):
                out[r, i] = tick
    return out
