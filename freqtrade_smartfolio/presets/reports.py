"""One HTML report per preset: its evaluated history (fast engine, recommended rule) against
buy-and-hold, linked from ``smartfolio presets --reports DIR``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.engine import buy_and_hold, load_market, simulate
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.presets.evaluate import EvaluationSettings, coin_rules


def write_preset_report(
    name: str, entry: Mapping[str, Any], settings: EvaluationSettings, datadir: Path, folder: Path
) -> Path:
    """Rerun the preset's history window with its recommended rule and write ``folder/NAME.html``."""
    from freqtrade_smartfolio.report import from_engine, write_html

    coins = list(entry["coins"])
    stored = [float(entry["weights"][c]) for c in coins]  # rounded to 6 decimals in evaluation.json
    targets = Targets(tuple(coins), tuple(w / sum(stored) for w in stored))
    recommended = entry["recommended"]
    threshold = recommended.get("threshold")
    interval = recommended.get("interval")
    rule = RebalanceRule(
        threshold=None if threshold is None else float(threshold) / 100.0,
        interval_minutes=None if interval is None else parse_minutes(interval, "interval"),
    )
    rules, exchange = coin_rules(coins, datadir, settings)
    market = load_market(coins, settings.timeframe, settings.start, settings.end, datadir)
    fee, investment = settings.fee, settings.investment
    result = simulate(market, targets, rule, rules=rules, exchange=exchange, fee=fee, investment=investment)
    hold = buy_and_hold(market, targets, rules=rules, exchange=exchange, fee=fee, investment=investment)
    title = f"Preset {name}: {entry.get('title', name)} ({recommended.get('label', '')}, fast engine)"
    history = from_engine(result, targets, rule, hold=hold, title=title)
    folder.mkdir(parents=True, exist_ok=True)
    return write_html(history, folder / f"{name}.html")


def write_preset_reports(
    evaluation: Mapping[str, Any],
    datadir: Path,
    folder: Path,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """A report per evaluated preset; returns name -> page."""
    known = set(EvaluationSettings.__dataclass_fields__)
    settings = EvaluationSettings(**{k: v for k, v in evaluation.get("settings", {}).items() if k in known})
    pages = {}
    for name, entry in evaluation.get("presets", {}).items():
        if progress:
            progress(f"  report for {name} ...")
        pages[name] = write_preset_report(name, entry, settings, datadir, folder)
    return pages
