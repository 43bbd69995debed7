"""Exact float work for the compiled freqtrade mode (:mod:`.compiled_freqtrade`): the Python code's
sums in its order and its decimal roundings, decided exactly.

Every operation repeats the Python code's float arithmetic in its order: numpy's pairwise summation
where the Python code sums an array (``ndarray.sum``), CPython's own ``sum()`` where it sums a list
(left to right up to 3.11, Neumaier-compensated from 3.12), Python's ``min``/``max`` argument order.
The decimal roundings are exact integer work on ``x * 10**d`` taken exactly (Dekker's two-product;
numba fuses no multiply-add without fastmath):

* ``round(x, d)`` (Python's: half-even on the exact value) -> the nearest integer ``n``, ``n / 10**d``;
* freqtrade's ``price_to_precision`` (half-up on ``str(x)``, :func:`rules.price_to_precision`): the
  repr lies within half an ulp of ``x``, so it is on the other side of a half-way point ``t`` than
  the exact value only when ``float(t) == x``; then the repr has one decimal more than the tick and
  is the string of that length nearest the exact value (``t`` itself unless an ulp spans several);
* ccxt's TRUNCATE on ``str(amount) / str(step)`` (:func:`lots.truncate_to_step` at a lot boundary) for
  power-of-ten lots: the repr of an amount is a multiple of the lot exactly when the float is the
  nearest to one; otherwise it floors as the exact value does.

Each rounding returns ``(value, decided)``: where it is not decidable (a product ``x * 10**d`` beyond
2**52) the kernel stops and says so and the caller runs the Python loop.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numba import njit

from freqtrade_smartfolio.portfolio.engine import jit_cache  # noqa: F401 - cache keyed on every compiled module

JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

POW10 = np.array([10.0**k for k in range(23)])  # exact
SPLITTER = 134217729.0  # 2**27 + 1
EXACT_LIMIT = 2.0**52

# ------------------------------------------------------------------------------------------ numerics


NEUMAIER = sys.version_info >= (3, 12)  # CPython's sum() of floats compensates since 3.12
MAX_COINS = 128  # numpy's pairwise summation is one block up to 128 values (no recursion to cache)


@njit(**JIT_OPTIONS)
def np_sum(a: np.ndarray) -> float:  # pragma: no cover - compiled
    """``ndarray.sum()`` of a 1-D float array of at most 128 values, bit for bit (numpy's pairwise
    summation: eight running sums, then the rest)."""
    n = a.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    m = n - (n % 8)
    while i < m:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@njit(**JIT_OPTIONS)
def sum_add(total: float, carry: float, x: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """One step of CPython's ``sum()`` over floats: left to right up to 3.11; from 3.12 with
    Neumaier's compensation in ``carry`` (bltinmodule.c)."""
    if not NEUMAIER:
        return total + x, carry
    t = total + x
    if abs(total) >= abs(x):
        carry += (total - t) + x
    else:
        carry += (x - t) + total
    return t, carry


@njit(**JIT_OPTIONS)
def sum_end(total: float, carry: float) -> float:  # pragma: no cover - compiled
    """The end of CPython's ``sum()``: the compensation added (3.12+) when non-zero and finite."""
    if NEUMAIER and carry != 0 and np.isfinite(carry):
        return total + carry
    return total


