"""The ``smartfolio`` section of a freqtrade config: parsed and validated once, into frozen settings.

Every problem is reported with the field, the value received and the fix; all problems are
collected and raised together as one :class:`ConfigError`.

Example::

    "smartfolio": {
        "portfolio": {"BTC": 40, "ETH": 30, "SOL": 10, "XRP": 10, "BNB": 10},
        "investment": 1000,
        "rebalance": {"mode": "proportional", "threshold": 5},
        "min_trade": 5
    }
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.exits import PortfolioExitRule
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import WEIGHT_SUM_TOLERANCE, Targets

logger = logging.getLogger(__name__)

SECTION = "smartfolio"
MODES = ("proportional", "scheduled", "both")
BANDS = ("absolute", "relative")
DEFAULT_MIN_TRADE = 5.0
MAX_THRESHOLD_PERCENT = 50.0
# A position must be worth this many minimum orders, so a rebalance can sell part of it and leave
# a sellable remainder.
MIN_INVESTMENT_HEADROOM = 2.0
KNOWN_KEYS = {
    "portfolio",
    "investment",
    "rebalance",
    "min_trade",
    "take_profit",
    "stop_loss",
    "on_exit",
    "allocation",
    "use_held_coins",
    "confirm_risk",
    "compact_after_orders",
}
# Dry-run/live: a coin's open trade holding more orders than this is closed and reopened for the same
# amount, without trading (adapter/compaction.py): freqtrade's work per loop grows with the orders
# its open trades hold. Smallest accepted: below it a trade would be compacted every few rebalances.
DEFAULT_COMPACT_AFTER_ORDERS = 100
MIN_COMPACT_AFTER_ORDERS = 2
KNOWN_ALLOCATION_KEYS = {"method", "lookback", "refresh", "min_weight", "max_weight"}
ON_EXIT = ("sell_all", "keep_coins")
COIN_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}$")
KNOWN_REBALANCE_KEYS = {"mode", "threshold", "band", "interval"}
HELD_COINS_RISK = (
    "funding with coins you already hold hands them to the bot: the coins it takes over (up to each "
    "coin's target share of the investment; listed coins outside the portfolio are sold to fund it) "
    "leave your free balance and are traded like the coins it buys, at their market value on the day, "
    "whatever you paid for them; on a margin or unified account they are collateral, so moving them "
    "changes your margin and liquidation risk"
)


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _field(name: str) -> str:
    return f"{SECTION}.{name}"


def parse_settings(config: Mapping[str, Any]) -> SmartfolioSettings:
    """Validate ``config[SECTION]`` (and the whitelist) and return frozen settings, or raise ConfigError."""
    problems: list[str] = []
    stake = str(config.get("stake_currency") or "USDT").upper()
    section = config.get(SECTION)
    if not isinstance(section, Mapping):
        raise ConfigError(
            [
                f"{SECTION}: missing or not an object (got {section!r}); add a section such as "
                '"smartfolio": {"portfolio": {"BTC": 50, "ETH": 50}, "investment": 1000, '
                '"rebalance": {"mode": "proportional", "threshold": 5}}'
            ]
        )
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        problems.append(
            f"{SECTION}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are {', '.join(sorted(KNOWN_KEYS))}"
        )

    allocation = _parse_allocation(section.get("allocation"), problems)
    portfolio = section.get("portfolio")
    if section.get("allocation") is not None and isinstance(portfolio, list | tuple):
        # With an allocation the portfolio may be a plain list of coins: equal weights until the
        # strategy computes the allocation from the exchange's candles.
        coins = [c for c in portfolio if str(c).strip().upper() != stake]
        portfolio = {c: 100.0 / len(coins) for c in coins} if coins else {}
    targets = _parse_portfolio(portfolio, stake, problems)
    investment = _parse_investment(section.get("investment"), problems)
    rebalance = _parse_rebalance(section.get("rebalance"), problems)
    min_trade = _parse_min_trade(section.get("min_trade", DEFAULT_MIN_TRADE), problems)
    exit_rule = _parse_exit_rule(section, problems)
    held_coins = _parse_held_coins(section, targets, stake, config, problems)
    compact_after = _parse_compact_after_orders(
        section.get("compact_after_orders", DEFAULT_COMPACT_AFTER_ORDERS), problems
    )
    if targets is not None:
        _check_whitelist(config, targets, stake, problems)

    if problems:
        raise ConfigError(problems)
    assert targets is not None and investment is not None and rebalance is not None
    return SmartfolioSettings(
        stake, targets, investment, rebalance, min_trade, exit_rule, allocation, held_coins, compact_after
    )


def _parse_held_coins(
    section: Mapping[str, Any],
    targets: Targets | None,
    stake: str,
    config: Mapping[str, Any],
    problems: list[str],
) -> tuple[str, ...] | None:
    """``use_held_coins``: true (the portfolio's coins) or a list of coins; needs ``confirm_risk``."""
    raw = section.get("use_held_coins", False)
    name = _field("use_held_coins")
    if raw is False or raw is None:
        return None
    if raw is True:
        coins: list[str] = list(targets.coins) if targets is not None else []
    elif isinstance(raw, list | tuple) and raw and all(isinstance(c, str) for c in raw):
        coins = [c.strip().upper() for c in raw]
        bad = [c for c in coins if not COIN_SYMBOL.match(c) or c == stake]
        if bad or len(set(coins)) != len(coins):
            what = f"{bad!r} are not coins other than {stake}" if bad else "a coin is listed twice"
            problems.append(
                f'{name}: {raw!r} is not allowed ({what}); list each held coin once, e.g. ["BTC", "ETH"]'
            )
            return None
    else:
        problems.append(
            f"{name}: expected true (the portfolio's coins) or a list of coins, got {raw!r}; "
            'e.g. true or ["BTC", "ETH"], or remove it to fund with the stake currency only'
        )
        return None
    if config.get("trading_mode", "spot") != "spot":
        problems.append(
            f"{name}: works on spot only, but trading_mode is {config.get('trading_mode')!r}; "
            "remove use_held_coins or trade spot"
        )
    if section.get("confirm_risk") is not True:
        problems.append(
            f"{_field('confirm_risk')}: is {section.get('confirm_risk')!r}, but {name} needs it to be true. "
            f'WARNING: {HELD_COINS_RISK}. Set "confirm_risk": true to accept, or remove use_held_coins'
        )
    return tuple(coins)


def _parse_portfolio(raw: Any, stake: str, problems: list[str]) -> Targets | None:
    name = _field("portfolio")
    example = f'e.g. {{"BTC": 60, "ETH": 30, "{stake}": 10}}'
    if isinstance(raw, list | tuple):
        problems.append(
            f"{name}: a list of coins ({raw!r}) needs an allocation section to compute the weights; give "
            f'target percents instead, {example}, or add "allocation": {{"method": "risk_parity"}}'
        )
        return None
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{name}: expected an object of coin -> target percent, got {raw!r}; {example}")
        return None
    percents: dict[str, float] = {}
    ok = True
    for coin, weight in raw.items():
        key = str(coin).strip().upper()
        if not COIN_SYMBOL.match(key):
            problems.append(
                f"{name}: {coin!r} is not a coin symbol; use the base coin's letters and digits only, "
                "e.g. 'BTC'"
            )
            ok = False
        elif key in percents:
            problems.append(f"{name}: coin {key} is listed twice; list each coin once")
            ok = False
        elif not _is_number(weight) or weight <= 0:
            problems.append(
                f"{name}.{key}: {weight!r} is not a positive percentage; give each coin a weight "
                "above 0, e.g. 25 for 25%, or remove the coin"
            )
            ok = False
        else:
            percents[key] = float(weight)
    coins = [c for c in percents if c != stake]
    if ok and len(coins) < 2:
        problems.append(
            f"{name}: {len(coins)} coin(s) given ({', '.join(coins) or 'none'}); a portfolio needs at "
            f"least 2 coins besides {stake}"
        )
        ok = False
    total = sum(percents.values())
    if ok and abs(total - 100.0) > 100.0 * WEIGHT_SUM_TOLERANCE:
        problems.append(
            f"{name}: weights sum to {total:g}%, not 100%; adjust them by {100.0 - total:+g} points "
            f"(the stake currency {stake} may hold the rest as cash)"
        )
        ok = False
    if not ok:
        return None
    # Normalise tiny float error so the weights sum to exactly 1.
    scale = 100.0 / total
    return Targets.from_percent({c: w * scale for c, w in percents.items()}, stake)


def _parse_investment(raw: Any, problems: list[str]) -> float | None:
    if not _is_number(raw) or raw <= 0:
        problems.append(
            f"{_field('investment')}: {raw!r} is not a positive amount; give the amount to invest "
            "in the stake currency, e.g. 1000"
        )
        return None
    return float(raw)


def _parse_compact_after_orders(raw: Any, problems: list[str]) -> int | None:
    """``compact_after_orders``: a whole number of orders (>= MIN_COMPACT_AFTER_ORDERS), or false."""
    if raw is False:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= MIN_COMPACT_AFTER_ORDERS:
        return raw
    problems.append(
        f"{_field('compact_after_orders')}: {raw!r} is not a whole number of orders >= "
        f"{MIN_COMPACT_AFTER_ORDERS}; give how many orders a coin's trade may hold before it is closed "
        f"and reopened without trading, e.g. {DEFAULT_COMPACT_AFTER_ORDERS} (the default), or false to "
        "never compact"
    )
    return DEFAULT_COMPACT_AFTER_ORDERS


def _parse_min_trade(raw: Any, problems: list[str]) -> float:
    if not _is_number(raw) or raw <= 0:
        problems.append(
            f"{_field('min_trade')}: {raw!r} is not a positive amount; give the smallest order in "
            f"the stake currency, e.g. {DEFAULT_MIN_TRADE:g} (it is never below the exchange's own minimum)"
        )
        return DEFAULT_MIN_TRADE
    return float(raw)


def _parse_allocation(raw: Any, problems: list[str]) -> AllocationSettings | None:
    """``allocation``: method, lookback, optional refresh and min/max weight (percent)."""
    if raw is None:
        return None
    name = _field("allocation")
    if not isinstance(raw, Mapping):
        problems.append(
            f"{name}: expected an object, got {raw!r}; e.g. "
            '{"method": "risk_parity", "lookback": "90d", "refresh": "7d"}'
        )
        return None
    from freqtrade_smartfolio.portfolio.allocation import METHODS, AllocationError, resolve_method

    n_before = len(problems)
    unknown = sorted(set(raw) - KNOWN_ALLOCATION_KEYS)
    if unknown:
        problems.append(
            f"{name}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys are "
            f"{', '.join(sorted(KNOWN_ALLOCATION_KEYS))}"
        )
    method = ""
    try:
        method = resolve_method(raw.get("method"))  # type: ignore[arg-type]
    except AllocationError:
        problems.append(
            f"{name}.method: {raw.get('method')!r} is not an allocation method; "
            f"use one of {', '.join(METHODS)}"
        )
    lookback = refresh = None
    try:
        lookback = parse_minutes(raw.get("lookback", "90d"), f"{name}.lookback")
    except ValueError as err:
        problems.append(str(err))
    if raw.get("refresh") is not None:
        try:
            refresh = parse_minutes(raw["refresh"], f"{name}.refresh")
        except ValueError as err:
            problems.append(str(err))
    limits: dict[str, float | None] = {}
    for key in ("min_weight", "max_weight"):
        value = raw.get(key)
        limits[key] = None
        if value is None:
            continue
        if not _is_number(value) or not 0 <= value <= 100:
            problems.append(f"{name}.{key}: {value!r} is not a percentage between 0 and 100, e.g. 5")
            continue
        limits[key] = float(value) / 100.0
    low, high = limits["min_weight"], limits["max_weight"]
    if low is not None and high is not None and low > high:
        problems.append(
            f"{name}.min_weight: {low * 100:g} is above max_weight {high * 100:g}; swap or lower it"
        )
    if len(problems) > n_before or lookback is None:
        return None
    return AllocationSettings(method, lookback, refresh, low, high)


def _parse_exit_rule(section: Mapping[str, Any], problems: list[str]) -> PortfolioExitRule:
    """``take_profit`` (percent profit), ``stop_loss`` (percent loss, 0-100) and ``on_exit``."""
    fractions: dict[str, float | None] = {}
    for key, upper, example in (("take_profit", None, "50 for +50%"), ("stop_loss", 100.0, "20 for -20%")):
        raw = section.get(key)
        fractions[key] = None
        if raw is None:
            continue
        if not _is_number(raw) or raw <= 0 or (upper is not None and raw >= upper):
            limit = f" and below {upper:g}" if upper is not None else ""
            problems.append(
                f"{_field(key)}: {raw!r} is not allowed; give a percentage above 0{limit}, e.g. {example}, "
                "or remove it"
            )
            continue
        fractions[key] = float(raw) / 100.0
    on_exit = section.get("on_exit", "sell_all")
    if on_exit not in ON_EXIT:
        problems.append(
            f"{_field('on_exit')}: {on_exit!r} is not a choice; use 'sell_all' (sell every coin to the "
            "stake currency) or 'keep_coins' (stop trading, keep the coins)"
        )
    return PortfolioExitRule(fractions["take_profit"], fractions["stop_loss"], on_exit != "keep_coins")


def _parse_rebalance(raw: Any, problems: list[str]) -> RebalanceSettings | None:
    name = _field("rebalance")
    if not isinstance(raw, Mapping):
        problems.append(
            f"{name}: expected an object, got {raw!r}; e.g. "
            '{"mode": "proportional", "threshold": 5} or {"mode": "scheduled", "interval": "1d"}'
        )
        return None
    n_before = len(problems)
    unknown = sorted(set(raw) - KNOWN_REBALANCE_KEYS)
    if unknown:
        problems.append(
            f"{name}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys are "
            f"{', '.join(sorted(KNOWN_REBALANCE_KEYS))}"
        )
    mode = raw.get("mode", "proportional")
    if mode not in MODES:
        problems.append(f"{name}.mode: {mode!r} is not a mode; use one of {', '.join(MODES)}")
    band = raw.get("band", "absolute")
    if band not in BANDS:
        problems.append(f"{name}.band: {band!r} is not a band; use one of {', '.join(BANDS)}")

    threshold: Any = raw.get("threshold")
    needs_threshold = mode in ("proportional", "both") or threshold is not None
    if needs_threshold and not (_is_number(threshold) and 0 < threshold <= MAX_THRESHOLD_PERCENT):
        problems.append(
            f"{name}.threshold: {threshold!r} is not allowed; give the deviation that triggers a "
            f"rebalance as a percentage above 0 and at most {MAX_THRESHOLD_PERCENT:g}, e.g. 5 "
            "(typical: 0.5 to 10)"
        )
    interval: Any = raw.get("interval")
    minutes = None
    if mode in ("scheduled", "both") or interval is not None:
        try:
            minutes = parse_minutes(interval, f"{name}.interval")
        except ValueError as err:
            problems.append(str(err))
    if mode == "proportional" and interval is not None:
        problems.append(
            f"{name}.interval: {interval!r} is set but mode is 'proportional'; use mode 'both' to "
            "rebalance on the threshold and on a schedule, or remove the interval"
        )
    if mode == "scheduled" and threshold is not None:
        problems.append(
            f"{name}.threshold: {threshold!r} is set but mode is 'scheduled'; use mode 'both' or "
            "remove the threshold"
        )
    if len(problems) > n_before:
        return None
    return RebalanceSettings(
        mode=str(mode),
        threshold_percent=float(threshold) if threshold is not None else None,
        relative=band == "relative",
        interval=str(interval) if interval is not None else None,
        interval_minutes=minutes,
    )


def _check_whitelist(config: Mapping[str, Any], targets: Targets, stake: str, problems: list[str]) -> None:
    exchange = config.get("exchange")
    whitelist = exchange.get("pair_whitelist") if isinstance(exchange, Mapping) else None
    if whitelist is None:
        return
    expected = {f"{c}/{stake}" for c in targets.coins}
    given = {str(p).upper() for p in whitelist}
    if given != expected:
        missing = sorted(expected - given)
        extra = sorted(given - expected)
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"not in the portfolio {', '.join(extra)}" if extra else "",
            )
            if part
        )
        problems.append(
            f"exchange.pair_whitelist: {sorted(given)} does not match the portfolio ({detail}); set it "
            f"to {sorted(expected)}"
        )


# ---------------------------------------------------------------- checks that need the exchange


def exchange_min_order(min_cost: float | None, min_amount: float | None, price: float) -> float:
    """The smallest order value freqtrade will place on a pair, from the market's limits.

    Mirrors freqtrade's ``Exchange.get_min_pair_stake_amount`` with its default 5% amount reserve and
    the -10% stoploss its backtester assumes for position adjustments (pinned by a test).
    """
    margin_reserve = 1.05
    stoploss_reserve = min(max(margin_reserve / (1 - 0.1), 1.0), 1.5)
    limits = []
    if min_cost:
        limits.append(min_cost * stoploss_reserve)
    if min_amount:
        limits.append(min_amount * price * margin_reserve)
    return max(limits) if limits else 0.0


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
