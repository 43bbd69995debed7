"""Funding an investment with coins already held: which amounts to take over, and what that leaves
to the stake currency. Pure: balances and prices in, a frozen plan out.

A portfolio coin is taken over up to its target share of the investment (never sold and bought back:
no fees); a listed coin outside the portfolio is taken over up to what the investment still lacks,
to be sold to the stake currency. Whatever the coins do not cover comes from the stake currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from freqtrade_smartfolio.portfolio.lots import floor_to_step
from freqtrade_smartfolio.portfolio.targets import Targets

#: The tag of a take-over "order": a position opened from coins already held, with no trade and no fee.
HELD_TAG = "held: taken over"


@dataclass(frozen=True)
class TakeOver:
    """``amount`` of ``coin`` taken over at ``price``; ``keep``: a position, else sold at once."""

    coin: str
    amount: float
    price: float
    keep: bool

    @property
    def value(self) -> float:
        return self.amount * self.price


@dataclass(frozen=True)
class FundingPlan:
    takeovers: tuple[TakeOver, ...]
    investment: float
    notes: tuple[str, ...]  # why a listed coin was taken only in part, or not at all

    @property
    def coin_value(self) -> float:
        return sum(t.value for t in self.takeovers)

    @property
    def stake_needed(self) -> float:
        """The part of the investment the stake currency must cover (sales of listed coins count)."""
        return max(self.investment - self.coin_value, 0.0)

    def summary(self) -> str:
        taken = ", ".join(
            f"{t.coin} {t.amount:g} ({t.value:.2f}{'' if t.keep else ', to sell'})" for t in self.takeovers
        )
        return (
            f"held coins taken over: {taken or 'none'}; worth {self.coin_value:.2f} of the "
            f"{self.investment:.2f} investment, {self.stake_needed:.2f} from the stake currency"
        )


def plan_funding(
    held: Mapping[str, float],
    prices: Mapping[str, float],
    targets: Targets,
    investment: float,
    listed: Sequence[str],
    steps: Mapping[str, float] | None = None,
    min_values: Mapping[str, float] | None = None,
) -> FundingPlan:
    """Take over the ``listed`` coins of ``held`` (amounts on the account) at ``prices``.

    ``steps`` are lot sizes; ``min_values`` the smallest order worth placing per coin: a coin to sell
    that is worth less is left alone, as is a portfolio coin worth less (the bot buys it instead).
    """
    steps = steps or {}
    min_values = min_values or {}
    takeovers: list[TakeOver] = []
    notes: list[str] = []
    weights = dict(zip(targets.coins, targets.weights, strict=True))
    in_portfolio = [c for c in listed if c in weights]
    outside = [c for c in listed if c not in weights]
    for coin in in_portfolio + outside:
        amount_held = float(held.get(coin, 0.0))
        price = float(prices.get(coin, 0.0) or 0.0)
        if amount_held <= 0:
            notes.append(f"{coin}: none held")
            continue
        if price <= 0:
            notes.append(f"{coin}: no price, not taken over")
            continue
        # a portfolio coin up to its target value; a coin to sell up to what is still missing
        taken = sum(t.value for t in takeovers)
        cap = weights[coin] * investment if coin in weights else investment - taken
        amount = floor_to_step(min(amount_held, cap / price), steps.get(coin, 0.0))
        if amount * price < min_values.get(coin, 0.0) or amount <= 0:
            notes.append(
                f"{coin}: {amount_held:g} held, {amount * price:.2f} usable is below the minimum order "
                f"{min_values.get(coin, 0.0):.2f}: not taken over"
            )
            continue
        if amount < amount_held:
            notes.append(f"{coin}: {amount:g} of {amount_held:g} taken over (its share of the investment)")
        takeovers.append(TakeOver(coin, amount, price, keep=coin in weights))
    return FundingPlan(tuple(takeovers), float(investment), tuple(notes))
