"""Checks of the settings against the exchange's markets: minimum orders, the minimum investment, and
the warning for a band narrower than a coin's minimum order."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from freqtrade_smartfolio.config.settings import (
    MAX_THRESHOLD_PERCENT,
    MIN_INVESTMENT_HEADROOM,
    SECTION,
    ConfigError,
    SmartfolioSettings,
)
from freqtrade_smartfolio.portfolio.lots import min_order_value
from freqtrade_smartfolio.portfolio.targets import Targets

# The package's logger name since it was one module: freqtrade's and the tests' log settings name it.
logger = logging.getLogger("freqtrade_smartfolio.config")


def _field(name: str) -> str:
    return f"{SECTION}.{name}"


def exchange_min_order(min_cost: float | None, min_amount: float | None, price: float) -> float:
    """The smallest order value freqtrade will place on a pair, from the market's limits.

    Mirrors freqtrade's ``Exchange.get_min_pair_stake_amount`` with its default 5% amount reserve and
    the -10% stoploss its backtester assumes for position adjustments (pinned by a test).
    """
    return min_order_value(min_cost, min_amount, price, -0.1)


def market_min_order(market: Mapping[str, Any], price: float, min_trade: float) -> float:
    """The minimum order value on a ccxt ``market`` at ``price``: the user's ``min_trade`` or what the
    exchange and freqtrade accept (:func:`exchange_min_order`), whichever is larger."""
    limits = market.get("limits") or {}
    exchange_min = exchange_min_order(
        (limits.get("cost") or {}).get("min"), (limits.get("amount") or {}).get("min"), price
    )
    return max(min_trade, exchange_min)


def minimum_investment(targets: Targets, min_orders: Mapping[str, float]) -> float:
    """Smallest investment at which every coin's share is worth MIN_INVESTMENT_HEADROOM minimum orders."""
    return max(
        MIN_INVESTMENT_HEADROOM * min_orders[coin] / weight
        for coin, weight in zip(targets.coins, targets.weights, strict=True)
    )


def check_against_exchange(
    settings: SmartfolioSettings,
    markets: Mapping[str, Any],
    prices: Mapping[str, float],
    investment_available: float | None = None,
) -> dict[str, float]:
    """Check coins exist on the exchange and the investment is large enough; return each coin's
    minimum order value (user ``min_trade`` or the exchange's, whichever is larger)."""
    problems: list[str] = []
    min_orders: dict[str, float] = {}
    for coin, pair in zip(settings.targets.coins, settings.pairs, strict=True):
        market = markets.get(pair)
        if market is None or not market.get("active", True):
            problems.append(
                f"{_field('portfolio')}.{coin}: {pair} is not an active market on this exchange; "
                "remove the coin or pick one the exchange lists"
            )
            continue
        min_orders[coin] = market_min_order(market, prices.get(coin) or 0.0, settings.min_trade)
    if not problems:
        needed = minimum_investment(settings.targets, min_orders)
        if settings.investment < needed:
            problems.append(
                f"{_field('investment')}: {settings.investment:g} {settings.stake_currency} is below "
                f"the minimum of {needed:,.2f} {settings.stake_currency} for this portfolio (each "
                f"coin's share must be worth {MIN_INVESTMENT_HEADROOM:g} minimum orders); invest at "
                f"least {math.ceil(needed):,} or give small coins more weight"
            )
        if investment_available is not None and settings.investment > investment_available + 1e-9:
            problems.append(
                f"{_field('investment')}: {settings.investment:g} {settings.stake_currency} is more "
                f"than the {investment_available:,.2f} available; lower it or fund the account"
            )
    if problems:
        raise ConfigError(problems)
    for line in band_below_min_order_warnings(settings, min_orders):
        logger.warning(line)
    return min_orders


def band_widths(settings: SmartfolioSettings) -> dict[str, float]:
    """Each coin's band in stake currency at the configured investment: how far its value may drift
    from target before the band trigger fires (``threshold * investment`` for an absolute band,
    ``threshold * target weight * investment`` for a relative one). Empty without a threshold."""
    threshold = settings.rebalance.threshold_percent
    if threshold is None:
        return {}
    fraction = threshold / 100.0
    return {
        coin: fraction * (weight if settings.rebalance.relative else 1.0) * settings.investment
        for coin, weight in zip(settings.targets.coins, settings.targets.weights, strict=True)
    }


def band_below_min_order_warnings(settings: SmartfolioSettings, min_orders: Mapping[str, float]) -> list[str]:
    """One warning line per coin whose band (:func:`band_widths`) is below its minimum order.

    Such a coin leaves its band on drifts too small to trade: the band trigger fires on almost every
    candle with an empty plan. Each line names the coin, both amounts and the two fixes (the smallest
    threshold, and the smallest investment, at which the band is worth one minimum order).
    """
    stake = settings.stake_currency
    relative = settings.rebalance.relative
    band_name = "relative" if relative else "absolute"
    widths = band_widths(settings)
    lines = []
    for coin, weight in zip(settings.targets.coins, settings.targets.weights, strict=True):
        width = widths.get(coin)
        min_order = min_orders.get(coin)
        if width is None or min_order is None or width >= min_order or weight <= 0:
            continue
        share = weight if relative else 1.0
        threshold_needed = 100.0 * min_order / (share * settings.investment)
        investment_needed = min_order / ((settings.rebalance.threshold_percent or 0.0) / 100.0 * share)
        threshold_fix = math.ceil(threshold_needed * 100) / 100
        fixes = [f"invest at least {math.ceil(investment_needed):,} {stake}"]
        if threshold_fix <= MAX_THRESHOLD_PERCENT:
            fixes.insert(0, f"widen {_field('rebalance.threshold')} to at least {threshold_fix:g}")
        lines.append(
            f"{_field('portfolio')}.{coin}: its {band_name} band of "
            f"{settings.rebalance.threshold_percent:g}% is {width:,.2f} {stake} at an investment of "
            f"{settings.investment:,.2f} {stake}, below its minimum order of {min_order:,.2f} {stake}: "
            f"the band will be crossed by drifts too small to trade, so rebalances on the band often "
            f"plan nothing for it; {' or '.join(fixes)}"
        )
    return lines
