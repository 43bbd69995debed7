"""Sector presets: JSON files in this folder, read and validated into frozen :class:`Preset` objects.

A preset file (``<name>.json``)::

    {
      "name": "majors",
      "title": "Majors",
      "description": "...",
      "coins": ["BTC", "ETH", "BNB", "SOL", "XRP"],
      "allocation": {"method": "risk_parity", "lookback": "60d", "timeframe": "1d",
                     "min_weight": 0.05, "max_weight": 0.4}
    }

Every problem is reported together, each naming the file, the field, the value and the fix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.config import COIN_SYMBOL
from freqtrade_smartfolio.portfolio.allocation import AllocationError, resolve_method
from freqtrade_smartfolio.portfolio.durations import parse_minutes

PRESET_DIR = Path(__file__).resolve().parent
EVALUATION_FILE = "evaluation.json"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KEYS = {"name", "title", "description", "coins", "allocation"}
ALLOCATION_KEYS = {"method", "lookback", "timeframe", "min_weight", "max_weight"}
TIMEFRAMES = ("1h", "1d")
STAKE_CURRENCY = "USDT"


class PresetError(ValueError):
    """A bad preset file or an unknown preset name; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Preset:
    """One validated preset. ``method`` is the canonical allocation method name."""

    name: str
    title: str
    description: str
    coins: tuple[str, ...]
    method: str
    lookback: str
    timeframe: str
    min_weight: float
    max_weight: float
    path: Path

    @property
    def lookback_minutes(self) -> int:
        return parse_minutes(self.lookback, "lookback")

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.min_weight, self.max_weight)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_preset(raw: Any, path: Path) -> Preset:
    """Validate one preset's decoded JSON; ``path`` only names the file in the errors."""
    where = path.name
    problems: list[str] = []

    def bad(field: str, value: Any, fix: str) -> None:
        problems.append(f"{where}: {field}: {value!r} {fix}")

    if not isinstance(raw, Mapping):
        raise PresetError(
            [f"{where}: expected a JSON object with keys {', '.join(sorted(KEYS))}, got {raw!r}"]
        )
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        bad("(keys)", unknown, f"are not preset keys; allowed keys are {', '.join(sorted(KEYS))}")
    missing = sorted(KEYS - set(raw))
    if missing:
        problems.append(f"{where}: missing key(s) {', '.join(missing)}; add them (see presets/majors.json)")

    name = raw.get("name")
    if "name" in raw and not (isinstance(name, str) and NAME_PATTERN.match(name)):
        bad("name", name, "is not a preset name; use lowercase letters, digits, '-' or '_', e.g. 'defi'")
    elif isinstance(name, str) and name != path.stem:
        bad(
            "name",
            name,
            f"differs from the file name; rename the file to {name}.json or set name to {path.stem!r}",
        )
    for key in ("title", "description"):
        value = raw.get(key)
        if key in raw and not (isinstance(value, str) and value.strip()):
            bad(key, value, "is not allowed; give a non-empty text")

    coins: list[str] = []
    raw_coins = raw.get("coins")
    if "coins" in raw:
        if not isinstance(raw_coins, list) or len(raw_coins) < 2:
            bad(
                "coins",
                raw_coins,
                'is not allowed; give a list of at least 2 coin symbols, e.g. ["BTC", "ETH"]',
            )
        else:
            for i, coin in enumerate(raw_coins):
                if not (isinstance(coin, str) and COIN_SYMBOL.match(coin)):
                    bad(
                        f"coins[{i}]",
                        coin,
                        "is not a coin symbol; use upper-case letters and digits, e.g. 'BTC'",
                    )
                elif coin == STAKE_CURRENCY:
                    bad(f"coins[{i}]", coin, "is the stake currency; list only coins to hold")
                elif coin in coins:
                    bad(f"coins[{i}]", coin, "is listed twice; list each coin once")
                else:
                    coins.append(coin)

    alloc = raw.get("allocation")
    method, lookback, timeframe, low, high = "equal", "60d", "1d", 0.0, 1.0
    if "allocation" in raw and not isinstance(alloc, Mapping):
        bad("allocation", alloc, 'is not an object; e.g. {"method": "risk_parity", "lookback": "60d"}')
    elif isinstance(alloc, Mapping):
        extra = sorted(set(alloc) - ALLOCATION_KEYS)
        if extra:
            bad(
                "allocation", extra, f"are not allocation keys; allowed: {', '.join(sorted(ALLOCATION_KEYS))}"
            )
        try:
            method = resolve_method(alloc.get("method", ""))
        except AllocationError as err:
            bad("allocation.method", alloc.get("method"), f"is not a method: {err}")
        lookback = alloc.get("lookback", "")
        try:
            parse_minutes(lookback, "allocation.lookback")
        except ValueError:
            bad("allocation.lookback", lookback, "is not a duration; use e.g. '60d', '12w' or '1440h'")
        timeframe = alloc.get("timeframe", "1d")
        if timeframe not in TIMEFRAMES:
            bad("allocation.timeframe", timeframe, f"is not a timeframe; use one of {', '.join(TIMEFRAMES)}")
        for key in ("min_weight", "max_weight"):
            value = alloc.get(key, 0.0 if key == "min_weight" else 1.0)
            if not (_number(value) and 0.0 <= value <= 1.0):
                bad(
                    f"allocation.{key}",
                    value,
                    "is not a fraction; give a number from 0 to 1, e.g. 0.05 for 5%",
                )
        low, high = alloc.get("min_weight", 0.0), alloc.get("max_weight", 1.0)
        if _number(low) and _number(high) and coins:
            n = len(coins)
            if low > high:
                bad("allocation.min_weight", low, f"is above max_weight {high!r}; lower it")
            elif n * low > 1.0 + 1e-12:
                bad("allocation.min_weight", low, f"x {n} coins exceeds 100%; use at most {1 / n:.4f}")
            elif n * high < 1.0 - 1e-12:
                bad("allocation.max_weight", high, f"x {n} coins is below 100%; use at least {1 / n:.4f}")

    if problems:
        raise PresetError(problems)
    return Preset(
        name=str(name),
        title=str(raw["title"]).strip(),
        description=str(raw["description"]).strip(),
        coins=tuple(coins),
        method=method,
        lookback=str(lookback),
        timeframe=str(timeframe),
        min_weight=float(low),
        max_weight=float(high),
        path=path,
    )


