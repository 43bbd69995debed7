"""Risk models: pure functions from returns to (annualised) covariance matrices.

Crypto trades around the clock, so a year is 365 days of the candle timeframe
(``'1h'`` -> 8760 periods, ``'1d'`` -> 365, ``'5m'`` -> 105120), never 252.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio.allocation.errors import bad_argument

_TIMEFRAME = re.compile(r"^(\d+)([smhdwM])$")
_MINUTES = {"s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080}
_MINUTES_PER_YEAR = 365 * 1440

Estimator = Literal["sample", "ledoit_wolf", "ledoit_wolf_identity"]
ESTIMATORS: tuple[str, ...] = ("sample", "ledoit_wolf", "ledoit_wolf_identity")


def periods_per_year(timeframe: str) -> float:
    """Candles of ``timeframe`` (freqtrade notation: '5m', '1h', '4h', '1d', '1w', '1M') in 365 days."""
    match = _TIMEFRAME.match(timeframe) if isinstance(timeframe, str) else None
    if not match or int(match.group(1)) == 0:
        raise bad_argument(
            "timeframe", "a freqtrade timeframe such as '5m', '1h', '4h', '1d' or '1w'", timeframe
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit == "M":
        return 12 / count
    periods = _MINUTES_PER_YEAR / (count * _MINUTES[unit])
    return float(round(periods)) if abs(periods - round(periods)) < 1e-9 else periods


def _as_matrix(returns: pd.DataFrame | np.ndarray) -> np.ndarray:
    x = np.asarray(returns, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise bad_argument("returns", "a 2-D (periods x assets) array with at least 2 rows", x.shape)
    if not np.isfinite(x).all():
        raise bad_argument("returns", "finite values (no NaN or inf)", "non-finite entries")
    return x


def sample_covariance(returns: pd.DataFrame | np.ndarray, ddof: int = 1) -> np.ndarray:
    """Per-period sample covariance of a periods x assets return matrix."""
    x = _as_matrix(returns)
    x = x - x.mean(axis=0)
    return (x.T @ x) / (x.shape[0] - ddof)


def ledoit_wolf(
    returns: pd.DataFrame | np.ndarray,
    target: Literal["constant_correlation", "identity"] = "constant_correlation",
) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrinkage ``delta * F + (1 - delta) * S`` and the intensity ``delta`` in [0, 1].

    ``S`` is the (1/T) sample covariance. ``F`` is either the constant-correlation matrix
    (sample variances, average sample correlation; Ledoit & Wolf 2004, "Honey, I shrunk the
    sample covariance matrix") or the scaled identity ``mean(var) * I`` (Ledoit & Wolf 2004,
    "A well-conditioned estimator for large-dimensional covariance matrices"). ``delta`` is the
    estimated optimal intensity, clipped to [0, 1].
    """
    x = _as_matrix(returns)
    t, n = x.shape
    x = x - x.mean(axis=0)
    sample = (x.T @ x) / t
    y = x * x
    phi_mat = (y.T @ y) / t - sample * sample
    phi = float(phi_mat.sum())
    variances = np.diag(sample).copy()
    if target == "identity":
        prior = np.eye(n) * variances.mean()
        rho = 0.0
    elif target == "constant_correlation":
        std = np.sqrt(variances)
        if np.any(std == 0):
            raise bad_argument("returns", "every asset with non-zero variance", "a constant column")
        outer = np.outer(std, std)
        r_bar = float((sample / outer).sum() - n) / (n * (n - 1))
        prior = r_bar * outer
        np.fill_diagonal(prior, variances)
        # theta_{ii,ij} = mean(x_i^3 x_j) - s_ii s_ij (the 4 terms of covCor.m reduce to this)
        theta = ((y * x).T @ x) / t - variances[:, None] * sample
        np.fill_diagonal(theta, 0.0)
        rho = float(np.diag(phi_mat).sum() + r_bar * ((std[None, :] / std[:, None]) * theta).sum())
    else:
        raise bad_argument("target", "'constant_correlation' or 'identity'", target)
    gamma = float(np.sum((sample - prior) ** 2))
    delta = 0.0 if gamma == 0 else min(1.0, max(0.0, (phi - rho) / gamma / t))
    return delta * prior + (1 - delta) * sample, delta


def covariance_matrix(
    returns: pd.DataFrame | np.ndarray, estimator: str = "ledoit_wolf", timeframe: str = "1d"
) -> np.ndarray:
    """Annualised covariance with ``estimator`` in ``ESTIMATORS``."""
    scale = periods_per_year(timeframe)
    if estimator == "sample":
        return sample_covariance(returns) * scale
    if estimator == "ledoit_wolf":
        return ledoit_wolf(returns, "constant_correlation")[0] * scale
    if estimator == "ledoit_wolf_identity":
        return ledoit_wolf(returns, "identity")[0] * scale
    raise bad_argument("covariance", f"one of {', '.join(ESTIMATORS)}", estimator)


def correlation_from_covariance(cov: np.ndarray) -> np.ndarray:
    """Correlation matrix of a covariance matrix (diagonal exactly 1, entries clipped to [-1, 1])."""
    std = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(std, std), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Fractions ``w_i (Cov w)_i / (w' Cov w)`` of portfolio variance; they sum to 1."""
    marginal = cov @ weights
    total = float(weights @ marginal)
    return weights * marginal / total
