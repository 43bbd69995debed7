"""Evaluate every preset with the fast engine; every figure of ``evaluation.json`` comes from here.

For each preset:

1. **Weights** from its allocation method on the ``lookback`` that ends where the evaluation starts
   (no look-ahead): ``estimate_weights``.
2. **Selection** (walk-forward, first part): every rebalance rule of the grid (thresholds in percent
   points, absolute band; schedules) is simulated on the selection window; the rule with the highest
   Sharpe ratio is the recommendation.
3. **Confirmation** (second part): the recommended rule on the later window, beside buy-and-hold of
   the same coins and every other rule of the grid (its rank says how the choice held up).
4. **History**: the recommended rule and buy-and-hold over both windows together.

The engine runs in freqtrade mode with the offline exchange's market rules (tick, lot size,
5 USDT minimum notional), the strategy's default minimum order and a 0.1 % fee.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_smartfolio import __version__
from freqtrade_smartfolio.config import DEFAULT_MIN_TRADE, exchange_min_order
from freqtrade_smartfolio.marketdata import find_data_dir, load_closes
from freqtrade_smartfolio.portfolio.allocation import Allocation, AllocationError, allocate_from_prices
from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.engine import ExchangeRules, Market, buy_and_hold, load_market, sweep
from freqtrade_smartfolio.portfolio.plan import CoinRules
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.presets.loader import EVALUATION_FILE, PRESET_DIR, Preset, load_presets

EVALUATION_PATH = PRESET_DIR / EVALUATION_FILE
COMMAND = "python benchmarks/presets_evaluate.py"
MIN_NOTIONAL = 5.0  # the offline exchange's (and Binance's) minimum order for USDT pairs
DIGITS = 6  # decimals kept in evaluation.json


@dataclass(frozen=True)
class EvaluationSettings:
    """Windows (UTC, ``start <= bar <= end``), grid and trading costs of an evaluation."""

    timeframe: str = "1h"
    start: str = "2024-03-01 00:00"  # evaluation start = end of the weights' lookback (exclusive)
    split: str = "2024-06-01 00:00"  # selection window: start..split; confirmation: split..end
    end: str = "2024-09-06 00:00"
    thresholds: tuple[float, ...] = (1, 2, 3, 5, 8, 10)  # percent points, absolute band
    intervals: tuple[str, ...] = ("1d", "3d", "7d", "14d")
    criterion: str = "sharpe"
    investment: float = 10_000.0
    fee: float = 0.001
    min_trade: float = DEFAULT_MIN_TRADE
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One rebalance rule of the grid, in the ``smartfolio.rebalance`` vocabulary."""

    mode: str
    threshold: float | None = None
    interval: str | None = None

    @property
    def label(self) -> str:
        return f"threshold {self.threshold:g}%" if self.mode == "proportional" else f"every {self.interval}"

    def section(self) -> dict[str, Any]:
        """The ``smartfolio.rebalance`` object for this rule."""
        if self.mode == "proportional":
            return {"mode": "proportional", "threshold": self.threshold}
        return {"mode": "scheduled", "interval": self.interval}


def grid(settings: EvaluationSettings) -> list[Rule]:
    """Thresholds first, then schedules, in the order of the settings."""
    return [Rule("proportional", threshold=float(t)) for t in settings.thresholds] + [
        Rule("scheduled", interval=i) for i in settings.intervals if parse_minutes(i, "interval")
    ]


def estimate_weights(
    coins: Sequence[str],
    method: str,
    lookback: str,
    timeframe: str = "1d",
    bounds: tuple[float, float] = (0.0, 1.0),
    end: str | pd.Timestamp | None = None,
    datadir: Path | None = None,
) -> tuple[Allocation, pd.DataFrame]:
    """Allocation of ``coins`` from the ``lookback`` of ``timeframe`` closes ending at ``end``
    (exclusive; default: after the latest candle every coin has). Returns it with the prices used."""
    span = pd.Timedelta(minutes=parse_minutes(lookback, "lookback"))
    prices = load_closes(list(coins), timeframe, end=end, datadir=datadir)
    if len(prices) < 2:
        raise AllocationError(
            f"lookback: no {timeframe} candles shared by {', '.join(coins)}"
            + (f" before {end}" if end is not None else "")
            + "; pick coins with data in the same period"
        )
    stop = (
        pd.Timestamp(end, tz="UTC")
        if end is not None
        else prices.index[-1] + (prices.index[-1] - prices.index[-2])
    )
    window = prices[prices.index >= stop - span]
    first_needed = stop - span
    if window.empty or window.index[0] - first_needed > pd.Timedelta(days=1):
        have = window.index[0] if not window.empty else None
        raise AllocationError(
            f"lookback: {lookback} before {stop:%Y-%m-%d %H:%M} needs {timeframe} candles of "
            f"{', '.join(coins)} from {first_needed:%Y-%m-%d}, but they only share candles from "
            f"{have}; use a shorter lookback or coins listed earlier"
        )
    allocation = allocate_from_prices(window, method, bounds=bounds, timeframe=timeframe)
    return allocation, window


