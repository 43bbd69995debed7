"""``smartfolio new``: write a complete freqtrade config for a preset, a smart allocation or fixed weights.

Weights of a preset or an allocation method are computed now, from the lookback that ends at the
latest candle in the data folder, rounded to 0.1 % (summing to 100) and written as percents into
``smartfolio.portfolio``. The rebalance rule of a preset is the one its evaluation recommends.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.cli import ExternalError, UserError
from freqtrade_smartfolio.commands._checks import (
    check_coins_exist,
    check_time,
    check_timeframe,
    check_url,
    data_folder,
)
from freqtrade_smartfolio.config import (
    DEFAULT_MIN_TRADE,
    MIN_INVESTMENT_HEADROOM,
    MODES,
    ConfigError,
    exchange_min_order,
    minimum_investment,
    parse_settings,
)
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.marketdata import REPO_ROOT, MarketDataMissing
from freqtrade_smartfolio.portfolio.allocation import METHODS, AllocationError, SolverError, resolve_method
from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.presets.evaluate import MIN_NOTIONAL, estimate_weights, load_evaluation
from freqtrade_smartfolio.presets.loader import PresetError, get_preset

NAME = "new"
HELP = "Write a freqtrade config for a preset (--preset), a smart allocation (--coins) or fixed --weights."

STAKE = "USDT"
DEFAULT_REBALANCE: dict[str, Any] = {"mode": "proportional", "threshold": 5.0}
DEFAULT_LOOKBACK = "60d"
STRATEGY_PATH = REPO_ROOT / "user_data" / "strategies"


class NewError(ValueError):
    """A bad option of ``smartfolio new``: the message names the option, the value and the fix."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smartfolio new``."""
    methods = ", ".join(m.replace("_", "-") for m in METHODS)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--preset", help="a preset name (see 'smartfolio presets')")
    what.add_argument("--coins", help="comma-separated coins, e.g. BTC,ETH,SOL (weights from --allocation)")
    what.add_argument("--weights", help="fixed percents, e.g. BTC=50,ETH=30,SOL=20 (USDT=10 keeps cash)")
    parser.add_argument("--amount", type=float, required=True, help="amount to invest, in USDT")
    parser.add_argument("--allocation", default=None, help=f"method for --coins (default equal): {methods}")
    parser.add_argument(
        "--lookback", default=None, help=f"allocation history (default: preset's, or {DEFAULT_LOOKBACK})"
    )
    parser.add_argument("--alloc-timeframe", default=None, help="candles of the lookback (default 1d)")
    parser.add_argument("--min-weight", type=float, default=None, help="smallest weight per coin, e.g. 0.05")
    parser.add_argument("--max-weight", type=float, default=None, help="largest weight per coin, e.g. 0.5")
    parser.add_argument(
        "--end", default=None, help="lookback end, exclusive (default: after the latest candle)"
    )
    parser.add_argument(
        "--mode", choices=MODES, default=None, help="rebalance mode (default: preset's or proportional)"
    )
    parser.add_argument("--threshold", type=float, default=None, help="rebalance threshold in percent points")
    parser.add_argument("--interval", default=None, help="rebalance interval, e.g. 1d, 7d")
    parser.add_argument(
        "--min-trade", type=float, default=None, help=f"smallest order (default {DEFAULT_MIN_TRADE:g})"
    )
    parser.add_argument(
        "--timeframe", default="1h", help="strategy timeframe: how often it checks (default 1h)"
    )
    parser.add_argument("--out", type=Path, default=Path("config.json"), help="config file to write")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument(
        "--offline-exchange", default=None, metavar="URL", help="point ccxt at the offline exchange"
    )
    run_mode = parser.add_mutually_exclusive_group()
    run_mode.add_argument(
        "--dry-run", dest="dry_run", action="store_true", default=True, help="paper trading (default)"
    )
    run_mode.add_argument(
        "--live", dest="dry_run", action="store_false", help="real orders (add your API key)"
    )
    parser.add_argument("--api-server", action="store_true", help="enable freqtrade's REST API on 127.0.0.1")
    parser.add_argument("--datadir", type=Path, default=None, help="folder of candle files for the weights")


def parse_weights(text: str) -> dict[str, float]:
    """``'BTC=50,ETH=30,SOL=20'`` as ``{'BTC': 50.0, ...}``; the error names the bad item."""
    weights: dict[str, float] = {}
    for item in str(text).split(","):
        coin, sep, value = item.partition("=")
        coin = coin.strip().upper()
        try:
            if not sep or not coin:
                raise ValueError
            weights[coin] = float(value)
        except ValueError:
            raise NewError(
                f"--weights: {item.strip()!r} is not COIN=PERCENT; write e.g. --weights BTC=50,ETH=30,SOL=20"
            ) from None
    return weights


