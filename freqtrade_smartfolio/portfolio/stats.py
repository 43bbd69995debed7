"""Performance statistics of an equity curve: pure functions on a pandas Series (no freqtrade).

Years are 365 days; crypto trades 24/7, so a timeframe of ``m`` minutes has ``525600 / m`` periods a
year. Every function takes the equity curve as a Series indexed by UTC timestamps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

MINUTES_PER_YEAR = 365 * 24 * 60


def period_minutes(equity: pd.Series) -> float:
    """Length of one bar in minutes: the median spacing of the index."""
    if len(equity) < 2:
        raise ValueError("period_minutes: need at least two points to infer the timeframe")
    steps = np.diff(pd.DatetimeIndex(equity.index).as_unit("ns").asi8) / 6e10
    return float(np.median(steps))


def periods_per_year(equity: pd.Series) -> float:
    """Bars per 365-day year at the curve's timeframe (markets open 24/7)."""
    return MINUTES_PER_YEAR / period_minutes(equity)


def years(equity: pd.Series) -> float:
    """Span of the curve in 365-day years."""
    return (equity.index[-1] - equity.index[0]).total_seconds() / (MINUTES_PER_YEAR * 60)


def returns(equity: pd.Series) -> pd.Series:
    """Simple per-bar returns."""
    return equity.pct_change().iloc[1:]


def _returns(equity: pd.Series) -> np.ndarray:
    values = equity.to_numpy(dtype=float)
    return values[1:] / values[:-1] - 1.0


def total_return(equity: pd.Series) -> float:
    """Last value over first value, minus one."""
    return float(equity.iloc[-1] / equity.iloc[0] - 1.0)


def cagr(equity: pd.Series) -> float:
    """Compound annual growth rate over 365-day years (nan for a curve spanning no time)."""
    span = years(equity)
    if span <= 0:
        return math.nan
    try:
        return float(float(equity.iloc[-1] / equity.iloc[0]) ** (1.0 / span) - 1.0)
    except OverflowError:
        return math.inf


def annual_volatility(equity: pd.Series) -> float:
    """Standard deviation of per-bar returns (ddof=1), annualised with the curve's timeframe."""
    r = _returns(equity)
    if len(r) < 2:
        return math.nan
    return float(r.std(ddof=1) * math.sqrt(periods_per_year(equity)))


def sharpe(equity: pd.Series, risk_free: float = 0.0) -> float:
    """Annualised Sharpe ratio of per-bar returns; ``risk_free`` is a yearly rate."""
    r = _returns(equity)
    if len(r) < 2:
        return math.nan
    ppy = periods_per_year(equity)
    excess = r - risk_free / ppy
    sd = float(excess.std(ddof=1))
    if sd == 0:
        return math.nan
    return float(excess.mean() / sd * math.sqrt(ppy))


def drawdown(equity: pd.Series) -> pd.Series:
    """Fall from the running peak at every bar (0 at a peak, -0.25 for 25% under it)."""
    return equity / equity.cummax() - 1.0


def max_drawdown(equity: pd.Series) -> float:
    """Deepest fall from a running peak, as a negative fraction."""
    values = equity.to_numpy(dtype=float)
    return float((values / np.maximum.accumulate(values) - 1.0).min())


def summarize(
    equity: pd.Series,
    *,
    fees: float = 0.0,
    rebalances: int = 0,
    traded_value: float = 0.0,
) -> dict[str, Any]:
    """All statistics of one run in a flat dict.

    ``turnover`` is ``traded_value`` (rebalance orders only, not the initial buys or the final sale)
    over the mean equity: how many times the portfolio changed hands.
    """
    dates = pd.DatetimeIndex(equity.index).as_unit("ns").asi8
    return summarize_values(
        equity.to_numpy(dtype=float), dates, fees=fees, rebalances=rebalances, traded_value=traded_value
    )


