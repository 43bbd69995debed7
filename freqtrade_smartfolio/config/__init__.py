"""The ``smartfolio`` section of a freqtrade config: parsed and validated once, into frozen settings.

Every problem is reported with the field, the value received and the fix; all problems are
collected and raised together as one :class:`ConfigError`. The section is a pydantic model
(:mod:`.models`), its texts are in :mod:`.messages`, the checks against the exchange's markets in
:mod:`.exchange`; :func:`json_schema` is the section's JSON Schema for editors (``smartfolio schema``).

Example::

    "smartfolio": {
        "portfolio": {"BTC": 40, "ETH": 30, "SOL": 10, "XRP": 10, "BNB": 10},
        "investment": 1000,
        "rebalance": {"mode": "proportional", "threshold": 5},
        "min_trade": 5
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freqtrade_smartfolio.config import messages
from freqtrade_smartfolio.config.exchange import (
    band_below_min_order_warnings,
    band_widths,
    check_against_exchange,
    exchange_min_order,
    market_min_order,
    minimum_investment,
)
from freqtrade_smartfolio.config.messages import HELD_COINS_RISK
from freqtrade_smartfolio.config.models import (
    KNOWN_KEYS,
    AllocationSection,
    RebalanceSection,
    SmartfolioSection,
    context_of,
    validate_section,
)
from freqtrade_smartfolio.config.schema import json_schema
from freqtrade_smartfolio.config.settings import (
    BANDS,
    COIN_SYMBOL,
    DEFAULT_COMPACT_AFTER_ORDERS,
    DEFAULT_MIN_TRADE,
    MAX_THRESHOLD_PERCENT,
    MIN_COMPACT_AFTER_ORDERS,
    MIN_INVESTMENT_HEADROOM,
    MODES,
    ON_EXIT,
    SECTION,
    AllocationSettings,
    ConfigError,
    RebalanceSettings,
    SmartfolioSettings,
)
from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.exits import PortfolioExitRule
from freqtrade_smartfolio.portfolio.targets import Targets

__all__ = [
    "BANDS",
    "COIN_SYMBOL",
    "DEFAULT_COMPACT_AFTER_ORDERS",
    "DEFAULT_MIN_TRADE",
    "HELD_COINS_RISK",
    "KNOWN_KEYS",
    "MAX_THRESHOLD_PERCENT",
    "MIN_COMPACT_AFTER_ORDERS",
    "MIN_INVESTMENT_HEADROOM",
    "MODES",
    "ON_EXIT",
    "SECTION",
    "AllocationSection",
    "AllocationSettings",
    "ConfigError",
    "RebalanceSection",
    "RebalanceSettings",
    "SmartfolioSection",
    "SmartfolioSettings",
    "band_below_min_order_warnings",
    "band_widths",
    "check_against_exchange",
    "exchange_min_order",
    "json_schema",
    "market_min_order",
    "minimum_investment",
    "parse_settings",
    "settings_of",
]


def parse_settings(config: Mapping[str, Any]) -> SmartfolioSettings:
    """Validate ``config[SECTION]`` (and the whitelist) and return frozen settings, or raise ConfigError."""
    section = config.get(SECTION)
    if not isinstance(section, Mapping):
        raise ConfigError([f"{SECTION}: {messages.not_a_section(section)}"])
    context = context_of(config)
    model = validate_section(section, context)
    if isinstance(model, list):
        raise ConfigError(model)
    return settings_of(model, context["stake"])


def settings_of(model: SmartfolioSection, stake: str) -> SmartfolioSettings:
    """The frozen settings the strategy and the tools use, from a validated section."""
    percents = model.portfolio
    assert isinstance(percents, dict)  # a list of coins became equal weights during validation
    # Normalise tiny float error so the weights sum to exactly 1.
    scale = 100.0 / sum(percents.values())
    targets = Targets.from_percent({c: w * scale for c, w in percents.items()}, stake)
    rebalance = model.rebalance
    allocation = model.allocation
    held = model.use_held_coins
    return SmartfolioSettings(
        stake_currency=stake,
        targets=targets,
        investment=model.investment,
        rebalance=RebalanceSettings(
            mode=rebalance.mode,
            threshold_percent=rebalance.threshold,
            relative=rebalance.band == "relative",
            interval=rebalance.interval,
            interval_minutes=rebalance.interval_minutes,
        ),
        min_trade=model.min_trade,
        exit_rule=PortfolioExitRule(
            None if model.take_profit is None else model.take_profit / 100.0,
            None if model.stop_loss is None else model.stop_loss / 100.0,
            model.on_exit != "keep_coins",
        ),
        allocation=None
        if allocation is None
        else AllocationSettings(
            method=allocation.method,
            lookback_minutes=parse_minutes(allocation.lookback, "lookback"),
            refresh_minutes=None
            if allocation.refresh is None
            else parse_minutes(allocation.refresh, "refresh"),
            min_weight=None if allocation.min_weight is None else allocation.min_weight / 100.0,
            max_weight=None if allocation.max_weight is None else allocation.max_weight / 100.0,
        ),
        held_coins=None if held is None or held is False else tuple(targets.coins if held is True else held),
        compact_after_orders=model.compact_after_orders or None,
    )
