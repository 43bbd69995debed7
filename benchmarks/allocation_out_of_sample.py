"""Out-of-sample check of the allocation methods against equal weight, on real daily candles.

Walk forward over the five majors (BTC ETH BNB SOL XRP, daily closes 2020-09-20 .. 2025-09-19):
estimate weights on the past ``--lookback`` days, hold the next ``--hold`` days, rebalancing back
to those weights every ``--rebalance`` days, then roll forward by ``--hold`` days. Every trade
pays ``--fee`` of its notional. The result is whatever it is: in-sample optimality says nothing
about the next quarter. This is a plain numpy simulation (no slippage, no minimum order size, no
cash buffer); the full engine lives elsewhere.

    .venv/bin/python benchmarks/allocation_out_of_sample.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.allocation import METHODS, allocate

MAJORS = ["BTC", "ETH", "BNB", "SOL", "XRP"]


def simulate(
    prices: pd.DataFrame,
    method: str,
    lookback: int,
    hold: int,
    rebalance: int,
    fee: float,
    bounds: tuple[float, float] | None,
) -> tuple[pd.Series, dict[str, float]]:
    """Daily portfolio value (starts at 1) and bookkeeping for one method."""
    returns = prices.pct_change(fill_method=None).to_numpy()[1:]  # returns[k]: day k -> k+1
    n_days = len(returns)
    value, holdings = 1.0, None  # holdings: current weights, after drift
    values, dates = [1.0], [prices.index[lookback]]
    fees_paid, turnover, fallbacks, windows = 0.0, 0.0, 0, 0
    for start in range(lookback, n_days, hold):
        window = pd.DataFrame(returns[start - lookback : start], columns=prices.columns)
        result = allocate(window, method, bounds=bounds, timeframe="1d")
        target = result.weights.to_numpy()
        fallbacks += bool(result.fallbacks)
        windows += 1
        for day in range(start, min(start + hold, n_days)):
            if (day - start) % rebalance == 0:
                traded = 1.0 if holdings is None else float(np.abs(target - holdings).sum())
                cost = fee * traded
                value *= 1.0 - cost
                fees_paid += cost
                turnover += traded
                holdings = target.copy()
            assert holdings is not None
            grown = holdings * (1.0 + returns[day])
            growth = float(grown.sum())
            value *= growth
            holdings = grown / growth
            values.append(value)
            dates.append(prices.index[day + 1])
    book = {"fees": fees_paid, "turnover": turnover, "fallbacks": fallbacks, "windows": windows}
    return pd.Series(values, index=dates), book


def metrics(curve: pd.Series) -> dict[str, float]:
    """Total return, CAGR, annualised volatility, Sharpe (no risk-free rate) and max drawdown of a
    daily value curve (:mod:`freqtrade_smartfolio.portfolio.stats`)."""
    return {
        "total": stats.total_return(curve),
        "cagr": stats.cagr(curve),
        "vol": stats.annual_volatility(curve),
        "sharpe": stats.sharpe(curve),
        "mdd": stats.max_drawdown(curve),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", nargs="+", default=MAJORS)
    parser.add_argument("--start", default="2020-09-20")
    parser.add_argument("--end", default="2025-09-20")
    parser.add_argument("--lookback", type=int, default=180, help="estimation window, days")
    parser.add_argument("--hold", type=int, default=90, help="holding period, days")
    parser.add_argument("--rebalance", type=int, default=30, help="rebalance every N days")
    parser.add_argument("--fee", type=float, default=0.001, help="fee per unit traded (0.1 %%)")
    parser.add_argument("--min-weight", type=float, default=0.0)
    parser.add_argument("--max-weight", type=float, default=1.0)
    parser.add_argument("--datadir", type=Path, default=None)
    args = parser.parse_args(argv)

    prices = load_closes(args.coins, "1d", args.start, args.end, args.datadir)
    bounds = (args.min_weight, args.max_weight)
    print(
        f"coins {' '.join(args.coins)}; daily closes {prices.index[0]:%Y-%m-%d} .. "
        f"{prices.index[-1]:%Y-%m-%d}; lookback {args.lookback} d, hold {args.hold} d, "
        f"rebalance every {args.rebalance} d, fee {100 * args.fee:.2f} %, bounds {bounds}; "
        "Ledoit-Wolf covariance"
    )
    curves = {}
    books = {}
    for method in METHODS:
        curves[method], books[method] = simulate(
            prices, method, args.lookback, args.hold, args.rebalance, args.fee, bounds
        )
    first = curves["equal"].index
    print(
        f"out of sample: {first[0]:%Y-%m-%d} .. {first[-1]:%Y-%m-%d}, {books['equal']['windows']} windows\n"
    )
    base = metrics(curves["equal"])
    print(
        "| method | total return | CAGR | ann. volatility | Sharpe | max drawdown "
        "| CAGR vs equal | vol vs equal | MDD vs equal | fees paid | fallbacks |"
    )
    print("|" + "---|" * 11)
    for method in METHODS:
        m, book = metrics(curves[method]), books[method]
        print(
            f"| {method} | {100 * m['total']:.1f} % | {100 * m['cagr']:.1f} % "
            f"| {100 * m['vol']:.1f} % | {m['sharpe']:.2f} | {100 * m['mdd']:.1f} % "
            f"| {100 * (m['cagr'] - base['cagr']):+.1f} pp | {100 * (m['vol'] - base['vol']):+.1f} pp "
            f"| {100 * (m['mdd'] - base['mdd']):+.1f} pp | {100 * book['fees']:.2f} % "
            f"| {book['fallbacks']}/{book['windows']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
