"""Portfolio-level take-profit and stop-loss: a decision from the portfolio's value and the capital
invested (additions included)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExitKind(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


@dataclass(frozen=True)
class PortfolioExitRule:
    """Exit when the profit reaches ``take_profit`` or the loss ``stop_loss`` (fractions, e.g. 0.5 for
    +50% and 0.2 for -20%); ``sell_all`` chooses between selling to the stake currency and keeping the
    coins."""

    take_profit: float | None = None
    stop_loss: float | None = None
    sell_all: bool = True

    @property
    def active(self) -> bool:
        return self.take_profit is not None or self.stop_loss is not None


@dataclass(frozen=True)
class PortfolioExit:
    """Which exit fired and why, e.g. ``take_profit: portfolio +52.31% >= +50.00%``."""

    kind: ExitKind
    profit: float
    reason: str


def check_exit(value: float, invested: float, rule: PortfolioExitRule) -> PortfolioExit | None:
    """The take-profit or stop-loss that ``value`` reaches against ``invested``, or None."""
    if invested <= 0 or not rule.active:
        return None
    profit = value / invested - 1.0
    if rule.take_profit is not None and profit >= rule.take_profit:
        return PortfolioExit(
            ExitKind.TAKE_PROFIT, profit, f"take_profit: portfolio {profit:+.2%} >= {rule.take_profit:+.2%}"
        )
    if rule.stop_loss is not None and profit <= -rule.stop_loss:
        return PortfolioExit(
            ExitKind.STOP_LOSS, profit, f"stop_loss: portfolio {profit:+.2%} <= {-rule.stop_loss:+.2%}"
        )
    return None
