"""Drift -> rebalance plan, as a chain of small steps (trigger -> target values -> limits -> orders).

Everything here is pure arithmetic on a :class:`PortfolioState`; the freqtrade strategy and the fast
engine both call it, which is what makes their results equal.

Money conventions (the same as freqtrade's spot backtester):
- a buy of stake ``S`` at price ``p`` gets ``S / p`` coins and costs ``S * (1 + fee)`` in cash;
- a sale of ``q`` coins at ``p`` brings ``q * p * (1 - fee)`` in cash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from freqtrade_smartfolio.portfolio.durations import format_minutes
from freqtrade_smartfolio.portfolio.lots import floor_to_step
from freqtrade_smartfolio.portfolio.targets import Targets, current_weights

FEE_ITERATIONS = 4


class TriggerKind(StrEnum):
    INITIAL = "initial"
    THRESHOLD = "threshold"
    SCHEDULE = "schedule"
    COMPLETION = "completion"
    ALLOCATION = "allocation"
    LISTING = "listing"
    DELISTING = "delisting"
    MANUAL = "manual"


@dataclass(frozen=True)
class Trigger:
    """Why a rebalance runs: its kind and a human reason such as ``BTC 57.2% > 55.0%``."""

    kind: TriggerKind
    reason: str

    @property
    def label(self) -> str:
        return f"{self.kind.value}: {self.reason}" if self.reason else self.kind.value


@dataclass(frozen=True)
class RebalanceRule:
    """When to rebalance: out of band (``threshold``, a fraction), on a schedule, or both."""

    threshold: float | None = None
    relative: bool = False
    interval_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.threshold is None and self.interval_minutes is None:
            raise ValueError("a rebalance rule needs a threshold, an interval or both")


@dataclass(frozen=True)
class CoinRules:
    """Order limits for one coin: the smallest order value in stake currency and the lot size."""

    min_order: float = 0.0
    step: float = 0.0


@dataclass(frozen=True, eq=False)
class PortfolioState:
    """Holdings at one moment: ``amounts[i]`` of ``coins[i]`` priced ``prices[i]``, plus ``cash``."""

    coins: tuple[str, ...]
    amounts: np.ndarray
    prices: np.ndarray
    cash: float

    @property
    def values(self) -> np.ndarray:
        return self.amounts * self.prices

    @property
    def total(self) -> float:
        return float(self.values.sum()) + self.cash

    def weights(self) -> tuple[np.ndarray, float]:
        return current_weights(self.amounts, self.prices, self.cash)


@dataclass(frozen=True)
class PlannedOrder:
    """One order: ``amount`` coins (a buy's amount is ``value / price`` before the exchange's lot
    rounding), ``value`` in stake currency at ``price``, and the tag it carries."""

    coin: str
    side: str  # "sell" or "buy"
    amount: float
    value: float
    price: float
    tag: str


@dataclass(frozen=True)
class SkippedOrder:
    """An order the plan wanted but did not place, and why."""

    coin: str
    side: str
    value: float
    why: str


@dataclass(frozen=True)
class RebalancePlan:
    """Sells first, then buys; plus what was skipped and the weights expected afterwards."""

    trigger: Trigger
    orders: tuple[PlannedOrder, ...]
    skipped: tuple[SkippedOrder, ...]
    total_before: float
    weights_before: tuple[float, ...]
    weights_after: tuple[float, ...]
    cash_after: float
    fee_estimate: float
    coins: tuple[str, ...] = field(default=())

    @property
    def sells(self) -> tuple[PlannedOrder, ...]:
        return tuple(o for o in self.orders if o.side == "sell")

    @property
    def buys(self) -> tuple[PlannedOrder, ...]:
        return tuple(o for o in self.orders if o.side == "buy")

    def summary(self) -> str:
        """One line per order and per skip, for logs and notifications."""
        lines = [f"Rebalance ({self.trigger.label}), portfolio {self.total_before:,.2f}:"]
        lines += [
            f"  {o.side} {o.amount:.8g} {o.coin} (~{o.value:,.2f}) at {o.price:.8g}" for o in self.orders
        ]
        lines += [f"  skipped {s.side} {s.coin} ~{s.value:,.2f}: {s.why}" for s in self.skipped]
        return "\n".join(lines)


# ---------------------------------------------------------------- step 1: trigger


def check_trigger(
    state: PortfolioState,
    targets: Targets,
    rule: RebalanceRule,
    minutes_since_last: float | None,
) -> Trigger | None:
    """The reason to rebalance now, or None.

    ``minutes_since_last`` is None before the first rebalance. An empty portfolio with cash always
    triggers the initial allocation. A schedule that is due fires even when a weight is also out of
    band (the rebalance is the same; the schedule's clock must move on), so a band too narrow to trade
    cannot hide the schedule.
    """
    if float(state.values.sum()) <= 0.0:
        return Trigger(TriggerKind.INITIAL, "buy every coin at its target weight") if state.cash > 0 else None
    if rule.interval_minutes is not None and (
        minutes_since_last is None or minutes_since_last >= rule.interval_minutes
    ):
        return Trigger(TriggerKind.SCHEDULE, f"every {format_minutes(rule.interval_minutes)}")
    if rule.threshold is not None:
        reason = out_of_band_reason(state, targets, rule.threshold, rule.relative)
        if reason:
            return Trigger(TriggerKind.THRESHOLD, reason)
    return None


COMPLETION_REASON = "buys waiting for cash from sales"


def completion_trigger(state: PortfolioState, targets: Targets, rule: RebalanceRule) -> Trigger:
    """The trigger at the candle after a rebalance whose buys waited for cash from its sales.

    A completion only buys with the cash the sales freed. When the price moved meanwhile so far that
    a coin is over its band again, only a sale can bring it back: the candle then runs a full band
    rebalance (with out_of_band_reason's words), whose buys also spend the waiting cash.
    """
    threshold, relative = rule.threshold, rule.relative
    if threshold is not None and coin_over_band(state, targets, threshold, relative):
        return Trigger(TriggerKind.THRESHOLD, out_of_band_reason(state, targets, threshold, relative))
    return Trigger(TriggerKind.COMPLETION, COMPLETION_REASON)


def coin_over_band(state: PortfolioState, targets: Targets, threshold: float, relative: bool) -> bool:
    """Whether a coin (not the cash) weighs more than its band allows, in out_of_band_reason's
    arithmetic (values summed left to right, then the cash; excess over 1e-12)."""
    values = (state.amounts * state.prices).tolist()
    total = sum(values) + state.cash
    if total <= 0:
        return False
    for value, goal in zip(values, targets.weights, strict=True):
        width = goal * threshold if relative and goal > 0 else threshold
        if abs(value / total - goal) - width > 1e-12 and value / total > goal:
            return True
    return False


def out_of_band_reason(state: PortfolioState, targets: Targets, threshold: float, relative: bool) -> str:
    """'' when every weight (cash included) is in its band, else the worst, e.g. 'BTC 57.21% > 55.00%'.

    Runs on every candle: plain float arithmetic, which beats numpy for the few coins of a portfolio.
    """
    values = (state.amounts * state.prices).tolist()
    total = sum(values) + state.cash
    if total <= 0:
        return ""
    names = (*state.coins, "cash")
    weights = [v / total for v in values] + [state.cash / total]
    goals = [*targets.weights, targets.cash]
    worst, worst_excess, worst_limit = -1, 1e-12, 0.0
    for i, (weight, goal) in enumerate(zip(weights, goals, strict=True)):
        # A relative band scales with the target; a zero target (cash) keeps the absolute width, or any
        # leftover cash would trigger a rebalance on every candle.
        width = goal * threshold if relative and goal > 0 else threshold
        excess = abs(weight - goal) - width
        if excess > worst_excess:
            worst, worst_excess = i, excess
            worst_limit = goal + width if weight > goal else goal - width
    if worst < 0:
        return ""
    sign = ">" if weights[worst] > worst_limit else "<"
    return f"{names[worst]} {weights[worst]:.2%} {sign} {worst_limit:.2%}"


# ---------------------------------------------------------------- step 2: weigh


def target_deltas(
    state: PortfolioState, targets: Targets, fee: float, tradable: np.ndarray | None = None
) -> np.ndarray:
    """Value each coin must gain (+) or lose (-) so that, after paying ``fee`` on what is traded,
    every coin and the cash sit exactly at target. Coins that do not trade (``tradable`` False) get 0."""
    values = state.values
    goal = targets.array
    total_after = state.total
    deltas = goal * total_after - values
    still = None if tradable is None or tradable.all() else ~np.asarray(tradable, dtype=bool)
    if still is not None:
        deltas[still] = 0.0
    for _ in range(FEE_ITERATIONS):
        total_after = state.total - fee * float(np.abs(deltas).sum())
        deltas = goal * total_after - values
        if still is not None:
            deltas[still] = 0.0
    return deltas


# ---------------------------------------------------------------- step 3: limit + step 4: orders


def plan_rebalance(
    state: PortfolioState,
    targets: Targets,
    rules: Sequence[CoinRules],
    fee: float,
    trigger: Trigger,
    tradable: np.ndarray | None = None,
) -> RebalancePlan:
    """Orders that bring ``state`` back to ``targets``: sells first, no order under a coin's
    ``min_order``, no sale leaving an unsellable remainder, buys never spending more than the cash
    plus the sales' proceeds. Coins whose ``tradable`` entry is False are neither sold nor bought
    (steer by :func:`targets.tradable_targets` then)."""
    if state.coins != targets.coins:
        raise ValueError(f"state coins {state.coins} differ from target coins {targets.coins}")
    deltas = target_deltas(state, targets, fee, tradable)
    if all(abs(d) < r.min_order for d, r in zip(deltas.tolist(), rules, strict=True)):
        return _nothing_to_trade(state, deltas, rules, trigger)  # a band narrower than the minimum
    sells: list[PlannedOrder] = []
    buys: list[PlannedOrder] = []
    skipped: list[SkippedOrder] = []
    tag_base = trigger.label

    # A completion only spends the cash earlier sales freed: selling again would start a new round
    # whose buys could wait once more, a chain of small rebalances.
    buys_only = trigger.kind is TriggerKind.COMPLETION
    for i, coin in enumerate(state.coins):
        delta, price, rule = float(deltas[i]), float(state.prices[i]), rules[i]
        if buys_only or delta >= 0 or state.amounts[i] <= 0:
            continue
        held = float(state.amounts[i])
        amount = held if targets.weights[i] == 0 else min(held, floor_to_step(-delta / price, rule.step))
        remainder = (held - amount) * price
        if 0 < remainder < rule.min_order:
            amount = floor_to_step(held - rule.min_order / price, rule.step)
            if amount <= 0:
                skipped.append(SkippedOrder(coin, "sell", -delta, "would leave an unsellable remainder"))
                continue
        value = amount * price
        if value < rule.min_order or amount <= 0:
            skipped.append(
                SkippedOrder(coin, "sell", -delta, f"below the minimum order of {rule.min_order:.2f}")
            )
            continue
        sells.append(PlannedOrder(coin, "sell", amount, value, price, f"{tag_base} | sell {coin}"))

    proceeds = sum(o.value for o in sells) * (1 - fee)
    cash_reserve = targets.cash * max(state.total - fee * float(np.abs(deltas).sum()), 0.0)
    spendable = max(state.cash + proceeds - cash_reserve, 0.0)
    wanted = {i: float(deltas[i]) for i in range(len(state.coins)) if deltas[i] > 0}
    scale, funded = fund_buys(list(wanted.items()), [r.min_order for r in rules], spendable, fee)
    spendable_total = state.cash + proceeds
    for i, want in wanted.items():
        coin, price, rule = state.coins[i], float(state.prices[i]), rules[i]
        stake = want * scale if funded is None or i in funded else 0.0
        if stake < rule.min_order:
            why = f"below the minimum order of {rule.min_order:.2f}"
            if want >= rule.min_order:
                why = f"not enough cash ({want:.2f} wanted, {stake:.2f} affordable)"
            skipped.append(SkippedOrder(coin, "buy", want, why))
            continue
        stake = min(stake, spendable_total / (1 + fee))
        spendable_total -= stake * (1 + fee)
        buys.append(PlannedOrder(coin, "buy", stake / price, stake, price, f"{tag_base} | buy {coin}"))

    after = apply_orders(state, (*sells, *buys), fee)
    coin_w, _ = after.weights()
    traded = sum(o.value for o in (*sells, *buys))
    return RebalancePlan(
        trigger=trigger,
        orders=(*sells, *buys),
        skipped=tuple(skipped),
        total_before=state.total,
        weights_before=tuple(float(w) for w in state.weights()[0]),
        weights_after=tuple(float(w) for w in coin_w),
        cash_after=after.cash,
        fee_estimate=traded * fee,
        coins=state.coins,
    )


def fund_buys(
    wanted: Sequence[tuple[int, float]], min_orders: Sequence[float], spendable: float, fee: float
) -> tuple[float, set[int] | None]:
    """How much of each wanted buy (coin index, value) the cash pays: every buy gets the same share
    ``scale`` of its want (pro rata). When that share leaves a buy that is itself a minimum order under
    the minimum, the cash goes to the largest wants instead: the most buys, largest first, whose
    share still meets the minimum (``funded``); the others wait. ``funded`` is None when pro rata
    serves every buy that could be served."""
    cost = sum(w for _, w in wanted) * (1 + fee)
    scale = min(1.0, spendable / cost) if cost > 0 else 1.0
    if scale >= 1.0 or all(w * scale >= min_orders[i] or w < min_orders[i] for i, w in wanted):
        return scale, None
    ranked = sorted(((w, i) for i, w in wanted if w >= min_orders[i]), reverse=True)
    for k in range(len(ranked), 0, -1):
        chosen = ranked[:k]
        share = min(1.0, spendable / (sum(w for w, _ in chosen) * (1 + fee)))
        if all(w * share >= min_orders[i] for w, i in chosen):
            return share, {i for _, i in chosen}
    return scale, set()


def _nothing_to_trade(
    state: PortfolioState, deltas: np.ndarray, rules: Sequence[CoinRules], trigger: Trigger
) -> RebalancePlan:
    """The plan when every coin's gap is under its minimum order: no order (a sale trades at most its
    gap, a buy at most its want), each gap skipped; costs a fraction of the full plan."""
    weights = tuple(float(w) for w in state.weights()[0])
    skipped = tuple(
        SkippedOrder(
            coin, "buy" if d > 0 else "sell", abs(d), f"below the minimum order of {r.min_order:.2f}"
        )
        for coin, d, r in zip(state.coins, deltas.tolist(), rules, strict=True)
        if d != 0
    )
    return RebalancePlan(trigger, (), skipped, state.total, weights, weights, state.cash, 0.0, state.coins)


def apply_orders(state: PortfolioState, orders: Sequence[PlannedOrder], fee: float) -> PortfolioState:
    """The state after filling ``orders`` at their planned prices (sells and buys as given)."""
    amounts = state.amounts.astype(float).copy()
    cash = state.cash
    index = {c: i for i, c in enumerate(state.coins)}
    for order in orders:
        i = index[order.coin]
        if order.side == "sell":
            amounts[i] -= order.amount
            cash += order.amount * order.price * (1 - fee)
        else:
            amounts[i] += order.value / order.price
            cash -= order.value * (1 + fee)
    return PortfolioState(state.coins, amounts, state.prices, cash)
