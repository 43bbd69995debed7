"""Target weights, including a cash (stake-currency) weight, and drift from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

WEIGHT_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Targets:
    """Target weights as fractions: ``weights[i]`` for ``coins[i]``, plus ``cash`` for the stake currency.

    Coins' weights and cash sum to 1.
    """

    coins: tuple[str, ...]
    weights: tuple[float, ...]
    cash: float = 0.0

    def __post_init__(self) -> None:
        if len(self.coins) != len(self.weights):
            raise ValueError(f"coins and weights differ in length: {len(self.coins)} != {len(self.weights)}")
        total = sum(self.weights) + self.cash
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"target weights must sum to 1 (100%), got {total:.6f}")

    @classmethod
    def from_percent(cls, percents: Mapping[str, float], stake_currency: str) -> Targets:
        """Build from {'BTC': 50, 'ETH': 40, 'USDT': 10}; the stake currency entry is the cash weight."""
        coins = tuple(c for c in percents if c != stake_currency)
        return cls(
            coins=coins,
            weights=tuple(float(percents[c]) / 100.0 for c in coins),
            cash=float(percents.get(stake_currency, 0.0)) / 100.0,
        )

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=float)

    def percent(self, coin: str) -> float:
        return 100.0 * self.weights[self.coins.index(coin)]


def current_weights(amounts: np.ndarray, prices: np.ndarray, cash: float) -> tuple[np.ndarray, float]:
    """Each coin's weight and the cash weight of a portfolio (zeros when it is worth nothing)."""
    values = amounts * prices
    total = float(values.sum()) + cash
    if total <= 0:
        return np.zeros_like(values), 0.0
    return values / total, cash / total


def tradable_targets(targets: Targets, tradable: np.ndarray, values: np.ndarray, total: float) -> Targets:
    """The targets to steer by while some coins do not trade (no candle yet, halted, delisted).

    A coin that does not trade keeps what it holds: its target is its current weight, so it is never
    out of band and never traded. One it does not hold gets 0. Its target weight goes to the coins
    that trade, pro rata; the cash weight is kept. With every coin trading, ``targets`` itself.
    """
    tradable = np.asarray(tradable, dtype=bool)
    if tradable.all():
        return targets
    total = float(total)
    frozen = np.where(tradable, 0.0, values / total) if total > 0 else np.zeros(len(targets.coins))
    rest = max(1.0 - float(frozen.sum()), 0.0)  # float noise when every coin held is frozen
    goal = targets.array
    trading = float(goal[tradable].sum())
    if trading <= 0:
        return Targets(targets.coins, tuple(float(w) for w in frozen), rest)
    scale = (1.0 - targets.cash) * rest / trading
    weights = np.where(tradable, goal * scale, frozen)
    return Targets(targets.coins, tuple(float(w) for w in weights), targets.cash * rest)