def coin_rules(
    coins: Sequence[str], datadir: Path, settings: EvaluationSettings
) -> tuple[list[CoinRules], list[ExchangeRules]]:
    """The strategy's minimum order and lot size, and the exchange's tick and limits, per coin
    (the offline exchange's rules derived from the candle files)."""
    from freqtrade_smartfolio.exchange.markets import market_rules

    markets = [market_rules(c, datadir, timeframe=None) for c in coins]
    min_order = max(settings.min_trade, exchange_min_order(MIN_NOTIONAL, None, 0.0))
    return (
        [CoinRules(min_order=min_order, step=m.step_size) for m in markets],
        [ExchangeRules(tick=m.tick_size, min_cost=MIN_NOTIONAL, min_amount=m.step_size) for m in markets],
    )


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, Mapping):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def _figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("total_return", "max_drawdown", "sharpe", "rebalances", "fees")
    return {k: (int(summary[k]) if k == "rebalances" else float(summary[k])) for k in keys}


def _run_grid(
    market: Market, targets: Targets, rules: list[Rule], ctx: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for rule in rules:  # one sweep call per rule keeps the grid order and labels explicit
        threshold = None if rule.threshold is None else rule.threshold / 100.0
        minutes = None if rule.interval is None else parse_minutes(rule.interval, "interval")
        frame = sweep(market, targets, [threshold], [minutes], **ctx)
        rows.append({"rule": rule.label, **_figures(frame.iloc[0].to_dict())})
    return rows


def _hold(market: Market, targets: Targets, ctx: dict[str, Any]) -> dict[str, Any]:
    result = buy_and_hold(market, targets, **ctx)
    return _figures(result.summary)


def _slice(market: Market, start: str, end: str) -> Market:
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    keep = (market.index >= lo) & (market.index <= hi)
    ticks = None if market.price_ticks is None else market.price_ticks[keep]
    return Market(
        market.coins,
        market.dates[keep],
        market.open[keep],
        market.close[keep],
        market.timeframe_minutes,
        ticks,
    )


def evaluate_preset(preset: Preset, settings: EvaluationSettings, datadir: Path) -> dict[str, Any]:
    """Weights, walk-forward rule choice, confirmation and history of one preset (module doc)."""
    allocation, window = estimate_weights(
        preset.coins, preset.method, preset.lookback, preset.timeframe, preset.bounds, settings.start, datadir
    )
    coins = list(preset.coins)
    targets = Targets(tuple(coins), tuple(float(w) for w in allocation.weights[coins]))
    rules, exchange = coin_rules(coins, datadir, settings)
    ctx = {"rules": rules, "exchange": exchange, "fee": settings.fee, "investment": settings.investment}
    market = load_market(coins, settings.timeframe, settings.start, settings.end, datadir)
    parts = {
        "selection": _slice(market, settings.start, settings.split),
        "confirmation": _slice(market, settings.split, settings.end),
        "history": market,
    }
    candidates = grid(settings)
    selection = _run_grid(parts["selection"], targets, candidates, ctx)
    best = max(range(len(candidates)), key=lambda i: (selection[i][settings.criterion], -i))
    chosen = candidates[best]
    confirmation = _run_grid(parts["confirmation"], targets, candidates, ctx)
    score = [row[settings.criterion] for row in confirmation]
    top = max(range(len(candidates)), key=lambda i: (score[i], -i))
    history = _run_grid(parts["history"], targets, [chosen], ctx)[0]
    return {
        "title": preset.title,
        "coins": coins,
        "method": preset.method,
        "method_used": allocation.method_used,
        "fallbacks": [list(f) for f in allocation.fallbacks],
        "lookback": preset.lookback,
        "lookback_window": [f"{window.index[0]:%Y-%m-%d %H:%M}", f"{window.index[-1]:%Y-%m-%d %H:%M}"],
        "bounds": list(preset.bounds),
        "weights": {c: float(allocation.weights[c]) for c in coins},
        "weights_pct": {c: float(v) for c, v in allocation.display_weights().items()},
        "recommended": {"label": chosen.label, **chosen.section()},
        "selection": {"grid": selection},
        "confirmation": {
            "strategy": confirmation[best],
            "buy_and_hold": _hold(parts["confirmation"], targets, ctx),
            "rank": 1 + sum(value > score[best] for value in score),  # ties share the better rank
            "of": len(candidates),
            "best_rule": candidates[top].label,
            "best": confirmation[top],
            "grid": confirmation,
        },
        "history": {"strategy": history, "buy_and_hold": _hold(parts["history"], targets, ctx)},
        "bars": {name: len(part.dates) for name, part in parts.items()},
    }


def source_commit(repo: Path = PRESET_DIR.parent.parent) -> dict[str, Any]:
    """HEAD commit and whether the engine/allocation/preset sources differ from it."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": None, "source_modified": None}
    paths = [
        "freqtrade_smartfolio/portfolio",
        "freqtrade_smartfolio/presets",
        "freqtrade_smartfolio/marketdata.py",
        "freqtrade_smartfolio/exchange/markets.py",
    ]
    diff = git(
        "status", "--porcelain", "--", *paths, f":(exclude)freqtrade_smartfolio/presets/{EVALUATION_FILE}"
    )
    return {"commit": head.stdout.strip(), "source_modified": bool(diff.stdout.strip())}


def evaluate_all(
    settings: EvaluationSettings | None = None,
    datadir: Path | None = None,
    names: Iterable[str] | None = None,
    presets: Mapping[str, Preset] | None = None,
) -> dict[str, Any]:
    """The content of ``evaluation.json``: settings, provenance and one entry per preset."""
    settings = settings or EvaluationSettings()
    presets = presets if presets is not None else load_presets()
    chosen = list(names) if names is not None else list(presets)
    folder = Path(datadir) if datadir is not None else find_data_dir(["BTC_USDT-1h.feather"])
    results = {name: evaluate_preset(presets[name], settings, folder) for name in chosen}
    settings_out = {k: v for k, v in asdict(settings).items() if k != "extra"}
    return _round(
        {
            "command": COMMAND,
            "package_version": __version__,
            **source_commit(),
            "data": "Binance spot USDT candles from the shared data folder (../shared/data/binance)",
            "engine": "portfolio.engine in freqtrade mode (equal to freqtrade backtesting)",
            "settings": settings_out,
            "presets": results,
        }
    )


def write_evaluation(evaluation: Mapping[str, Any], path: Path = EVALUATION_PATH) -> None:
    """Write ``evaluation`` as indented JSON (small: a few tens of kB)."""
    Path(path).write_text(json.dumps(evaluation, indent=1) + "\n")


def load_evaluation(path: Path = EVALUATION_PATH) -> dict[str, Any] | None:
    """The stored evaluation, or None when the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def _pct(value: float) -> str:
    return f"{100 * value:+.1f}%"


def format_table(evaluation: Mapping[str, Any]) -> str:
    """The markdown table ``smartfolio presets`` and the docs show."""
    s = evaluation["settings"]
    day = lambda t: str(t)[:10]  # noqa: E731
    lines = [
        f"| preset | coins | method | return {day(s['start'])}..{day(s['end'])} | max drawdown | "
        f"buy-and-hold return (max DD) | recommended rebalance | "
        f"out-of-sample {day(s['split'])}..{day(s['end'])} "
        "(rank in grid) | out-of-sample buy-and-hold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in evaluation["presets"].items():
        hist, conf = p["history"], p["confirmation"]
        method = p["method"].replace("_", "-") + (
            "" if p["method_used"] == p["method"] else f" ({p['method_used']})"
        )
        lines.append(
            f"| {name} | {' '.join(p['coins'])} | {method} | {_pct(hist['strategy']['total_return'])} | "
            f"{_pct(hist['strategy']['max_drawdown'])} | {_pct(hist['buy_and_hold']['total_return'])} "
            f"({_pct(hist['buy_and_hold']['max_drawdown'])}) | "
            f"{p['recommended']['label']} | {_pct(conf['strategy']['total_return'])} "
            f"(max DD {_pct(conf['strategy']['max_drawdown'])}, {conf['rank']}/{conf['of']}) | "
            f"{_pct(conf['buy_and_hold']['total_return'])} |"
        )
    return "\n".join(lines)


def describe(evaluation: Mapping[str, Any]) -> str:
    """Two lines under the table: windows, costs, selection rule and provenance."""
    s = evaluation["settings"]
    commit = evaluation.get("commit") or "unknown"
    modified = " (sources modified)" if evaluation.get("source_modified") else ""
    thresholds = ", ".join(f"{t:g}%" for t in s["thresholds"])
    return (
        f"{s['timeframe']} candles; weights from each preset's lookback ending {s['start']} UTC; "
        "rule chosen by "
        f"the highest {s['criterion']} on {s['start']}..{s['split']} among thresholds {thresholds} and "
        f"intervals {', '.join(s['intervals'])}; out-of-sample {s['split']}..{s['end']}; history "
        f"{s['start']}..{s['end']}; {s['investment']:,.0f} USDT, fee {100 * s['fee']:g}%.\n"
        f"Engine {evaluation['package_version']} at commit {commit[:12]}{modified}; reproduce with "
        f"`{evaluation['command']}`."
    )
