"""One run's settings: what the kernel, :func:`simulate` and :func:`sweep` pass around instead of the
same ten arguments."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from freqtrade_smartfolio.portfolio.engine.market import Market
from freqtrade_smartfolio.portfolio.engine.rules import ExchangeRules, Mode, default_rules
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets


@dataclass(frozen=True)
class Settings:
    """Targets, trigger rule, each coin's CoinRules and ExchangeRules, fee, investment and mode of one
    run, checked against a market by :meth:`resolve`."""

    targets: Targets
    rule: RebalanceRule
    rules: tuple[CoinRules, ...]
    exchange: tuple[ExchangeRules, ...]
    fee: float = 0.001
    investment: float = 1000.0
    mode: Mode = "freqtrade"
    bt_quantities: bool = False

    @classmethod
    def resolve(
        cls,
        market: Market,
        targets: Targets,
        rule: RebalanceRule,
        rules: Sequence[CoinRules] | None = None,
        fee: float = 0.001,
        investment: float = 1000.0,
        exchange: Sequence[ExchangeRules] | None = None,
        mode: Mode = "freqtrade",
        bt_quantities: bool = False,
    ) -> Settings:
        """The settings for ``market``, defaults filled in (:func:`rules.default_rules`), or a
        ValueError naming what does not fit."""
        if targets.coins != market.coins:
            raise ValueError(f"market coins {market.coins} differ from target coins {targets.coins}")
        n = len(market.coins)
        exchange = tuple(exchange) if exchange is not None else (ExchangeRules(),) * n
        rules = tuple(rules) if rules is not None else default_rules(market, exchange)
        if len(rules) != n or len(exchange) != n:
            raise ValueError(f"need one CoinRules and one ExchangeRules per coin ({n})")
        if mode not in ("freqtrade", "clean"):
            raise ValueError(f"mode must be 'freqtrade' or 'clean', got {mode!r}")
        if mode == "clean" and market.valid is not None:
            lacking = np.flatnonzero(~np.asarray(market.valid, dtype=bool).all(axis=0)).tolist()
            missing = [market.coins[k] for k in lacking]
            raise ValueError(
                f"clean mode needs a candle of every coin on every bar; {', '.join(missing)} lack some "
                "(listed later or ended inside the window): pick a window where every coin trades, or "
                "use mode='freqtrade'"
            )
        if any(r.min_order < 0 or r.step < 0 for r in rules):
            raise ValueError("CoinRules: min_order and step must not be negative")
        return cls(targets, rule, rules, exchange, float(fee), float(investment), mode, bt_quantities)

    def with_rule(self, rule: RebalanceRule) -> Settings:
        return dataclasses.replace(self, rule=rule)