def _median_step_minutes(dates_ns: np.ndarray) -> float:
    """:func:`period_minutes` on int64 ns dates; a regular grid (one step) needs no sort: its median
    is that step."""
    steps = np.diff(dates_ns)
    if len(steps) and steps.min() == steps.max():
        return float(steps[0] / 6e10)
    return float(np.median(steps / 6e10))


def summarize_values(
    values: np.ndarray,
    dates_ns: np.ndarray,
    *,
    fees: float = 0.0,
    rebalances: int = 0,
    traded_value: float = 0.0,
) -> dict[str, Any]:
    """:func:`summarize` on arrays: the equity ``values`` at ``dates_ns`` (int64 ns UTC), the same
    figures to the bit, without building a Series (the engine's sweep calls this; :func:`simulate`
    computes the same reductions compiled and finishes with :func:`summary_from`)."""
    values = np.asarray(values, dtype=float)
    r = values[1:] / values[:-1] - 1.0
    mean_r = std_r = math.nan
    step = None
    if len(r) >= 2:
        if len(dates_ns) < 2:
            raise ValueError("period_minutes: need at least two points to infer the timeframe")
        step = _median_step_minutes(np.asarray(dates_ns, dtype=np.int64))
        std_r = float(r.std(ddof=1))
        mean_r = float(r.mean())
    return summary_from(
        values[0],
        values[-1],
        int(dates_ns[-1]) - int(dates_ns[0]),
        returns_mean=mean_r,
        returns_std=std_r,
        step_minutes=step,
        mean_equity=float(values.mean()),
        max_drawdown=float((values / np.maximum.accumulate(values) - 1.0).min()),
        fees=fees,
        rebalances=rebalances,
        traded_value=traded_value,
    )


def summary_from(
    first: float,
    last: float,
    span_ns: int,
    *,
    returns_mean: float,
    returns_std: float,
    step_minutes: float | None,
    mean_equity: float,
    max_drawdown: float,
    fees: float = 0.0,
    rebalances: int = 0,
    traded_value: float = 0.0,
) -> dict[str, Any]:
    """:func:`summarize_values`' dict from its reductions of the curve: the first and last value, the
    span of the dates, the per-bar returns' mean and std (ddof=1; NaN under two returns), the median
    step between dates in minutes (None under two returns), the mean equity and the max drawdown."""
    first, last = np.float64(first), np.float64(last)
    ratio = last / first
    span = pd.Timedelta(span_ns, "ns").total_seconds() / (MINUTES_PER_YEAR * 60)
    if span <= 0:
        growth = math.nan
    else:
        try:
            growth = float(float(ratio) ** (1.0 / span) - 1.0)
        except OverflowError:
            growth = math.inf
    volatility = sharpe_ratio = math.nan
    if step_minutes is not None:
        ppy = MINUTES_PER_YEAR / step_minutes
        volatility = float(returns_std * math.sqrt(ppy))
        # sharpe() with no risk-free rate: r - 0.0 is r to the bit, so its std is the same std
        sharpe_ratio = math.nan if returns_std == 0 else float(returns_mean / returns_std * math.sqrt(ppy))
    return {
        "start_value": float(first),
        "final_value": float(last),
        "total_return": float(ratio - 1.0),
        "cagr": growth,
        "volatility": volatility,
        "sharpe": sharpe_ratio,
        "max_drawdown": float(max_drawdown),
        "fees": float(fees),
        "rebalances": int(rebalances),
        "turnover": float(traded_value / mean_equity) if mean_equity > 0 else math.nan,
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """One line such as ``return +12.3%, CAGR +8.1%, vol 41.0%, Sharpe 0.52, max DD -31.2%, ...``."""
    return (
        f"return {summary['total_return']:+.2%}, CAGR {summary['cagr']:+.2%}, "
        f"vol {summary['volatility']:.1%}, Sharpe {summary['sharpe']:.2f}, "
        f"max DD {summary['max_drawdown']:.1%}, fees {summary['fees']:.2f}, "
        f"{summary['rebalances']} rebalances, turnover {summary['turnover']:.2f}x"
    )
