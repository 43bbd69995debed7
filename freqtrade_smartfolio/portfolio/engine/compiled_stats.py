"""The array reductions behind :func:`stats.summarize_values`, compiled (numba ``@njit(cache=True)``):
one call over an equity curve instead of a dozen numpy passes, the same floats to the bit.

numpy sums a contiguous float64 array by pairwise summation (``pairwise_sum`` in its ``add`` loop:
under 8 values one by one, up to 128 with eight running sums, above that the two halves split on a
multiple of 8); :func:`pairwise_sum` repeats it operation for operation, so the mean, the standard
deviation (numpy's ``_var``: the mean, then the sum of the squared deviations, over ``n - ddof``)
and the mean equity are numpy's own. The element-wise steps (returns, running peak, drawdown) are the
same single operations. ``tests/test_engine.py`` checks the summary against ``stats.summarize_values``
with hypothesis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

PW_BLOCKSIZE = 128  # numpy's pairwise summation block


VALUES, SQUARED_DEVIATIONS = 0, 1  # what pairwise_sum adds up


@njit(**_JIT, inline="always")
def _term(a: np.ndarray, i: int, kind: int, mean: float) -> float:  # pragma: no cover - compiled
    """Element ``i`` of the terms summed: ``a[i]``, or its squared deviation from ``mean`` (numpy's
    ``_var``: ``x = a - mean``, ``x * x``), computed where it is added instead of stored."""
    if kind == VALUES:
        return a[i]
    d = a[i] - mean
    return d * d


@njit(**_JIT)
def _block_sum(a: np.ndarray, lo: int, n: int, kind: int, mean: float) -> float:  # pragma: no cover
    """numpy's pairwise_sum on at most PW_BLOCKSIZE terms: one by one under 8, else eight running
    sums (compiled)."""
    b = a[lo : lo + n]  # a view indexed from 0: no negative-index test, the loops vectorise
    if n < 8:
        res = 0.0
        for i in range(n):
            res += _term(b, i, kind, mean)
        return res
    r0, r1 = _term(b, 0, kind, mean), _term(b, 1, kind, mean)
    r2, r3 = _term(b, 2, kind, mean), _term(b, 3, kind, mean)
    r4, r5 = _term(b, 4, kind, mean), _term(b, 5, kind, mean)
    r6, r7 = _term(b, 6, kind, mean), _term(b, 7, kind, mean)
    whole = n - n % 8
    i = 8
    while i < whole:
        r0 += _term(b, i, kind, mean)
        r1 += _term(b, i + 1, kind, mean)
        r2 += _term(b, i + 2, kind, mean)
        r3 += _term(b, i + 3, kind, mean)
        r4 += _term(b, i + 4, kind, mean)
        r5 += _term(b, i + 5, kind, mean)
        r6 += _term(b, i + 6, kind, mean)
        r7 += _term(b, i + 7, kind, mean)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _term(b, i, kind, mean)
        i += 1
    return res


@njit(**_JIT)
def pairwise_sum(
    a: np.ndarray, lo: int, n: int, kind: int = VALUES, mean: float = 0.0
) -> float:  # pragma: no cover - compiled
    """``np.add.reduce`` of ``n`` terms (:func:`_term`) from ``lo``, numpy's order of additions:
    above PW_BLOCKSIZE values the sum of the two halves (the first a multiple of 8 long). numpy
    recurses; here an explicit stack walks the same tree (numba's cache does not keep recursive
    functions reliably)."""
    if n <= PW_BLOCKSIZE:
        return _block_sum(a, lo, n, kind, mean)
    depth = 128  # the tree is ~log2(n / 128) deep
    frame_lo = np.empty(depth, dtype=np.int64)
    frame_n = np.empty(depth, dtype=np.int64)
    frame_state = np.empty(depth, dtype=np.int64)  # 0: new, 1: left half pushed, 2: both pushed
    sums = np.empty(depth)
    top = 0
    frame_lo[0], frame_n[0], frame_state[0] = lo, n, 0
    done = 0  # sums waiting to be added
    while top >= 0:
        start, size = frame_lo[top], frame_n[top]
        if size <= PW_BLOCKSIZE:
            sums[done] = _block_sum(a, start, size, kind, mean)
            done += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        state = frame_state[top]
        if state == 0:
            frame_state[top] = 1
            top += 1
            frame_lo[top], frame_n[top], frame_state[top] = start, half, 0
        elif state == 1:
            frame_state[top] = 2
            top += 1
            frame_lo[top], frame_n[top], frame_state[top] = start + half, size - half, 0
        else:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
            top -= 1
    return sums[0]


@njit(**_JIT)
def _max_drawdown(values: np.ndarray) -> float:  # pragma: no cover - compiled
    """``(values / np.maximum.accumulate(values) - 1.0).min()``. Positive finite values: while the
    peak stays, the deepest fall is at the lowest value (a correctly rounded division by a positive
    peak, then ``- 1.0``, never reverses an order), so one division per peak; otherwise (zero,
    negative, inf or NaN values) bar by bar, NaN propagating as in numpy."""
    bars = values.shape[0]
    simple = True
    for j in range(bars):
        v = values[j]
        simple &= (v > 0.0) & (v < np.inf)
    if simple:
        peak = values[0]
        low = peak
        deepest = 0.0  # values[0] / values[0] - 1.0
        for j in range(1, bars):
            v = values[j]
            if v > peak:  # np.maximum: a new peak; the fall under the old one ends
                fall = low / peak - 1.0
                if fall < deepest:
                    deepest = fall
                peak = v
                low = v
            elif v < low:
                low = v
        fall = low / peak - 1.0
        return fall if fall < deepest else deepest
    peak = values[0]
    deepest = values[0] / peak - 1.0
    for j in range(bars):
        v = values[j]
        # np.maximum.accumulate: NaN propagates (maximum(a, b) is a when a >= b or a is NaN)
        if not (peak >= v or peak != peak):
            peak = v
        fall = v / peak - 1.0
        if (fall != fall or fall < deepest) and deepest == deepest:  # np.min: NaN propagates
            deepest = fall
    return deepest


@njit(**_JIT)
def curve_reductions(values: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """What :func:`stats.summarize_values` reduces ``values`` (the equity, float64, contiguous) to:
    ``[mean of the returns, their std (ddof=1), mean equity, max drawdown]`` (the returns' figures
    NaN under two returns, as there)."""
    bars = values.shape[0]
    out = np.empty(4)
    out[0] = np.nan
    out[1] = np.nan
    m = bars - 1
    if m >= 2:
        returns = values[1:] / values[:-1] - 1.0  # one compiled loop, element by element
        mean = pairwise_sum(returns, 0, m, VALUES, 0.0) / m
        out[0] = mean
        out[1] = np.sqrt(pairwise_sum(returns, 0, m, SQUARED_DEVIATIONS, mean) / (m - 1))
    out[2] = pairwise_sum(values, 0, bars, VALUES, 0.0) / bars
    out[3] = _max_drawdown(values)
    return out


@njit(**_JIT)
def date_steps(dates: np.ndarray) -> tuple[int, int]:  # pragma: no cover - compiled
    """The smallest and the largest step between two consecutive ``dates`` (int64; 0, 0 for fewer
    than two)."""
    lo_step = 0
    hi_step = 0
    for j in range(1, dates.shape[0]):
        step = dates[j] - dates[j - 1]
        if j == 1 or step < lo_step:
            lo_step = step
        if j == 1 or step > hi_step:
            hi_step = step
    return lo_step, hi_step


@njit(**_JIT)
def _kth_step(dates: np.ndarray, k: int, guess: int) -> int:  # pragma: no cover - compiled
    """The ``k``-th smallest step between consecutive ``dates``: ``guess`` when it is (one counting
    pass: on a grid with a few gaps the middle step is the grid's), else by ``np.partition``."""
    m = dates.shape[0] - 1
    below = 0
    equal = 0
    for j in range(m):
        step = dates[j + 1] - dates[j]
        below += step < guess
        equal += step == guess
    if below <= k < below + equal:
        return guess
    steps = np.empty(m, dtype=np.int64)
    for j in range(m):
        steps[j] = dates[j + 1] - dates[j]
    return np.partition(steps, k)[k]


@njit(**_JIT)
def median_step_minutes(dates: np.ndarray) -> float:  # pragma: no cover - compiled
    """``stats._median_step_minutes``: ``np.median(np.diff(dates) / 6e10)`` (at least two dates). The
    map to minutes keeps the order, so the middle steps are the middle minutes; numpy's median of an
    even count is the mean of the two middle ones (``(0.0 + a + b) / 2``)."""
    m = dates.shape[0] - 1
    half = m // 2
    guess = dates[half + 1] - dates[half]
    if m % 2:
        return _kth_step(dates, half, guess) / 6e10
    low = _kth_step(dates, half - 1, guess) / 6e10
    high = _kth_step(dates, half, guess) / 6e10
    return (0.0 + low + high) / 2
