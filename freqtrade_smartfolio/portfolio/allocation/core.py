"""The front door: ``allocate(returns, method, ...) -> Allocation`` with a fallback chain."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio.allocation.bounds import BoundsSpec, _fix_sum, resolve_bounds
from freqtrade_smartfolio.portfolio.allocation.covariance import (
    ESTIMATORS,
    covariance_matrix,
    periods_per_year,
    risk_contributions,
)
from freqtrade_smartfolio.portfolio.allocation.errors import (
    SolverError,
    bad_argument,
)
from freqtrade_smartfolio.portfolio.allocation.hierarchical import hrp
from freqtrade_smartfolio.portfolio.allocation.mean_variance import max_sharpe, min_variance
from freqtrade_smartfolio.portfolio.allocation.naive import equal_weight, inverse_volatility
from freqtrade_smartfolio.portfolio.allocation.risk_parity import risk_parity

METHODS: tuple[str, ...] = (
    "equal",
    "inverse_volatility",
    "min_variance",
    "max_sharpe",
    "risk_parity",
    "hrp",
)

ALIASES: dict[str, str] = {
    "equal_weight": "equal",
    "ew": "equal",
    "inverse_vol": "inverse_volatility",
    "inv_vol": "inverse_volatility",
    "ivol": "inverse_volatility",
    "min_var": "min_variance",
    "minimum_variance": "min_variance",
    "gmv": "min_variance",
    "tangency": "max_sharpe",
    "maximum_sharpe": "max_sharpe",
    "erc": "risk_parity",
    "equal_risk_contribution": "risk_parity",
    "hierarchical_risk_parity": "hrp",
}

FALLBACKS: dict[str, tuple[str, ...]] = {
    "max_sharpe": ("min_variance", "equal"),
    "min_variance": ("equal",),
    "risk_parity": ("inverse_volatility", "equal"),
    "hrp": ("inverse_volatility", "equal"),
    "inverse_volatility": ("equal",),
    "equal": (),
}

_WEIGHT_TOL = 1e-8


@dataclass(frozen=True)
class Problem:
    """Everything a method may use: annualised moments and the weight bounds."""

    cov: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    risk_free_rate: float = 0.0


SOLVERS: dict[str, Callable[[Problem], np.ndarray]] = {
    "equal": lambda p: equal_weight(len(p.lower), p.lower, p.upper),
    "inverse_volatility": lambda p: inverse_volatility(p.cov, p.lower, p.upper),
    "min_variance": lambda p: min_variance(p.cov, p.lower, p.upper),
    "max_sharpe": lambda p: max_sharpe(p.cov, p.mean, p.risk_free_rate, p.lower, p.upper),
    "risk_parity": lambda p: risk_parity(p.cov, p.lower, p.upper),
    "hrp": lambda p: hrp(p.cov, p.lower, p.upper),
}


def resolve_method(method: str) -> str:
    """Canonical method name for ``method`` or an alias ('risk-parity', 'min-variance', ...)."""
    key = method.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(method, str) else ""
    key = ALIASES.get(key, key)
    if key not in METHODS:
        raise bad_argument(
            "method",
            f"one of {', '.join(METHODS)} (dashes work too, e.g. 'risk-parity'; "
            f"aliases: {', '.join(sorted(ALIASES))})",
            method,
        )
    return key


def display_percentages(weights: pd.Series, decimals: int = 1) -> pd.Series:
    """Percentages rounded to ``decimals`` places that still sum to exactly 100.

    Largest-remainder (Hamilton) rounding: round every share down to the display unit, then
    give the missing units to the largest remainders (ties to the earlier asset).
    """
    values = np.clip(np.asarray(weights, dtype=float), 0.0, None)
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        raise bad_argument("weights", "non-negative numbers with a positive sum", list(values))
    units = 100 * 10**decimals
    raw = values / total * units
    floors = np.floor(raw).astype(np.int64)
    missing = int(units - floors.sum())
    order = np.argsort(-(raw - floors), kind="stable")
    floors[order[:missing]] += 1
    return pd.Series(floors / 10**decimals, index=weights.index, name="weight_pct")


@dataclass(frozen=True, eq=False)
class Allocation:
    """Result of ``allocate``: weights, what was actually used, and risk figures (annualised)."""

    weights: pd.Series
    method: str
    method_used: str
    fallbacks: tuple[tuple[str, str], ...]
    annual_volatility: float
    annual_return: float
    risk_contributions: pd.Series
    asset_volatility: pd.Series
    covariance: str
    timeframe: str
    periods: int

    def display_weights(self) -> pd.Series:
        """Weights in percent, rounded to 0.1 %, summing to exactly 100.0 (largest remainder)."""
        return display_percentages(self.weights, decimals=1)

    @property
    def sharpe_ratio(self) -> float:
        """In-sample ``annual_return / annual_volatility`` (no risk-free rate subtracted)."""
        return self.annual_return / self.annual_volatility if self.annual_volatility else math.nan


def returns_from_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple returns ``p_t / p_{t-1} - 1``; rows with any NaN are dropped."""
    if not isinstance(prices, pd.DataFrame):
        raise bad_argument("prices", "a pandas DataFrame (dates x assets)", type(prices).__name__)
    values = prices.to_numpy(dtype=float)
    if np.any(values[np.isfinite(values)] <= 0):
        raise bad_argument("prices", "strictly positive prices", "zero or negative entries")
    return prices.astype(float).pct_change(fill_method=None).dropna(how="any")