def parse_coins(text: str) -> list[str]:
    """``'btc, eth,SOL'`` as ``['BTC', 'ETH', 'SOL']``; at least 2, each once."""
    coins = [c.strip().upper() for c in str(text).split(",") if c.strip()]
    if len(coins) < 2 or len(set(coins)) != len(coins):
        raise NewError(f"--coins: {text!r} must list at least 2 different coins, e.g. --coins BTC,ETH,SOL")
    return coins


def _check_fraction(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise NewError(f"{name}: {value!r} is not a fraction; give a number from 0 to 1, e.g. 0.05 for 5%")


def _method(text: str) -> str:
    try:
        return resolve_method(text)
    except AllocationError as err:
        raise NewError(f"--allocation: {err}") from None


def smart_percents(args: argparse.Namespace) -> tuple[dict[str, float], str, dict[str, Any] | None]:
    """Percent weights, a one-line description of where they come from, and a preset's rebalance rule."""
    _check_fraction("--min-weight", args.min_weight)
    _check_fraction("--max-weight", args.max_weight)
    if args.weights:
        if args.allocation or args.lookback:
            raise NewError("--allocation/--lookback: not used with --weights; drop them or use --coins")
        return parse_weights(args.weights), "fixed weights", None
    rebalance = None
    if args.preset:
        preset = get_preset(args.preset)
        coins, method, lookback = list(preset.coins), preset.method, preset.lookback
        timeframe, low, high = preset.timeframe, preset.min_weight, preset.max_weight
        rebalance = recommended_rebalance(preset.name)
        if args.allocation:
            method = _method(args.allocation)
    else:
        coins = parse_coins(args.coins)
        method = _method(args.allocation or "equal")
        lookback, timeframe, low, high = DEFAULT_LOOKBACK, "1d", 0.0, 1.0
    lookback = args.lookback or lookback
    try:
        parse_minutes(lookback, "--lookback")
    except ValueError as err:
        raise NewError(str(err)) from None
    timeframe = args.alloc_timeframe or timeframe
    low = low if args.min_weight is None else args.min_weight
    high = high if args.max_weight is None else args.max_weight
    check_timeframe(timeframe, "--alloc-timeframe")
    datadir = data_folder(coins, timeframe, args.datadir, "--preset" if args.preset else "--coins")
    allocation, window = estimate_weights(coins, method, lookback, timeframe, (low, high), args.end, datadir)
    shown = allocation.display_weights()
    zero = [c for c in coins if shown[c] <= 0]
    if zero:
        raise NewError(
            f"--min-weight: {', '.join(zero)} would get 0.0% from {method}; give every coin a floor, "
            "e.g. --min-weight 0.02, or leave those coins out"
        )
    used = allocation.method_used.replace("_", "-")
    source = (
        f"{'preset ' + args.preset.lower() + ', ' if args.preset else ''}{used}"
        + ("" if allocation.method_used == allocation.method else f" (fallback from {allocation.method})")
        + f" on {timeframe} closes {window.index[0]:%Y-%m-%d}..{window.index[-1]:%Y-%m-%d} "
        f"(lookback {lookback}), "
        f"weights {100 * low:g}%..{100 * high:g}%"
    )
    return {c: float(shown[c]) for c in coins}, source, rebalance


def recommended_rebalance(name: str) -> dict[str, Any] | None:
    """The rebalance section the stored evaluation recommends for preset ``name`` (None if absent)."""
    from freqtrade_smartfolio.commands.presets import stale_reason

    evaluation = load_evaluation() or {}
    entry = evaluation.get("presets", {}).get(name)
    if stale_reason(get_preset(name), entry) is not None:
        return None
    rec = dict(entry["recommended"])
    rec.pop("label", None)
    return rec


def rebalance_section(args: argparse.Namespace, base: dict[str, Any] | None) -> dict[str, Any]:
    """The preset's (or the default) rebalance rule with the command-line overrides applied."""
    if args.mode is None and args.threshold is None and args.interval is None:
        return dict(base or DEFAULT_REBALANCE)
    mode = args.mode or (
        "both"
        if args.threshold is not None and args.interval is not None
        else "scheduled"
        if args.interval is not None
        else "proportional"
    )
    section: dict[str, Any] = {"mode": mode}
    if mode in ("proportional", "both"):
        section["threshold"] = (
            args.threshold if args.threshold is not None else DEFAULT_REBALANCE["threshold"]
        )
    if mode in ("scheduled", "both"):
        if args.interval is None:
            raise NewError(f"--interval: required with --mode {mode}; e.g. --interval 7d")
        section["interval"] = args.interval
    return section


def minimum_amount(portfolio: Mapping[str, float], min_trade: float) -> float:
    """The smallest investment for ``portfolio`` on an exchange with a 5 USDT minimum notional."""
    targets = Targets.from_percent({c: w for c, w in portfolio.items()}, STAKE)
    min_order = max(min_trade, exchange_min_order(MIN_NOTIONAL, None, 0.0))
    return minimum_investment(targets, {c: min_order for c in targets.coins})


def make_config(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The freqtrade config and a human summary; raises on any bad option."""
    if not args.dry_run and args.offline_exchange:
        raise NewError(
            "--live: the offline exchange only serves market data; drop --offline-exchange or --live"
        )
    check_timeframe(args.timeframe)
    check_time(args.end)
    if args.offline_exchange:
        args.offline_exchange = check_url(args.offline_exchange, "--offline-exchange")
    if args.alloc_timeframe:
        check_timeframe(args.alloc_timeframe, "--alloc-timeframe")
    if args.datadir is not None and not args.datadir.is_dir():
        raise NewError(f"--datadir: {args.datadir} is not a folder; give the folder of candle files")
    if args.out.is_dir():
        raise NewError(
            f"--out: {args.out} is a folder; give a file name, e.g. --out {args.out / 'config.json'}"
        )
    if args.out.exists() and not args.force:
        raise NewError(f"--out: {args.out} exists; pass --force to overwrite it or choose another file")
    percents, source, preset_rule = smart_percents(args)
    min_trade = DEFAULT_MIN_TRADE if args.min_trade is None else args.min_trade
    section: dict[str, Any] = {
        "portfolio": percents,
        "investment": args.amount,
        "rebalance": rebalance_section(args, preset_rule),
    }
    if args.min_trade is not None:
        section["min_trade"] = args.min_trade
    parse_settings({"stake_currency": STAKE, "smartfolio": section})  # field errors before the minimum
    needed = minimum_amount(percents, min_trade)
    if args.amount < needed:
        raise NewError(
            f"--amount: {args.amount:g} {STAKE} is below the minimum of {needed:,.2f} {STAKE} for this "
            f"portfolio (each coin's share must be worth {MIN_INVESTMENT_HEADROOM:g} minimum orders of "
            f"{max(min_trade, exchange_min_order(MIN_NOTIONAL, None, 0.0)):.2f}); invest at least "
            f"{int(-(-needed // 1)):,} or give the smallest coins more weight"
        )
    checked = check_coins_exist(
        list(percents), "--weights" if args.weights else "--coins", args.offline_exchange, args.datadir
    )
    extra = {"strategy_path": str(STRATEGY_PATH)} if STRATEGY_PATH.is_dir() else None
    config = build_config(
        section,
        stake_currency=STAKE,
        timeframe=args.timeframe,
        exchange_url=args.offline_exchange,
        dry_run=args.dry_run,
        api_server=args.api_server,
        extra=extra,
    )
    rule = section["rebalance"]
    rule_text = ", ".join(f"{k} {v}" for k, v in rule.items())
    lines = [
        f"{'coin':<8} {'weight %':>9}",
        *(f"{c:<8} {w:>9.1f}" for c, w in percents.items()),
        f"{'total':<8} {sum(percents.values()):>9.1f}",
        "",
        f"weights:    {source}",
        f"rebalance:  {rule_text}"
        + (" (the preset's recommendation)" if preset_rule and rule == preset_rule else ""),
        f"coins:      {checked.how}",
        f"investment: {args.amount:,.2f} {STAKE} (minimum for this portfolio {needed:,.2f})",
        "mode:       "
        + ("dry run (paper trading)" if args.dry_run else "LIVE: put your API key and secret in exchange"),
    ]
    return config, "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute the weights, build and write the config; UserError (2) on bad input or missing data,
    ExternalError (1) when every solver failed."""
    try:
        config, summary = make_config(args)
    except (NewError, PresetError, AllocationError, ConfigError, MarketDataMissing) as err:
        raise UserError(str(err)) from None
    except SolverError as err:
        raise ExternalError(str(err)) from None
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(config, indent=2) + "\n")
    except OSError as err:
        raise UserError(
            f"--out: cannot write {args.out} ({err.strerror or err}); choose another file"
        ) from None
    print(summary)
    print(f"\nwrote {args.out}")
    print(
        f"backtest: freqtrade backtesting -c {args.out} --datadir DATA --timerange 20240301-20240901\n"
        f"trade:    freqtrade trade -c {args.out}"
    )
    return 0
