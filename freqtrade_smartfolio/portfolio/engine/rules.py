"""What freqtrade does to an order: price precision, lots on the grid, its minimum stake, and bt's
quantity search (clean mode); the prices the kernel plans and fills at; the strategy's default rules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np

from freqtrade_smartfolio.portfolio.engine import compiled
from freqtrade_smartfolio.portfolio.engine.market import Market
from freqtrade_smartfolio.portfolio.lots import decimals_of, min_order_value, round_to_tick
from freqtrade_smartfolio.portfolio.plan import CoinRules

Mode = Literal["freqtrade", "clean"]
SELL_NUDGE = 1e-9  # SmartPortfolio nudges a sale's stake up so float error cannot drop one lot
BT_TOL = 1e-16  # bt.core.TOL


@dataclass(frozen=True)
class ExchangeRules:
    """What the exchange's market says about one coin: tick size, and the limits freqtrade checks."""

    tick: float = 0.0
    min_cost: float = 0.0
    min_amount: float = 0.0


# ------------------------------------------------------------------------------------------ helpers


def price_to_precision(price: float, tick: float) -> float:
    """freqtrade's ``price_to_precision`` (ROUND, TICK_SIZE): half-up on the decimal repr."""
    if not tick or tick <= 0 or math.isnan(tick):
        return price
    decimals = decimals_of(tick)
    if round(price, decimals) == price:
        return price
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(str(price)).quantize(quantum, rounding="ROUND_HALF_UP"))


def on_grid(amount: float, step: float, decimals: int | None = None) -> float:
    """A sum of lot-sized amounts back on the lot grid (freqtrade adds order amounts as decimals)."""
    if not step or step <= 0:
        return amount
    return round(round(amount / step) * step, decimals_of(step) if decimals is None else decimals)


def min_stake(rules: ExchangeRules, price: float, stoploss: float) -> float:
    """freqtrade's ``Exchange.get_min_pair_stake_amount`` (5% amount reserve) for a market."""
    return min_order_value(rules.min_cost, rules.min_amount, price, stoploss)


def bt_quantity(amount: float, price: float, fee: float) -> float:
    """bt's ``Security.allocate`` quantity for ``amount`` of cash (commission ``|q| * p * fee``,
    ``integer_positions=False``): its Newton search, stopped as bt stops it."""
    q = amount / price
    if q == 0:
        return 0.0
    full = q * price + abs(q) * price * fee
    while abs(full - amount) > 1e-8 + BT_TOL * abs(amount) and q != 0:
        q = q - (full - amount) / price
        full = q * price + abs(q) * price * fee
    return q


def prepare_prices(market: Market, exchange: Sequence[ExchangeRules], mode: Mode) -> dict[str, np.ndarray]:
    """Plan and fill prices: on the tick grid in freqtrade mode (high and low too, when the market has
    them: SmartPortfolio rounds the backtest candles so), the raw close in clean mode.

    The arrays of freqtrade mode are rounded once per market and exchange ticks and kept on the Market
    (:meth:`Market.kept`): every run on it shares them, never write into them."""
    if mode == "clean":
        return {"open": market.close, "close": market.close}
    return dict(
        market.kept(("prices on the tick grid", tick_key(exchange)), lambda: _tick_prices(market, exchange))
    )


def tick_key(exchange: Sequence[ExchangeRules]) -> tuple[float | None, ...]:
    """The exchange's ticks as a key of :meth:`Market.kept` (NaN as None: NaN equals nothing)."""
    return tuple(None if isinstance(r.tick, float) and math.isnan(r.tick) else r.tick for r in exchange)


def _tick_prices(market: Market, exchange: Sequence[ExchangeRules]) -> dict[str, np.ndarray]:
    """:func:`prepare_prices` in freqtrade mode, computed."""
    out: dict[str, np.ndarray] = {}
    ticks = [rules.tick for rules in exchange]
    on = [i for i, tick in enumerate(ticks) if tick and tick > 0]
    decimals = [decimals_of(ticks[i]) for i in on]
    whole = len(on) == len(ticks) and max(decimals, default=0) <= 22
    tick_row = np.array([ticks[i] for i in on], dtype=float)
    # np.round(x, d) is x * 10.0**d, rint, / 10.0**d (numpy's PyArray_Round; 10**d exact for d <= 22)
    scale = np.array([10.0**d for d in decimals], dtype=float)
    for name in ("open", "close", "high", "low"):
        source = getattr(market, name)
        if source is None:
            continue
        if whole:  # round_to_tick on every column at once: the same operations, element by element
            rounded = compiled.round_to_ticks(np.ascontiguousarray(source, dtype=np.float64), tick_row, scale)
        else:
            rounded = np.empty_like(source)
            for i, rules in enumerate(exchange):
                rounded[:, i] = round_to_tick(source[:, i], rules.tick)
        out[name] = np.ascontiguousarray(rounded)
    return out


def default_rules(market: Market, exchange: Sequence[ExchangeRules]) -> tuple[CoinRules, ...]:
    """The strategy's CoinRules when none are given: its default minimum order (``min_trade``, 5 in
    the stake currency) or what the exchange's limits demand at the last close, whichever is larger
    (config.market_min_order); no lot step (ExchangeRules does not carry one)."""
    from freqtrade_smartfolio.config import DEFAULT_MIN_TRADE, exchange_min_order

    last = market.close[-1].tolist()
    return tuple(
        CoinRules(
            min_order=max(float(DEFAULT_MIN_TRADE), exchange_min_order(ex.min_cost, ex.min_amount, last[i])),
            step=0.0,
        )
        for i, ex in enumerate(exchange)
    )
