"""Smart allocation: pure numpy/scipy/pandas functions from returns to portfolio weights.

Front door: ``allocate(returns, method, bounds=None, timeframe='1d', risk_free_rate=0.0)``.
Methods: equal, inverse_volatility, min_variance, max_sharpe, risk_parity, hrp.
"""

from freqtrade_smartfolio.portfolio.allocation.bounds import (
    clip_and_redistribute,
    project_to_bounds,
    resolve_bounds,
)
from freqtrade_smartfolio.portfolio.allocation.core import (
    ALIASES,
    FALLBACKS,
    METHODS,
    Allocation,
    allocate,
    allocate_from_prices,
    display_percentages,
    resolve_method,
    returns_from_prices,
)
from freqtrade_smartfolio.portfolio.allocation.covariance import (
    ESTIMATORS,
    correlation_from_covariance,
    covariance_matrix,
    ledoit_wolf,
    periods_per_year,
    risk_contributions,
    sample_covariance,
)
from freqtrade_smartfolio.portfolio.allocation.errors import AllocationError, SolverError
from freqtrade_smartfolio.portfolio.allocation.hierarchical import hrp
from freqtrade_smartfolio.portfolio.allocation.mean_variance import max_sharpe, min_variance
from freqtrade_smartfolio.portfolio.allocation.naive import equal_weight, inverse_volatility
from freqtrade_smartfolio.portfolio.allocation.risk_parity import risk_parity

__all__ = [
    "ALIASES",
    "ESTIMATORS",
    "FALLBACKS",
    "METHODS",
    "Allocation",
    "AllocationError",
    "SolverError",
    "allocate",
    "allocate_from_prices",
    "clip_and_redistribute",
    "correlation_from_covariance",
    "covariance_matrix",
    "display_percentages",
    "equal_weight",
    "hrp",
    "inverse_volatility",
    "ledoit_wolf",
    "max_sharpe",
    "min_variance",
    "periods_per_year",
    "project_to_bounds",
    "resolve_bounds",
    "resolve_method",
    "returns_from_prices",
    "risk_contributions",
    "risk_parity",
    "sample_covariance",
]
