"""Checks the engine tests share (test_engine.py, test_engine_edges.py): harness code, no user feature."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from freqtrade_smartfolio.portfolio import engine as E
from freqtrade_smartfolio.portfolio.plan import (
    CoinRules,
    PortfolioState,
    Trigger,
    TriggerKind,
    plan_rebalance,
)
from freqtrade_smartfolio.portfolio.targets import Targets


def assert_fast_plan_is_plan_rebalance(
    state: PortfolioState,
    targets: Targets,
    rules: Sequence[CoinRules],
    fee: float,
    kind: TriggerKind,
    tradable: np.ndarray | None = None,
) -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """The engine's ``fast_plan`` gives plan.plan_rebalance's orders (coin, amount, value) to the bit for a
    rebalance of ``kind`` (a completion buys only); returns its (sells, buys)."""
    plan = plan_rebalance(state, targets, rules, fee, Trigger(kind, ""), tradable)
    sells, buys = E.fast_plan(
        state.amounts,
        state.prices,
        state.cash,
        targets.array,
        targets.cash,
        [r.min_order for r in rules],
        [r.step for r in rules],
        fee,
        buys_only=kind is TriggerKind.COMPLETION,
        tradable=tradable,
    )
    index = {c: i for i, c in enumerate(state.coins)}
    assert [(index[o.coin], o.amount, o.value) for o in plan.sells] == sells
    assert [(index[o.coin], o.amount, o.value) for o in plan.buys] == buys
    return sells, buys
