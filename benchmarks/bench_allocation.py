"""Allocation speed at 10, 30 and 100 coins, against PyPortfolioOpt and skfolio when installed.

Data: 1h closes of the shared Binance window 2024-01-01 .. 2024-09-06 for the coins with full
history in it (alphabetical), simple returns. Each timing is the median of ``--repeats`` runs
after a warm-up. "ours (allocate)" is the whole front door: input checks, covariance estimate,
solve; "ours (solver)" is the solve alone on a precomputed covariance. Reference timings are end
to end too (their covariance estimate and optimiser). L1 distances compare weights on the same
returns with the same covariance estimator: PyPortfolioOpt receives our Ledoit-Wolf
(constant-correlation) matrix, skfolio uses its own Ledoit-Wolf (scaled identity, scikit-learn),
matched by our ``covariance="ledoit_wolf_identity"``.

BLAS runs single-threaded (OPENBLAS/OMP/MKL_NUM_THREADS=1 unless already set) for everybody:
on small matrices threads only add noise. The reference libraries are optional and never runtime
dependencies::

    .venv/bin/pip install pyportfolioopt skfolio   # optional, for the comparison columns
    .venv/bin/python benchmarks/bench_allocation.py
"""

from __future__ import annotations

import os

from _machine import machine

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from freqtrade_smartfolio.marketdata import available_coins, load_closes  # noqa: E402
from freqtrade_smartfolio.portfolio.allocation import METHODS, allocate  # noqa: E402
from freqtrade_smartfolio.portfolio.allocation.core import SOLVERS, Problem  # noqa: E402
from freqtrade_smartfolio.portfolio.allocation.covariance import covariance_matrix  # noqa: E402

START, END, TIMEFRAME, PERIODS = "2024-01-01", "2024-09-06", "1h", 8760
TARGET_MS = 30.0
TARGET_METHODS = ("min_variance", "max_sharpe", "hrp")  # the reference comparison


def full_history_coins(datadir: Path | None) -> list[str]:
    """Coins whose 1h candles cover the whole window without a gap."""
    expected = pd.date_range(START, END, freq="1h", tz="UTC", inclusive="left")
    coins = []
    for coin in available_coins(TIMEFRAME, datadir):
        closes = load_closes([coin], TIMEFRAME, START, END, datadir)
        if len(closes) == len(expected) and closes.index.equals(expected):
            coins.append(coin)
    return coins


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def pypfopt_runners(returns: pd.DataFrame, cov: np.ndarray) -> dict[str, tuple]:
    """method -> (end-to-end callable, weights on our covariance); empty when not installed."""
    try:
        from pypfopt import EfficientFrontier, HRPOpt, expected_returns, risk_models
    except ImportError:
        return {}
    cols = returns.columns
    cov_df = pd.DataFrame(cov, index=cols, columns=cols)
    mean = returns.mean() * PERIODS

    def estimate() -> tuple[pd.Series, pd.DataFrame]:
        shrunk = risk_models.CovarianceShrinkage(returns, returns_data=True, frequency=PERIODS)
        mu = expected_returns.mean_historical_return(
            returns, returns_data=True, compounding=False, frequency=PERIODS
        )
        return mu, shrunk.ledoit_wolf("constant_correlation")

    def min_var(mu: pd.Series | None, s: pd.DataFrame) -> np.ndarray:
        ef = EfficientFrontier(mu, s)
        return np.array(list(ef.min_volatility().values()))

    def max_sharpe(mu: pd.Series, s: pd.DataFrame) -> np.ndarray:
        ef = EfficientFrontier(mu, s)
        return np.array(list(ef.max_sharpe(risk_free_rate=0.0).values()))

    def hrp(mu: pd.Series | None, s: pd.DataFrame) -> np.ndarray:
        # returns=None: cluster on the correlation of ``s`` (with returns it would use theirs)
        weights = HRPOpt(None, cov_matrix=s).optimize(linkage_method="single")
        return np.array([weights[c] for c in cols])

    runners = {"min_variance": min_var, "max_sharpe": max_sharpe, "hrp": hrp}
    return {name: (lambda fn=fn: fn(*estimate()), fn(mean, cov_df)) for name, fn in runners.items()}


