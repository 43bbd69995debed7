"""Per-asset weight bounds (long-only, fully invested) and how to respect them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from freqtrade_smartfolio.portfolio.allocation.errors import AllocationError, bad_argument

BoundsSpec = Mapping[str, tuple[float, float]] | tuple[float, float] | None

_TOL = 1e-9


def _pair(name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise bad_argument(name, "a (min, max) pair of floats in [0, 1]", value)
    low, high = value
    for label, item in (("min", low), ("max", high)):
        if isinstance(item, bool) or not isinstance(item, int | float | np.floating | np.integer):
            raise bad_argument(f"{name} {label}", "a number in [0, 1]", item)
        if not 0.0 <= float(item) <= 1.0:
            raise bad_argument(f"{name} {label}", "a number in [0, 1]", item)
    if float(low) > float(high):
        raise bad_argument(name, "min <= max", value)
    return float(low), float(high)


def resolve_bounds(bounds: BoundsSpec, assets: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper weight arrays for ``assets``; validated and checked to be feasible.

    ``bounds`` is ``None`` (0..1 each), one ``(min, max)`` pair for every asset, or a mapping
    ``{asset: (min, max)}`` where unlisted assets get (0, 1).
    """
    n = len(assets)
    lower, upper = np.zeros(n), np.ones(n)
    if bounds is None:
        pass
    elif isinstance(bounds, Mapping):
        unknown = sorted(set(bounds) - set(assets))
        if unknown:
            raise bad_argument("bounds", f"keys among the assets {list(assets)}", unknown)
        for i, asset in enumerate(assets):
            if asset in bounds:
                lower[i], upper[i] = _pair(f"bounds[{asset!r}]", bounds[asset])
    else:
        low, high = _pair("bounds", bounds)
        lower[:], upper[:] = low, high
    check_feasible(lower, upper)
    return lower, upper


def check_feasible(lower: np.ndarray, upper: np.ndarray) -> None:
    """Raise unless some weights within the bounds sum to 1 (sum of mins <= 1 <= sum of maxes)."""
    low_sum, high_sum = float(lower.sum()), float(upper.sum())
    if low_sum > 1 + _TOL:
        raise AllocationError(
            f"bounds are infeasible: the minimum weights must sum to <= 1, got {low_sum:.6g}; "
            "lower some minimums"
        )
    if high_sum < 1 - _TOL:
        raise AllocationError(
            f"bounds are infeasible: the maximum weights must sum to >= 1, got {high_sum:.6g} "
            f"({len(upper)} assets); raise some maximums or add assets"
        )


def project_to_bounds(w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {sum(w) = 1, lower <= w <= upper}: ``clip(w - tau)`` for one tau.

    ``sum(clip(w - tau))`` is piecewise linear and non-increasing in tau with kinks at
    ``w - upper`` and ``w - lower``; tau is found exactly between two consecutive kinks.
    """
    w = np.asarray(w, dtype=float)
    kinks = np.unique(np.concatenate([w - upper, w - lower]))
    sums = np.clip(w[None, :] - kinks[:, None], lower, upper).sum(axis=1)  # non-increasing
    k = int(np.searchsorted(-sums, -1.0, side="right")) - 1  # last kink with sum >= 1
    if k < 0:
        tau = kinks[0]
    elif k >= len(kinks) - 1:
        tau = kinks[-1]
    else:
        s0, s1 = sums[k], sums[k + 1]
        tau = kinks[k] if s0 == s1 else kinks[k] + (s0 - 1.0) / (s0 - s1) * (kinks[k + 1] - kinks[k])
    return _fix_sum(np.clip(w - tau, lower, upper), lower, upper)


def _fix_sum(w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Put the last rounding residue of ``sum(w) - 1`` on the asset with the most room."""
    residue = 1.0 - float(w.sum())
    if residue:
        room = (upper - w) if residue > 0 else (w - lower)
        i = int(np.argmax(room))
        w = w.copy()
        w[i] = min(upper[i], max(lower[i], w[i] + residue))
    return w


def clip_and_redistribute(w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Clip weights to their bounds and spread the excess over the others in proportion.

    Assets pinned at a bound stay there; the free ones are rescaled to fill the remaining
    budget, repeating until nothing violates a bound. The ratios between free weights are kept,
    which is what closed-form methods (equal, inverse volatility, HRP) want.
    """
    w = np.asarray(w, dtype=float)
    if np.all(w >= lower - _TOL) and np.all(w <= upper + _TOL) and abs(w.sum() - 1) < _TOL:
        return _fix_sum(np.clip(w, lower, upper), lower, upper)
    fixed = np.zeros(len(w), dtype=bool)
    out = np.clip(w, lower, upper)
    for _ in range(len(w) + 1):
        fixed |= (w <= lower) | (w >= upper)
        free = ~fixed
        budget = 1.0 - out[fixed].sum()
        free_sum = w[free].sum()
        if not free.any() or free_sum <= 0:
            break
        scaled = w[free] * budget / free_sum
        out[free] = scaled
        over, under = scaled > upper[free], scaled < lower[free]
        if not over.any() and not under.any():
            return _fix_sum(out, lower, upper)
        idx = np.flatnonzero(free)
        out[idx[over]], out[idx[under]] = upper[idx[over]], lower[idx[under]]
        fixed[idx[over | under]] = True
        w = out.copy()
    # pinned everything without meeting the budget: fall back to the Euclidean projection
    return project_to_bounds(out, lower, upper)