def load_preset_file(path: Path) -> Preset:
    """Read and validate one preset file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PresetError([f"{path.name}: not valid JSON ({err}); fix the syntax at that line"]) from err
    return parse_preset(raw, path)


def preset_files(folder: Path = PRESET_DIR) -> list[Path]:
    """The preset files of ``folder`` (every ``*.json`` except the evaluation), sorted."""
    return sorted(p for p in Path(folder).glob("*.json") if p.name != EVALUATION_FILE)


def load_presets(folder: Path = PRESET_DIR) -> dict[str, Preset]:
    """Every preset of ``folder`` by name, in a fixed order (majors first, then by file name)."""
    problems: list[str] = []
    presets: dict[str, Preset] = {}
    for path in preset_files(folder):
        try:
            preset = load_preset_file(path)
        except PresetError as err:
            problems.extend(err.problems)
            continue
        presets[preset.name] = preset
    if problems:
        raise PresetError(problems)
    order = sorted(presets, key=lambda n: (n != "majors", n))
    return {n: presets[n] for n in order}


def get_preset(name: str, folder: Path = PRESET_DIR) -> Preset:
    """The preset called ``name``; the error lists the available ones."""
    presets = load_presets(folder)
    key = str(name).strip().lower()
    if key not in presets:
        raise PresetError([f"preset {name!r} does not exist; use one of {', '.join(presets)}"])
    return presets[key]