def skfolio_runners(returns: pd.DataFrame) -> dict[str, tuple]:
    """method -> (end-to-end callable, weights); skfolio's Ledoit-Wolf (identity target)."""
    try:
        from skfolio import RiskMeasure
        from skfolio.cluster import HierarchicalClustering, LinkageMethod
        from skfolio.distance import PearsonDistance
        from skfolio.moments import LedoitWolf
        from skfolio.optimization import (
            EqualWeighted,
            HierarchicalRiskParity,
            InverseVolatility,
            MeanRisk,
            ObjectiveFunction,
            RiskBudgeting,
        )
        from skfolio.prior import EmpiricalPrior
        from skfolio.seriation import HierarchicalSeriation
    except ImportError:
        return {}

    def prior() -> EmpiricalPrior:
        return EmpiricalPrior(covariance_estimator=LedoitWolf())

    models = {
        "equal": lambda: EqualWeighted(),
        "inverse_volatility": lambda: InverseVolatility(prior_estimator=prior()),
        "min_variance": lambda: MeanRisk(
            objective_function=ObjectiveFunction.MINIMIZE_RISK,
            risk_measure=RiskMeasure.VARIANCE,
            prior_estimator=prior(),
        ),
        "max_sharpe": lambda: MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
            risk_measure=RiskMeasure.STANDARD_DEVIATION,
            prior_estimator=prior(),
        ),
        "risk_parity": lambda: RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, prior_estimator=prior()),
        "hrp": lambda: HierarchicalRiskParity(
            risk_measure=RiskMeasure.VARIANCE,
            prior_estimator=prior(),
            distance_estimator=PearsonDistance(),
            # López de Prado's order: single linkage, plain leaf order (no optimal ordering)
            seriation_estimator=HierarchicalSeriation(
                hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.SINGLE),
                optimal_ordering=False,
            ),
        ),
    }
    out = {}
    for name, make in models.items():

        def fit(make=make) -> np.ndarray:
            return np.asarray(make().fit(returns).weights_)

        out[name] = (fit, fit())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--datadir", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    coins = full_history_coins(args.datadir)
    print(f"machine: {machine()}")
    print(
        f"data: {TIMEFRAME} closes {START} .. {END} (end exclusive), "
        f"{len(coins)} coins with full history; repeats {args.repeats} (median)\n"
    )
    header = (
        "| coins | method | ours ms (allocate) | ours ms (solver) | PyPortfolioOpt ms "
        "| skfolio ms | L1 vs PyPortfolioOpt | L1 vs skfolio |"
    )
    print(header)
    print("|" + "---|" * 8)
    failures: list[str] = []
    slower_info: list[str] = []
    notes: list[str] = []
    for n in args.sizes:
        if n > len(coins):
            print(f"| {n} | skipped: only {len(coins)} coins with full history | | | | | | |")
            continue
        prices = load_closes(coins[:n], TIMEFRAME, START, END, args.datadir)
        returns = prices.pct_change(fill_method=None).dropna()
        cov = covariance_matrix(returns.to_numpy(), "ledoit_wolf", TIMEFRAME)
        mean = returns.mean().to_numpy() * PERIODS
        problem = Problem(cov, mean, np.zeros(n), np.ones(n))
        pyp = pypfopt_runners(returns, cov)
        skf = skfolio_runners(returns)
        if pyp:
            pyp_cov = pyp_matrix(returns)
            notes.append(
                f"{n} coins: Ledoit-Wolf constant-correlation, max |ours - PyPortfolioOpt| / "
                f"max |cov| = {np.abs(cov / PERIODS - pyp_cov).max() / np.abs(pyp_cov).max():.1e}"
            )
        for method in METHODS:
            ours = allocate(returns, method, timeframe=TIMEFRAME)
            total = median_ms(lambda m=method, r=returns: allocate(r, m, timeframe=TIMEFRAME), args.repeats)
            solver = median_ms(lambda m=method, p=problem: SOLVERS[m](p), args.repeats)
            row = [str(n), method, f"{total:.2f}", f"{solver:.2f}"]
            refs = []
            if method in pyp:
                run, weights = pyp[method]
                ms = median_ms(run, args.repeats)
                refs.append(ms)
                l1_pyp = float(np.abs(ours.weights.to_numpy() - weights).sum())
                row.append(f"{ms:.2f}")
            else:
                row.append("-")
                l1_pyp = None
            if method in skf:
                run, weights = skf[method]
                ms = median_ms(run, args.repeats)
                refs.append(ms)
                mine = allocate(returns, method, timeframe=TIMEFRAME, covariance="ledoit_wolf_identity")
                l1_skf = float(np.abs(mine.weights.to_numpy() - weights).sum())
                row.append(f"{ms:.2f}")
            else:
                row.append("-")
                l1_skf = None
            row += ["-" if x is None else f"{x:.1e}" for x in (l1_pyp, l1_skf)]
            print("| " + " | ".join(row) + " |")
            if refs and total > min(refs):
                slower = f"{method} at {n} coins: {total:.2f} ms > fastest reference {min(refs):.2f}"
                (failures if method in TARGET_METHODS else slower_info).append(slower)
            if n >= 100 and total > TARGET_MS:
                failures.append(f"{method} at {n} coins: {total:.2f} ms > {TARGET_MS} ms")
    print()
    for note in notes:
        print(note)
    if not any(s >= 100 for s in args.sizes):
        print("(no 100-coin run: the 30 ms target was not checked)")
    print(
        "targets (min-variance, max-Sharpe, HRP no slower than the fastest reference; "
        "every method <= 30 ms at 100 coins): "
        + ("met" if not failures else "MISSED: " + "; ".join(failures))
    )
    if slower_info:
        print("slower than a reference elsewhere (informational): " + "; ".join(slower_info))
    return 0


def pyp_matrix(returns: pd.DataFrame) -> np.ndarray:
    """PyPortfolioOpt's own constant-correlation Ledoit-Wolf, per period (estimator check)."""
    from pypfopt import risk_models

    shrunk = risk_models.CovarianceShrinkage(returns, returns_data=True, frequency=1)
    return shrunk.ledoit_wolf("constant_correlation").to_numpy()


if __name__ == "__main__":
    sys.exit(main())
