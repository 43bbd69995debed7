"""``smartfolio presets``: list the sector presets with their evaluation, or show one in detail."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.marketdata import MarketDataMissing
from freqtrade_smartfolio.portfolio.allocation import AllocationError
from freqtrade_smartfolio.presets.evaluate import (
    COMMAND,
    describe,
    estimate_weights,
    evaluate_all,
    format_table,
    load_evaluation,
)
from freqtrade_smartfolio.presets.loader import Preset, PresetError, get_preset, load_presets

NAME = "presets"
HELP = "List the sector presets with their historical evaluation; 'presets show NAME' for one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smartfolio presets``."""
    parser.add_argument("action", nargs="?", default="list", choices=("list", "show"), help="list or show")
    parser.add_argument("name", nargs="?", help="preset name (with 'show')")
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="recompute the evaluation from the data instead of reading it",
    )
    parser.add_argument("--datadir", type=Path, default=None, help="folder of candle files")
    parser.add_argument(
        "--reports",
        type=Path,
        metavar="DIR",
        help="also write an HTML report of each preset's history into DIR and link it from the list",
    )


def stale_reason(preset: Preset, entry: Mapping[str, Any] | None) -> str | None:
    """Why the stored evaluation does not describe ``preset`` any more (None when it does)."""
    if entry is None:
        return "not evaluated"
    for key, value in (
        ("coins", list(preset.coins)),
        ("method", preset.method),
        ("lookback", preset.lookback),
        ("bounds", list(preset.bounds)),
    ):
        if entry.get(key) != value:
            return f"{key} changed since the evaluation ({entry.get(key)!r} -> {value!r})"
    return None


def _evaluation(args: argparse.Namespace, presets: Mapping[str, Preset]) -> dict[str, Any] | None:
    if args.recompute:
        names = [args.name.lower()] if args.action == "show" and args.name else None
        return evaluate_all(datadir=args.datadir, names=names, presets=presets)
    return load_evaluation()


def _fmt(value: float) -> str:
    return f"{100 * value:+.1f}%"


def _grid_table(rows: list[Mapping[str, Any]], chosen: str) -> list[str]:
    lines = [f"  {'rule':<16} {'return':>8} {'max DD':>8} {'Sharpe':>7} {'rebalances':>10} {'fees':>9}"]
    for row in rows:
        mark = "  <- recommended" if row["rule"] == chosen else ""
        lines.append(
            f"  {row['rule']:<16} {_fmt(row['total_return']):>8} {_fmt(row['max_drawdown']):>8} "
            f"{row['sharpe']:>7.2f} {row['rebalances']:>10} {row['fees']:>9.2f}{mark}"
        )
    return lines


