"""``smartfolio allocate``: smart allocation weights for a set of coins from the candle data."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from freqtrade_smartfolio.cli import ExternalError, UserError
from freqtrade_smartfolio.commands._checks import check_time, check_timeframe, data_folder
from freqtrade_smartfolio.marketdata import MarketDataMissing, load_closes
from freqtrade_smartfolio.portfolio.allocation import (
    ESTIMATORS,
    METHODS,
    Allocation,
    AllocationError,
    SolverError,
    allocate_from_prices,
)

NAME = "allocate"
HELP = "Smart allocation weights (risk parity, HRP, min variance, ...) from recent candles."

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNIT = {"m": "min", "h": "h", "d": "D", "w": "W"}


def parse_duration(text: str, name: str = "--lookback") -> pd.Timedelta:
    """'90d', '12w', '2160h' or '30m' as a ``Timedelta``; the error names the option."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise AllocationError(
            f"{name} must be a positive whole number followed by m, h, d or w "
            f"(e.g. '90d', '12w', '2160h'), got {text!r}"
        )
    return pd.Timedelta(int(match.group(1)), unit=_UNIT[match.group(2)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smartfolio allocate``."""
    methods = ", ".join(m.replace("_", "-") for m in METHODS)
    parser.add_argument("coins", nargs="+", metavar="COIN", help="base coins, e.g. BTC ETH SOL")
    parser.add_argument("--method", default="risk-parity", help=f"one of {methods}")
    parser.add_argument("--lookback", default="90d", help="history window: '90d', '12w', '2160h'")
    parser.add_argument("--timeframe", default="1d", help="candle timeframe (default 1d)")
    parser.add_argument("--end", default=None, help="window end, exclusive (default: latest data)")
    parser.add_argument("--min-weight", type=float, default=0.0, help="minimum weight per coin")
    parser.add_argument("--max-weight", type=float, default=1.0, help="maximum weight per coin")
    parser.add_argument("--risk-free-rate", type=float, default=0.0, help="annual, max-sharpe only")
    parser.add_argument(
        "--covariance", default="ledoit_wolf", choices=ESTIMATORS, help="covariance estimator"
    )
    parser.add_argument("--datadir", type=Path, default=None, help="folder of candle files")


def _window(args: argparse.Namespace) -> pd.DataFrame:
    lookback = parse_duration(args.lookback)
    coins = [c.upper() for c in args.coins]
    if len(set(coins)) != len(coins):
        raise AllocationError(f"COIN must be given once each, got {args.coins}")
    check_timeframe(args.timeframe)
    check_time(args.end)
    datadir = data_folder(coins, args.timeframe, args.datadir)
    prices = load_closes(coins, args.timeframe, end=args.end, datadir=datadir)
    if prices.empty:
        raise AllocationError(f"no candles shared by {', '.join(coins)} before {args.end}")
    step = prices.index[-1] - prices.index[-2] if len(prices) > 1 else pd.Timedelta(0)
    end = pd.Timestamp(args.end, tz="UTC") if args.end else prices.index[-1] + step
    return prices[prices.index >= end - lookback]


def format_table(result: Allocation, prices: pd.DataFrame) -> str:
    """The printed report: one row per coin plus the method used and any fallback."""
    shown = result.display_weights()
    lines = [
        f"{'coin':<10} {'weight %':>9} {'annual vol %':>13} {'risk contrib %':>15}",
    ]
    for coin in result.weights.index:
        lines.append(
            f"{coin:<10} {shown[coin]:>9.1f} {100 * result.asset_volatility[coin]:>13.1f} "
            f"{100 * result.risk_contributions[coin]:>15.1f}"
        )
    lines.append(f"{'total':<10} {shown.sum():>9.1f}")
    first, last = prices.index[0], prices.index[-1]
    lines += [
        "",
        f"method: {result.method_used.replace('_', '-')}"
        + ("" if result.method_used == result.method else f" (requested {result.method})"),
        f"window: {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC, {result.periods} "
        f"{result.timeframe} returns, covariance {result.covariance}",
        f"portfolio: annual volatility {100 * result.annual_volatility:.1f} %, "
        f"mean annual return {100 * result.annual_return:.1f} % (in-sample)",
    ]
    for method, reason in result.fallbacks:
        lines.append(f"fallback: {method.replace('_', '-')} failed: {reason}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load the window, allocate, print the table; UserError (2) on bad input or missing data,
    ExternalError (1) when every solver failed."""
    try:
        prices = _window(args)
        result = allocate_from_prices(
            prices,
            args.method,
            bounds=(args.min_weight, args.max_weight),
            timeframe=args.timeframe,
            risk_free_rate=args.risk_free_rate,
            covariance=args.covariance,
        )
    except (AllocationError, MarketDataMissing) as err:
        raise UserError(str(err)) from None
    except SolverError as err:
        raise ExternalError(str(err)) from None
    print(format_table(result, prices))
    return 0
