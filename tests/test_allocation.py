"""Smart allocation: method invariants on real Binance candles, risk models, fallbacks, errors, CLI.

Real market data comes from the shared folder (``datadir`` fixture); generated numbers are used
only for arithmetic unit tests (rounding, bounds projection, two-asset closed forms).
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.commands.allocate import parse_duration
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio.allocation import (
    METHODS,
    AllocationError,
    SolverError,
    allocate,
    allocate_from_prices,
    clip_and_redistribute,
    covariance_matrix,
    display_percentages,
    hrp,
    ledoit_wolf,
    max_sharpe,
    min_variance,
    periods_per_year,
    project_to_bounds,
    resolve_method,
    returns_from_prices,
    risk_contributions,
    risk_parity,
    sample_covariance,
)
from freqtrade_smartfolio.portfolio.allocation import core as allocation_core

MAJORS = ["BTC", "ETH", "BNB", "SOL", "XRP"]
BROAD = ["BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "UNI", "TRX"]
TOL = 1e-9


@pytest.fixture(scope="module")
def majors_daily(datadir: Path) -> pd.DataFrame:
    """Daily returns of the five majors, 2024-01-01 .. 2024-09-01 (244 rows)."""
    return returns_from_prices(load_closes(MAJORS, "1d", "2024-01-01", "2024-09-01", datadir))


@pytest.fixture(scope="module")
def broad_hourly(datadir: Path) -> pd.DataFrame:
    """Hourly returns of ten liquid coins, 2024-03-01 .. 2024-06-01."""
    return returns_from_prices(load_closes(BROAD, "1h", "2024-03-01", "2024-06-01", datadir))


BOUNDS_CASES = [None, (0.05, 0.4), {"BTC": (0.1, 0.3), "SOL": (0.0, 0.1)}]


def _bound_arrays(bounds, columns) -> tuple[np.ndarray, np.ndarray]:
    return allocation_core.resolve_bounds(bounds, list(columns))


# --- annualisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        ("1m", 525600),
        ("5m", 105120),
        ("15m", 35040),
        ("1h", 8760),
        ("4h", 2190),
        ("1d", 365),
        ("1w", 365 / 7),
        ("1M", 12),
    ],
)
def test_periods_per_year_is_365_days_of_the_timeframe(timeframe: str, expected: float) -> None:
    assert periods_per_year(timeframe) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("timeframe", ["1x", "", "0h", "h", "1.5h", 60])
def test_periods_per_year_rejects_bad_timeframes(timeframe) -> None:
    with pytest.raises(AllocationError, match="timeframe must be a freqtrade timeframe"):
        periods_per_year(timeframe)


def test_annualisation_follows_the_timeframe(majors_daily: pd.DataFrame) -> None:
    daily = allocate(majors_daily, "equal", timeframe="1d", covariance="sample")
    w = daily.weights.to_numpy()
    per_period = w @ majors_daily.cov().to_numpy() @ w
    assert daily.annual_volatility == pytest.approx(math.sqrt(per_period * 365), rel=1e-12)
    assert daily.annual_return == pytest.approx(float(majors_daily.mean() @ w) * 365, rel=1e-12)
    hourly = allocate(majors_daily, "equal", timeframe="1h", covariance="sample")
    assert hourly.annual_volatility / daily.annual_volatility == pytest.approx(math.sqrt(24))
    assert hourly.annual_return / daily.annual_return == pytest.approx(24)


# --- risk models ----------------------------------------------------------------------------


def test_sample_covariance_matches_pandas(broad_hourly: pd.DataFrame) -> None:
    np.testing.assert_allclose(sample_covariance(broad_hourly), broad_hourly.cov(), rtol=1e-10)
    np.testing.assert_allclose(
        covariance_matrix(broad_hourly, "sample", "1h"), broad_hourly.cov() * 8760, rtol=1e-10
    )


@pytest.mark.parametrize("target", ["constant_correlation", "identity"])
@pytest.mark.parametrize("rows", [20, 200, 2000])
def test_ledoit_wolf_is_psd_with_shrinkage_in_unit_interval(
    broad_hourly: pd.DataFrame, target: str, rows: int
) -> None:
    returns = broad_hourly.iloc[-rows:]
    shrunk, delta = ledoit_wolf(returns, target)
    assert 0.0 <= delta <= 1.0
    np.testing.assert_allclose(shrunk, shrunk.T, atol=0)
    eig = np.linalg.eigvalsh(shrunk)
    assert eig.min() > 0  # positive definite even when rows (20) barely exceed assets (10)
    sample = sample_covariance(returns, ddof=0)
    if target == "constant_correlation":  # the target keeps the sample variances
        np.testing.assert_allclose(np.diag(shrunk), np.diag(sample), rtol=1e-12)
    else:  # the target keeps the average variance: the trace is unchanged
        assert np.trace(shrunk) == pytest.approx(np.trace(sample), rel=1e-12)


def test_ledoit_wolf_shrinks_less_with_more_data(broad_hourly: pd.DataFrame) -> None:
    short = ledoit_wolf(broad_hourly.iloc[-30:])[1]
    long = ledoit_wolf(broad_hourly)[1]
    assert short > long


# --- method invariants ----------------------------------------------------------------------


@pytest.mark.parametrize("bounds", BOUNDS_CASES, ids=["unbounded", "5-40%", "per-coin"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_long_only_fully_invested_and_bounded(
    majors_daily: pd.DataFrame, method: str, bounds
) -> None:
    result = allocate(majors_daily, method, bounds=bounds)
    w = result.weights
    lower, upper = _bound_arrays(bounds, w.index)
    assert list(w.index) == MAJORS
    assert result.method == result.method_used == method
    assert result.fallbacks == ()
    assert w.sum() == pytest.approx(1.0, abs=TOL)
    assert (w >= 0).all()
    assert np.all(w.to_numpy() >= lower - TOL) and np.all(w.to_numpy() <= upper + TOL)
    assert result.risk_contributions.sum() == pytest.approx(1.0, abs=TOL)
    assert result.display_weights().sum() == pytest.approx(100.0, abs=1e-9)


@pytest.mark.parametrize("returns_name", ["majors_daily", "broad_hourly"])
def test_risk_parity_equalises_risk_contributions(returns_name: str, request) -> None:
    returns = request.getfixturevalue(returns_name)
    result = allocate(returns, "risk-parity", timeframe="1h")
    rc = result.risk_contributions
    assert rc.max() - rc.min() < 1e-6
    assert rc.to_numpy() == pytest.approx(1 / len(rc), abs=1e-6)


def test_bounded_risk_parity_equalises_the_unpinned_coins(broad_hourly: pd.DataFrame) -> None:
    unbounded = allocate(broad_hourly, "risk_parity", timeframe="1h").weights
    cap = float(unbounded.sort_values().iloc[-3])  # the two largest weights must be capped
    result = allocate(broad_hourly, "risk_parity", bounds=(0.0, cap), timeframe="1h")
    w, rc = result.weights, result.risk_contributions
    assert w.max() <= cap + TOL
    free = w < cap - 1e-9
    assert 2 <= (~free).sum() < len(w)
    assert rc[free].max() - rc[free].min() < 1e-6
    assert (rc[~free] <= rc[free].min() + 1e-9).all()  # capped coins carry less risk


@pytest.mark.parametrize("bounds", BOUNDS_CASES, ids=["unbounded", "5-40%", "per-coin"])
def test_min_variance_has_the_lowest_variance(majors_daily: pd.DataFrame, bounds) -> None:
    results = {m: allocate(majors_daily, m, bounds=bounds) for m in METHODS}
    best = results["min_variance"].annual_volatility
    for method, result in results.items():
        assert best <= result.annual_volatility + 1e-12, method
    equal = allocate(majors_daily, "equal").annual_volatility
    assert best <= equal


@pytest.mark.parametrize("rate", [0.0, 0.05])
@pytest.mark.parametrize("bounds", BOUNDS_CASES, ids=["unbounded", "5-40%", "per-coin"])
def test_max_sharpe_has_the_highest_in_sample_sharpe(majors_daily: pd.DataFrame, bounds, rate: float) -> None:
    def sharpe(result) -> float:
        return (result.annual_return - rate) / result.annual_volatility

    results = {m: allocate(majors_daily, m, bounds=bounds, risk_free_rate=rate) for m in METHODS}
    best = sharpe(results["max_sharpe"])
    for method, result in results.items():
        assert best >= sharpe(result) - 1e-12, method


def _slsqp(objective, n: int, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    res = minimize(
        objective,
        np.full(n, 1 / n),
        jac=True,
        method="SLSQP",
        bounds=list(zip(lower, upper, strict=True)),
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones((1, n))}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return res.x


@pytest.mark.parametrize("cap", [1.0, 0.3, 0.15])
def test_quadratic_solvers_match_scipy_slsqp(broad_hourly: pd.DataFrame, cap: float) -> None:
    cov = covariance_matrix(broad_hourly, "ledoit_wolf", "1h")
    mean = broad_hourly.mean().to_numpy() * 8760
    n = len(mean)
    lower, upper = np.zeros(n), np.full(n, cap)
    ours = min_variance(cov, lower, upper)
    ref = _slsqp(lambda w: (w @ cov @ w, 2 * cov @ w), n, lower, upper)
    assert ours @ cov @ ours <= ref @ cov @ ref + 1e-12

    def neg_sharpe(w):
        vol = math.sqrt(w @ cov @ w)
        return -(mean @ w) / vol, -(mean / vol - (mean @ w) * (cov @ w) / vol**3)

    ours = max_sharpe(cov, mean, 0.0, lower, upper)
    ref = _slsqp(neg_sharpe, n, lower, upper)
    assert neg_sharpe(ours)[0] <= neg_sharpe(ref)[0] + 1e-10


def test_two_uncorrelated_assets_closed_forms() -> None:
    cov = np.diag([0.04, 0.16])  # vols 20 % and 40 %
    np.testing.assert_allclose(min_variance(cov), [0.8, 0.2])  # 1/var
    np.testing.assert_allclose(risk_parity(cov), [2 / 3, 1 / 3])  # 1/vol
    np.testing.assert_allclose(hrp(cov), [0.8, 0.2])  # bisection of 1/var
    np.testing.assert_allclose(max_sharpe(cov, np.array([0.1, 0.1])), [0.8, 0.2])
    np.testing.assert_allclose(risk_contributions(np.array([2 / 3, 1 / 3]), cov), [0.5, 0.5])


# --- fallbacks ------------------------------------------------------------------------------


def test_max_sharpe_falls_back_when_nothing_beats_the_risk_free_rate(
    majors_daily: pd.DataFrame,
) -> None:
    result = allocate(majors_daily, "max-sharpe", risk_free_rate=50.0)
    assert result.method == "max_sharpe"
    assert result.method_used == "min_variance"
    assert [m for m, _ in result.fallbacks] == ["max_sharpe"]
    assert "risk-free rate" in result.fallbacks[0][1]
    np.testing.assert_allclose(result.weights, allocate(majors_daily, "min_variance").weights)


def test_invalid_weights_trigger_the_next_method(
    majors_daily: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(allocation_core.SOLVERS, "risk_parity", lambda p: np.full(5, np.nan))
    result = allocate(majors_daily, "risk_parity")
    assert result.method_used == "inverse_volatility"
    assert result.fallbacks[0][0] == "risk_parity"
    assert "invalid weights" in result.fallbacks[0][1]


def test_whole_chain_down_to_equal(majors_daily: pd.DataFrame, monkeypatch) -> None:
    def fail(problem):
        raise SolverError("did not converge (forced)")

    monkeypatch.setitem(allocation_core.SOLVERS, "hrp", fail)
    monkeypatch.setitem(allocation_core.SOLVERS, "inverse_volatility", lambda p: np.ones(5))
    result = allocate(majors_daily, "hrp", bounds=(0.0, 0.5))
    assert result.method_used == "equal"
    assert [m for m, _ in result.fallbacks] == ["hrp", "inverse_volatility"]
    assert "forced" in result.fallbacks[0][1] and "sum" in result.fallbacks[1][1]
    assert result.weights.to_numpy() == pytest.approx(0.2)


# --- bad input ------------------------------------------------------------------------------


def test_bad_inputs_are_rejected_with_clear_messages(majors_daily: pd.DataFrame) -> None:
    with pytest.raises(AllocationError, match=r"returns must be at least 2 assets.*1 column"):
        allocate(majors_daily[["BTC"]], "equal")
    with_nan = majors_daily.copy()
    with_nan.iloc[3, 1] = np.nan
    with pytest.raises(AllocationError, match=r"no NaN.*1 in \['ETH'\]"):
        allocate(with_nan, "equal")
    with pytest.raises(AllocationError, match=r"at least n_assets \+ 1 = 6 rows.*got '5 rows"):
        allocate(majors_daily.iloc[:5], "min_variance")
    with pytest.raises(AllocationError, match=r"method must be one of equal, .*risk_parity.*'magic'"):
        allocate(majors_daily, "magic")
    with pytest.raises(AllocationError, match=r"bounds max must be a number in \[0, 1\], got 1.5"):
        allocate(majors_daily, "equal", bounds=(0.0, 1.5))
    with pytest.raises(AllocationError, match=r"bounds\['BTC'\] min must be .*got -0.1"):
        allocate(majors_daily, "equal", bounds={"BTC": (-0.1, 0.5)})
    with pytest.raises(AllocationError, match=r"bounds must be min <= max"):
        allocate(majors_daily, "equal", bounds=(0.5, 0.2))
    with pytest.raises(AllocationError, match=r"minimum weights must sum to <= 1, got 1.25"):
        allocate(majors_daily, "equal", bounds=(0.25, 1.0))
    with pytest.raises(AllocationError, match=r"maximum weights must sum to >= 1, got 0.75"):
        allocate(majors_daily, "equal", bounds=(0.0, 0.15))
    with pytest.raises(AllocationError, match=r"keys among the assets.*\['DOGE'\]"):
        allocate(majors_daily, "equal", bounds={"DOGE": (0.0, 0.5)})
    with pytest.raises(AllocationError, match=r"covariance must be one of sample"):
        allocate(majors_daily, "equal", covariance="shrunk")
    with pytest.raises(AllocationError, match=r"returns must be a pandas DataFrame.*ndarray"):
        allocate(majors_daily.to_numpy(), "equal")
    flat = majors_daily.assign(XRP=0.0)
    with pytest.raises(AllocationError, match=r"non-zero volatility.*XRP"):
        allocate(flat, "equal")
    with pytest.raises(AllocationError, match=r"prices must be strictly positive"):
        returns_from_prices(pd.DataFrame({"A": [1.0, 0.0, 2.0], "B": [1.0, 2.0, 3.0]}))


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("risk-parity", "risk_parity"),
        ("Min-Variance", "min_variance"),
        ("max-sharpe", "max_sharpe"),
        ("inverse-vol", "inverse_volatility"),
        ("HRP", "hrp"),
        ("equal-weight", "equal"),
        ("erc", "risk_parity"),
    ],
)
def test_method_aliases(alias: str, canonical: str) -> None:
    assert resolve_method(alias) == canonical


def test_returns_from_prices_and_allocate_from_prices(datadir: Path) -> None:
    prices = load_closes(MAJORS, "1d", "2024-01-01", "2024-03-01", datadir)
    returns = returns_from_prices(prices)
    assert len(returns) == len(prices) - 1
    np.testing.assert_allclose(returns.iloc[0], prices.iloc[1] / prices.iloc[0] - 1)
    gappy = prices.copy()
    gappy.iloc[10, 0] = np.nan  # a missing close removes the two returns that touch it
    assert len(returns_from_prices(gappy)) == len(returns) - 2
    via_prices = allocate_from_prices(prices, "hrp", bounds=(0.1, 0.5))
    np.testing.assert_allclose(via_prices.weights, allocate(returns, "hrp", (0.1, 0.5)).weights)


# --- arithmetic helpers (generated numbers) -------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_display_percentages_sum_to_exactly_100(values: list[float]) -> None:
    if sum(values) <= 0:
        values = [*values[:-1], 1.0]
    shares = pd.Series(values, index=[f"C{i}" for i in range(len(values))])
    shown = display_percentages(shares)
    assert sum(Decimal(f"{v:.1f}") for v in shown) == Decimal("100.0")
    assert round(float(shown.sum()), 9) == 100.0
    exact = shares / shares.sum() * 100
    assert (np.abs(shown - exact) < 0.1 + 1e-9).all()


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0.001, 10), min_size=n, max_size=n),
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
        )
    )
)
def test_bounding_helpers_always_return_feasible_weights(data) -> None:
    raw, a, b = (np.array(x) for x in data)
    lower, upper = np.minimum(a, b), np.maximum(a, b)
    lower = lower / max(1.0, lower.sum() * 1.01)  # sum of mins <= 1
    upper = np.maximum(upper, lower)
    if upper.sum() < 1:
        upper = np.minimum(1.0, upper + (1 - upper.sum()) / len(upper) + 1e-3)
    for bounded in (
        clip_and_redistribute(raw / raw.sum(), lower, upper),
        project_to_bounds(raw, lower, upper),
    ):
        assert bounded.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(bounded >= lower - 1e-12) and np.all(bounded <= upper + 1e-12)


# --- CLI ------------------------------------------------------------------------------------


def _args(command: str, datadir: Path) -> list[str]:
    return [*command.split(), "--datadir", str(datadir)]


def test_cli_allocate_prints_the_table(datadir: Path, capsys) -> None:
    code = main(
        _args(
            "allocate BTC ETH SOL --method risk-parity --lookback 90d --end 2024-09-01 "
            "--min-weight 0.05 --max-weight 0.6",
            datadir,
        )
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "method: risk-parity" in out and "fallback" not in out
    assert "2024-06-03 00:00 .. 2024-08-31 00:00 UTC, 89 1d returns" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:3] in MAJORS}
    assert set(rows) == {"BTC", "ETH", "SOL"}
    assert sum(Decimal(r[0]) for r in rows.values()) == Decimal("100.0")
    assert {r[2] for r in rows.values()} == {"33.3"}  # equal risk contributions


def test_cli_reports_a_fallback(datadir: Path, capsys) -> None:
    code = main(
        _args(
            "allocate BTC ETH --method max-sharpe --lookback 2160h --timeframe 1h "
            "--end 2024-09-01 --risk-free-rate 50",
            datadir,
        )
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "method: min-variance (requested max_sharpe)" in out
    assert "fallback: max-sharpe failed: no portfolio" in out


def test_cli_rejects_bad_input(datadir: Path, capsys) -> None:
    assert main(["allocate", "BTC", "ETH", "--lookback", "3months", "--datadir", str(datadir)]) == 2
    assert "--lookback must be a positive whole number" in capsys.readouterr().err
    assert main(["allocate", "BTC", "ETH", "--method", "yolo", "--datadir", str(datadir)]) == 2
    assert "method must be one of" in capsys.readouterr().err
    assert main(["allocate", "BTC", "ETH", "--max-weight", "0.4", "--datadir", str(datadir)]) == 2
    assert "maximum weights must sum to >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("12w", 84), ("2160h", 90), ("1440m", 1)])
def test_lookback_parsing(text: str, days: int) -> None:
    assert parse_duration(text) == pd.Timedelta(days=days)