def show(
    preset: Preset, entry: Mapping[str, Any] | None, settings: Mapping[str, Any] | None, datadir: Path | None
) -> str:
    """The detail of one preset: description, parameters, weights, evaluation."""
    low, high = preset.bounds
    lines = [
        f"{preset.title} ({preset.name})",
        "",
        preset.description,
        "",
        f"coins:      {' '.join(preset.coins)}",
        f"allocation: {preset.method.replace('_', '-')}, lookback {preset.lookback} of {preset.timeframe} "
        f"candles, weights {100 * low:g}%..{100 * high:g}% per coin",
        f"file:       {preset.path}",
    ]
    try:
        now, window = estimate_weights(
            preset.coins, preset.method, preset.lookback, preset.timeframe, preset.bounds, None, datadir
        )
        shown = now.display_weights()
        lines.append(
            f"weights now (lookback {window.index[0]:%Y-%m-%d}..{window.index[-1]:%Y-%m-%d}, what "
            f"'smartfolio new' writes): " + ", ".join(f"{c} {shown[c]:.1f}%" for c in preset.coins)
        )
    except (AllocationError, MarketDataMissing) as err:
        lines.append(f"weights now: unavailable ({err})")
    reason = stale_reason(preset, entry)
    if reason or entry is None or settings is None:
        lines += [
            "",
            f"evaluation: {reason}; run `{COMMAND}` or `smartfolio presets show {preset.name} --recompute`",
        ]
        return "\n".join(lines)
    s = settings
    hist, conf = entry["history"], entry["confirmation"]
    rec = entry["recommended"]
    lines += [
        f"weights evaluated (lookback {entry['lookback_window'][0][:10]}.."
        f"{entry['lookback_window'][1][:10]}, "
        f"{entry['method_used'].replace('_', '-')}): "
        + ", ".join(f"{c} {entry['weights_pct'][c]:.1f}%" for c in preset.coins),
        "",
        f"recommended rebalance: {rec['label']} (highest {s['criterion']} on {s['start']}..{s['split']})",
        "",
        f"history {s['start']}..{s['end']} ({s['timeframe']}, {s['investment']:,.0f} USDT, "
        f"fee {100 * s['fee']:g}%):",
        f"  {'':<16} {'return':>8} {'max DD':>8} {'Sharpe':>7} {'rebalances':>10}",
    ]
    for label, row in ((rec["label"], hist["strategy"]), ("buy and hold", hist["buy_and_hold"])):
        lines.append(
            f"  {label:<16} {_fmt(row['total_return']):>8} {_fmt(row['max_drawdown']):>8} "
            f"{row['sharpe']:>7.2f} {row['rebalances']:>10}"
        )
    lines += [
        "",
        f"selection window {s['start']}..{s['split']}:",
        *_grid_table(entry["selection"]["grid"], rec["label"]),
    ]
    lines += [
        "",
        f"out of sample {s['split']}..{s['end']}: {rec['label']} {_fmt(conf['strategy']['total_return'])} "
        f"(max DD {_fmt(conf['strategy']['max_drawdown'])}), rank {conf['rank']} of {conf['of']}; "
        f"buy and hold {_fmt(conf['buy_and_hold']['total_return'])}; best in hindsight {conf['best_rule']} "
        f"{_fmt(conf['best']['total_return'])}",
        *_grid_table(conf["grid"], rec["label"]),
        "",
        f"create a config: smartfolio new --preset {preset.name} --amount 1000 --out config.json",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List or show; 2 on a bad preset, a bad name or missing data."""
    if args.datadir is not None and not args.datadir.is_dir():
        raise UserError(f"--datadir: {args.datadir} is not a folder; give the folder of candle files")
    if args.reports is not None and args.reports.exists() and not args.reports.is_dir():
        raise UserError(f"--reports: {args.reports} is a file; give a folder for the reports")
    try:
        presets = load_presets()
        if args.action == "show" and not args.name:
            raise PresetError([f"presets show: give a preset name, one of {', '.join(presets)}"])
        if args.action == "list" and args.name:
            raise PresetError([f"presets: {args.name!r} is not an action; use 'presets show {args.name}'"])
        if args.action == "show":
            preset = get_preset(args.name)
        evaluation = _evaluation(args, presets)
    except (PresetError, AllocationError, MarketDataMissing) as err:
        raise UserError(str(err)) from None
    entries = (evaluation or {}).get("presets", {})
    settings = (evaluation or {}).get("settings")
    if args.action == "show":
        print(show(preset, entries.get(preset.name), settings, args.datadir))
        return 0
    current = {
        name: entries[name] for name in presets if stale_reason(presets[name], entries.get(name)) is None
    }
    if current and evaluation is not None:
        print(format_table({**evaluation, "presets": current}))
        print()
        print(describe(evaluation))
    for name, preset in presets.items():
        reason = stale_reason(preset, entries.get(name))
        if reason:
            print(f"{name} ({' '.join(preset.coins)}, {preset.method}): {reason}; run `{COMMAND}`")
    if args.reports and current and evaluation is not None:
        from freqtrade_smartfolio.marketdata import find_data_dir
        from freqtrade_smartfolio.presets.reports import write_preset_reports

        print("\nWriting the presets' reports ...", flush=True)
        pages = write_preset_reports(
            {**evaluation, "presets": current},
            args.datadir or find_data_dir(),
            args.reports,
            progress=lambda line: print(line, flush=True),
        )
        print("Reports:")
        for name, page in pages.items():
            print(f"  {name:<10} {page.resolve().as_uri()}")
    print("\nDetail: smartfolio presets show NAME; new config: smartfolio new --preset NAME --amount 1000")
    return 0