@njit(**JIT_OPTIONS)
def py_min(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``min(a, b)``."""
    return b if b < a else a


@njit(**JIT_OPTIONS)
def py_max(a: float, b: float) -> float:  # pragma: no cover - compiled
    """Python's ``max(a, b)``."""
    return b if b > a else a


@njit(**JIT_OPTIONS)
def _scaled(x: float, d: int) -> tuple[float, float]:  # pragma: no cover - compiled
    """``x * 10**d`` exactly, as ``p + e`` (Dekker's two-product)."""
    b = POW10[d]
    p = x * b
    c = SPLITTER * x
    xh = c - (c - x)
    xl = x - xh
    c = SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    e = ((xh * bh - p) + xh * bl + xl * bh) + xl * bl
    return p, e


@njit(**JIT_OPTIONS)
def _nearest(p: float, e: float) -> float:  # pragma: no cover - compiled
    """The integer nearest to the exact ``p + e`` (|e| <= ulp(p)/2, |p| < 2**52), ties to even."""
    n = np.rint(p)  # ties to even
    f = p - n  # exact, |f| <= 0.5
    if f == 0.5 and e > 0:
        n += 1.0
    elif f == -0.5 and e < 0:
        n -= 1.0
    return n


@njit(**JIT_OPTIONS)
def _floor(p: float, e: float) -> float:  # pragma: no cover - compiled
    """floor of the exact ``p + e`` (|e| <= ulp(p)/2, |p| < 2**52)."""
    f = np.floor(p)
    if p == f and e < 0:
        f -= 1.0
    return f


@njit(**JIT_OPTIONS)
def py_round(x: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """Python's ``round(x, d)`` (0 <= d <= 22: half-even on the exact value, then the float nearest to
    the decimal) and whether it was decided (False beyond 2**52 lots of 10**-d)."""
    if x != x or x == 0.0:
        return x, True
    p, e = _scaled(x, d)
    if not abs(p) < EXACT_LIMIT:
        return x, False
    return _nearest(p, e) / POW10[d], True


@njit(**JIT_OPTIONS)
def price_to_precision(price: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """rules.price_to_precision with the tick's decimals ``d`` (< 0: no tick): ROUND_HALF_UP on
    ``str(price)``. The repr lies within half an ulp of ``price``: it is on the far side of a half-way
    point ``t`` only when ``float(t) == price`` (then the repr is ``t`` itself, rounded up)."""
    if d < 0:
        return price, True
    on_grid, ok = py_round(price, d)
    if not ok:
        return price, False
    if on_grid == price:
        return price, True
    p, e = _scaled(price, d)
    n = _floor(p, e)
    if (2.0 * n + 1.0) / (2.0 * POW10[d]) == price:
        # The half-way point t round-trips, so no shorter string does: the repr has d + 1 decimals,
        # the ones nearest the exact value (t itself, or a neighbour when an ulp spans several such
        # strings). It reaches t, and rounds up, when the exact value is at least n + 0.45 (scaled).
        h = ((p - n) - 0.45) + e  # p - n exact; the rest within 1e-15 of the exact value
        if abs(h) < 1e-9:
            return price, False
        return (n + 1.0 if h > 0 else n) / POW10[d], True
    g = (p - n) - 0.5  # exact: both multiples of ulp(p), under 1
    up = g > 0 or (g == 0 and e > 0)
    return (n + 1.0 if up else n) / POW10[d], True


@njit(**JIT_OPTIONS)
def truncate_to_step(amount: float, step: float, d: int) -> tuple[float, bool]:  # pragma: no cover
    """lots.truncate_to_step for a lot of 10**-d (0 < step <= 1) or no lot (step 0)."""
    if not step > 0:
        return amount, True
    q = amount / step
    k = np.floor(q)
    if abs(q - np.rint(q)) <= 1e-9 * (1.0 + abs(q)):  # at a lot boundary: the decimals decide
        p, e = _scaled(amount, d)
        if not abs(p) < EXACT_LIMIT:
            return amount, False
        n = _nearest(p, e)
        # str(amount) is n lots exactly when amount is the float nearest to n lots; otherwise the
        # repr, within half an ulp, floors as the exact value does
        k = n if n / POW10[d] == amount else _floor(p, e)
    return py_round(k * step, d)


@njit(**JIT_OPTIONS)
def on_grid(amount: float, step: float, d: int) -> tuple[float, bool]:  # pragma: no cover - compiled
    """rules.on_grid."""
    if not step > 0:
        return amount, True
    return py_round(np.rint(amount / step) * step, d)


@njit(**JIT_OPTIONS)
def floor_to_step(amount: float, step: float) -> float:  # pragma: no cover - compiled
    """plan._floor_to_step."""
    if step <= 0:
        return amount
    return np.floor(amount / step + 1e-9) * step
