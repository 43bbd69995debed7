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

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

PW_BLOCKSIZE = 128  # numpy's pairwise summation block


@njit(**_JIT)
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's pairwise_sum on at most PW_BLOCKSIZE values: one by one under 8, else eight running sums."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    whole = n - n % 8
    i = 8
    while i < whole:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(**_JIT)
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``np.add.reduce(a[lo:lo + n])`` for a contiguous float64 ``a``, numpy's order of additions:
    above PW_BLOCKSIZE values the sum of the two halves (the first a multiple of 8 long). numpy
    recurses; here an explicit stack walks the same tree (numba's cache does not keep recursive
    functions reliably)."""
    if n <= PW_BLOCKSIZE:
        return _block_sum(a, lo, n)
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
            sums[done] = _block_sum(a, start, size)
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
def curve_reductions(values: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """What :func:`stats.summarize_values` reduces ``values`` (the equity, float64, contiguous) to:
    ``[mean of the returns, their std (ddof=1), mean equity, max drawdown]`` (the returns' figures
    NaN under two returns, as there)."""
    bars = values.shape[0]
    out = np.empty(4)
    m = bars - 1
    returns = np.empty(max(m, 0))
    peak = values[0]
    deepest = values[0] / peak - 1.0
    for j in range(bars):
        v = values[j]
        if j:
            returns[j - 1] = v / values[j - 1] - 1.0
        # np.maximum.accumulate: NaN propagates (maximum(a, b) is a when a >= b or a is NaN)
        if not (peak >= v or peak != peak):
            peak = v
        fall = v / peak - 1.0
        if (fall != fall or fall < deepest) and deepest == deepest:  # np.min: NaN propagates
            deepest = fall
    out[0] = np.nan
    out[1] = np.nan
    if m >= 2:
        mean = pairwise_sum(returns, 0, m) / m
        for j in range(m):
            d = returns[j] - mean
            returns[j] = d * d
        out[0] = mean
        out[1] = np.sqrt(pairwise_sum(returns, 0, m) / (m - 1))
    out[2] = pairwise_sum(values, 0, bars) / bars
    out[3] = deepest
    return out


@njit(**_JIT)
def date_steps(dates: np.ndarray) -> tuple[int, int]:  # pragma: no cover - compiled
    """The smallest and the largest step between two consecutive ``dates`` (int64; 0, 0 for fewer
    than two)."""
    lo_step = hi_step = np.int64(0)
    for j in range(1, dates.shape[0]):
        step = dates[j] - dates[j - 1]
        if j == 1 or step < lo_step:
            lo_step = step
        if j == 1 or step > hi_step:
            hi_step = step
    return lo_step, hi_step