def _validate_returns(returns: pd.DataFrame) -> np.ndarray:
    """The return matrix as floats, after checking shape, names and values."""
    if not isinstance(returns, pd.DataFrame):
        raise bad_argument("returns", "a pandas DataFrame (periods x assets)", type(returns).__name__)
    n_assets, n_rows = returns.shape[1], returns.shape[0]
    if n_assets < 2:
        raise bad_argument("returns", "at least 2 assets (columns)", f"{n_assets} column(s)")
    if returns.columns.has_duplicates:
        dupes = sorted({str(c) for c in returns.columns[returns.columns.duplicated()]})
        raise bad_argument("returns", "unique asset names", f"duplicates {dupes}")
    try:
        values = returns.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise bad_argument("returns", "numeric values", str(err)) from err
    bad = ~np.isfinite(values)
    if bad.any():
        columns = [str(c) for c in returns.columns[bad.any(axis=0)]]
        raise bad_argument(
            "returns",
            "no NaN or infinite values (use returns_from_prices or .dropna())",
            f"{int(bad.sum())} in {columns}",
        )
    if n_rows < n_assets + 1:
        raise bad_argument(
            "returns",
            f"at least n_assets + 1 = {n_assets + 1} rows (periods) for {n_assets} assets",
            f"{n_rows} rows; use a longer lookback or fewer assets",
        )
    flat = values.max(axis=0) == values.min(axis=0)
    if flat.any():
        names = [str(c) for c in returns.columns[flat]]
        raise bad_argument("returns", "every asset with non-zero volatility", f"constant {names}")
    return values


def _check_weights(w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.shape != lower.shape or not np.all(np.isfinite(w)):
        raise SolverError("produced invalid weights (wrong shape or not finite)")
    if abs(w.sum() - 1.0) > _WEIGHT_TOL:
        raise SolverError(f"produced invalid weights (sum {w.sum():.12g}, expected 1)")
    if np.any(w < lower - _WEIGHT_TOL) or np.any(w > upper + _WEIGHT_TOL):
        raise SolverError("produced invalid weights (outside the bounds)")
    return _fix_sum(np.clip(w, lower, upper), lower, upper)


def solve(problem: Problem, method: str) -> tuple[np.ndarray, str, tuple[tuple[str, str], ...]]:
    """Weights from ``method`` or, if it fails, from its fallback chain; also the method used."""
    failures: list[tuple[str, str]] = []
    for name in (method, *FALLBACKS[method]):
        try:
            with np.errstate(all="ignore"):
                weights = _check_weights(SOLVERS[name](problem), problem.lower, problem.upper)
        except (SolverError, np.linalg.LinAlgError, ArithmeticError) as err:
            failures.append((name, str(err) or type(err).__name__))
            continue
        return weights, name, tuple(failures)
    raise SolverError(f"every method failed: {failures}")


def allocate(
    returns: pd.DataFrame,
    method: str,
    bounds: BoundsSpec = None,
    timeframe: str = "1d",
    risk_free_rate: float = 0.0,
    covariance: str = "ledoit_wolf",
) -> Allocation:
    """Allocate over the columns of ``returns`` (simple returns, one row per ``timeframe`` candle).

    ``method``: one of ``METHODS`` or an alias. ``bounds``: ``None``, one ``(min, max)`` for all
    assets, or ``{asset: (min, max)}``. ``risk_free_rate`` is annual (max_sharpe only).
    ``covariance``: 'sample', 'ledoit_wolf' (constant-correlation target) or
    'ledoit_wolf_identity'. Volatility and mean are annualised with 365 days of ``timeframe``.
    """
    canonical = resolve_method(method)
    values = _validate_returns(returns)
    if isinstance(bounds, Mapping):
        assets = [str(c) for c in returns.columns]
        lower, upper = resolve_bounds({str(k): v for k, v in bounds.items()}, assets)
    else:
        lower, upper = resolve_bounds(bounds, range(values.shape[1]))  # type: ignore[arg-type]
    if covariance not in ESTIMATORS:
        raise bad_argument("covariance", f"one of {', '.join(ESTIMATORS)}", covariance)
    if isinstance(risk_free_rate, bool) or not isinstance(risk_free_rate, int | float):
        raise bad_argument("risk_free_rate", "an annual rate as a float (0.04 = 4 %)", risk_free_rate)
    if not math.isfinite(risk_free_rate):
        raise bad_argument("risk_free_rate", "a finite annual rate", risk_free_rate)
    scale = periods_per_year(timeframe)
    cov = covariance_matrix(values, covariance, timeframe)
    mean = values.mean(axis=0) * scale
    problem = Problem(cov, mean, lower, upper, float(risk_free_rate))
    weights, used, failures = solve(problem, canonical)
    index = returns.columns
    return Allocation(
        weights=pd.Series(weights, index=index, name="weight"),
        method=canonical,
        method_used=used,
        fallbacks=failures,
        annual_volatility=float(np.sqrt(weights @ cov @ weights)),
        annual_return=float(mean @ weights),
        risk_contributions=pd.Series(risk_contributions(weights, cov), index=index, name="risk_contribution"),
        asset_volatility=pd.Series(np.sqrt(np.diag(cov)), index=index, name="annual_volatility"),
        covariance=covariance,
        timeframe=timeframe,
        periods=len(values),
    )


def allocate_from_prices(prices: pd.DataFrame, method: str, **kwargs: object) -> Allocation:
    """``allocate(returns_from_prices(prices), method, **kwargs)``."""
    return allocate(returns_from_prices(prices), method, **kwargs)  # type: ignore[arg-type]
