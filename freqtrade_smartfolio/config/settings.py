"""The validated ``smartfolio`` section as frozen settings, its limits, and :class:`ConfigError`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from freqtrade_smartfolio.portfolio.exits import PortfolioExitRule
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets

SECTION = "smartfolio"
MODES = ("proportional", "scheduled", "both")
BANDS = ("absolute", "relative")
ON_EXIT = ("sell_all", "keep_coins")
DEFAULT_MIN_TRADE = 5.0
MAX_THRESHOLD_PERCENT = 50.0
# A position must be worth this many minimum orders, so a rebalance can sell part of it and leave
# a sellable remainder.
MIN_INVESTMENT_HEADROOM = 2.0
# Dry-run/live: a coin's open trade holding more orders than this is closed and reopened for the same
# amount, without trading (adapter/compaction.py): freqtrade's work per loop grows with the orders
# its open trades hold. Smallest accepted: below it a trade would be compacted every few rebalances.
DEFAULT_COMPACT_AFTER_ORDERS = 100
MIN_COMPACT_AFTER_ORDERS = 2
DEFAULT_LOOKBACK = "90d"
COIN_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}$")


class ConfigError(ValueError):
    """A ``smartfolio`` config problem; ``problems`` holds one message per bad field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "Invalid smartfolio config:\n  - " + "\n  - ".join(problems)
            if len(problems) > 1
            else f"Invalid smartfolio config: {problems[0]}"
        )


@dataclass(frozen=True)
class RebalanceSettings:
    mode: str
    threshold_percent: float | None
    relative: bool
    interval: str | None
    interval_minutes: int | None

    @property
    def rule(self) -> RebalanceRule:
        return RebalanceRule(
            threshold=None if self.threshold_percent is None else self.threshold_percent / 100.0,
            relative=self.relative,
            interval_minutes=self.interval_minutes,
        )


@dataclass(frozen=True)
class AllocationSettings:
    """Weights computed from price history (Smart Allocation) instead of fixed percentages."""

    method: str
    lookback_minutes: int
    refresh_minutes: int | None
    min_weight: float | None  # fractions
    max_weight: float | None

    @property
    def bounds(self) -> tuple[float, float] | None:
        if self.min_weight is None and self.max_weight is None:
            return None
        return (self.min_weight or 0.0, self.max_weight if self.max_weight is not None else 1.0)


@dataclass(frozen=True)
class SmartfolioSettings:
    """The validated ``smartfolio`` section plus the freqtrade keys it depends on."""

    stake_currency: str
    targets: Targets
    investment: float
    rebalance: RebalanceSettings
    min_trade: float
    exit_rule: PortfolioExitRule = field(default_factory=PortfolioExitRule)
    allocation: AllocationSettings | None = None
    # Coins already on the account that fund the investment (None: off; see docs/live.md).
    held_coins: tuple[str, ...] | None = None
    # Compact a coin's open trade once it holds more orders than this (None: never; dry-run/live only).
    compact_after_orders: int | None = DEFAULT_COMPACT_AFTER_ORDERS

    @property
    def pairs(self) -> tuple[str, ...]:
        return tuple(f"{coin}/{self.stake_currency}" for coin in self.targets.coins)
