"""What the user reads when a ``smartfolio`` field is refused: the value received and the fix.

Each function returns the text after ``<field>: ``; the field's name comes from where pydantic found the
problem (``smartfolio.rebalance.threshold``) unless a :class:`Problem` names another one. :func:`refuse`
wraps problems into the one pydantic error type the models raise; :func:`problems_of` turns a
``ValidationError`` back into the lines of a :class:`~freqtrade_smartfolio.config.settings.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from freqtrade_smartfolio.config.settings import (
    BANDS,
    DEFAULT_COMPACT_AFTER_ORDERS,
    DEFAULT_MIN_TRADE,
    MAX_THRESHOLD_PERCENT,
    MIN_COMPACT_AFTER_ORDERS,
    MODES,
    SECTION,
)

ERROR_TYPE = "smartfolio"
HELD_COINS_RISK = (
    "funding with coins you already hold hands them to the bot: the coins it takes over (up to each "
    "coin's target share of the investment; listed coins outside the portfolio are sold to fund it) "
    "leave your free balance and are traded like the coins it buys, at their market value on the day, "
    "whatever you paid for them; on a margin or unified account they are collateral, so moving them "
    "changes your margin and liquidation risk"
)
SECTION_EXAMPLE = (
    '"smartfolio": {"portfolio": {"BTC": 50, "ETH": 50}, "investment": 1000, '
    '"rebalance": {"mode": "proportional", "threshold": 5}}'
)


class Problem(NamedTuple):
    """One refused value: ``text`` is what follows ``<field>: ``; ``field`` (dotted, from the top of the
    config) overrides the place pydantic reports, e.g. ``smartfolio.portfolio.ETH``."""

    field: str | None
    text: str


def refuse(*problems: Problem) -> PydanticCustomError:
    """The pydantic error carrying ``problems`` (raise it from a validator)."""
    return PydanticCustomError(ERROR_TYPE, "{summary}", {"summary": problems[0].text, "problems": problems})


def split(line: str) -> Problem:
    """A ``"<field>: <text>"`` line (as :func:`~freqtrade_smartfolio.portfolio.durations.parse_minutes`
    raises it) as a Problem."""
    name, _, text = line.partition(": ")
    return Problem(name, text)


def field_name(loc: Sequence[int | str]) -> str:
    return ".".join((SECTION, *map(str, loc)))


# ---------------------------------------------------------------- the section and its keys


def not_a_section(value: Any) -> str:
    return f"missing or not an object (got {value!r}); add a section such as {SECTION_EXAMPLE}"


def unknown_keys(keys: Sequence[Any], allowed: Sequence[str]) -> str:
    return (
        f"unknown key(s) {', '.join(map(repr, sorted(keys, key=str)))}; "
        f"allowed keys are {', '.join(sorted(allowed))}"
    )


def not_an_object(value: Any, example: str) -> str:
    return f"expected an object, got {value!r}; e.g. {example}"


# ---------------------------------------------------------------- portfolio


def portfolio_example(stake: str) -> str:
    return f'e.g. {{"BTC": 60, "ETH": 30, "{stake}": 10}}'


def portfolio_list_needs_allocation(value: Any, stake: str) -> str:
    return (
        f"a list of coins ({value!r}) needs an allocation section to compute the weights; give target "
        f'percents instead, {portfolio_example(stake)}, or add "allocation": {{"method": "risk_parity"}}'
    )


def portfolio_not_an_object(value: Any, stake: str) -> str:
    return f"expected an object of coin -> target percent, got {value!r}; {portfolio_example(stake)}"


def not_a_coin(coin: Any) -> str:
    return f"{coin!r} is not a coin symbol; use the base coin's letters and digits only, e.g. 'BTC'"


def coin_twice(coin: str) -> str:
    return f"coin {coin} is listed twice; list each coin once"


def not_a_weight(weight: Any) -> str:
    return (
        f"{weight!r} is not a positive percentage; give each coin a weight above 0, e.g. 25 for 25%, "
        "or remove the coin"
    )


def too_few_coins(coins: Sequence[str], stake: str) -> str:
    return (
        f"{len(coins)} coin(s) given ({', '.join(coins) or 'none'}); a portfolio needs at least 2 coins "
        f"besides {stake}"
    )


def weights_sum(total: float, stake: str) -> str:
    return (
        f"weights sum to {total:g}%, not 100%; adjust them by {100.0 - total:+g} points "
        f"(the stake currency {stake} may hold the rest as cash)"
    )


def whitelist(given: Sequence[str], expected: Sequence[str]) -> str:
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    parts = [
        f"missing {', '.join(missing)}" if missing else "",
        f"not in the portfolio {', '.join(extra)}" if extra else "",
    ]
    detail = "; ".join(part for part in parts if part)
    return f"{sorted(given)} does not match the portfolio ({detail}); set it to {sorted(expected)}"


# ---------------------------------------------------------------- amounts and limits


def investment(value: Any) -> str:
    return f"{value!r} is not a positive amount; give the amount to invest in the stake currency, e.g. 1000"


def min_trade(value: Any) -> str:
    return (
        f"{value!r} is not a positive amount; give the smallest order in the stake currency, "
        f"e.g. {DEFAULT_MIN_TRADE:g} (it is never below the exchange's own minimum)"
    )


def take_profit(value: Any) -> str:
    return f"{value!r} is not allowed; give a percentage above 0, e.g. 50 for +50%, or remove it"


def stop_loss(value: Any) -> str:
    return (
        f"{value!r} is not allowed; give a percentage above 0 and below 100, e.g. 20 for -20%, or remove it"
    )


def on_exit(value: Any) -> str:
    return (
        f"{value!r} is not a choice; use 'sell_all' (sell every coin to the stake currency) or "
        "'keep_coins' (stop trading, keep the coins)"
    )


def compact_after_orders(value: Any) -> str:
    return (
        f"{value!r} is not a whole number of orders >= {MIN_COMPACT_AFTER_ORDERS}; give how many orders a "
        "coin's trade may hold before it is closed and reopened without trading, e.g. "
        f"{DEFAULT_COMPACT_AFTER_ORDERS} (the default), or false to never compact"
    )


# ---------------------------------------------------------------- funding with held coins


def held_coins_type(value: Any) -> str:
    return (
        f"expected true (the portfolio's coins) or a list of coins, got {value!r}; e.g. true or "
        '["BTC", "ETH"], or remove it to fund with the stake currency only'
    )


def held_coins_bad(value: Any, bad: Sequence[str], stake: str) -> str:
    what = f"{list(bad)!r} are not coins other than {stake}" if bad else "a coin is listed twice"
    return f'{value!r} is not allowed ({what}); list each held coin once, e.g. ["BTC", "ETH"]'


def held_coins_spot_only(trading_mode: Any) -> str:
    return f"works on spot only, but trading_mode is {trading_mode!r}; remove use_held_coins or trade spot"


def confirm_risk(value: Any) -> str:
    return (
        f"is {value!r}, but {SECTION}.use_held_coins needs it to be true. WARNING: {HELD_COINS_RISK}. "
        'Set "confirm_risk": true to accept, or remove use_held_coins'
    )


def confirm_risk_type(value: Any) -> str:
    return (
        f"{value!r} is not true or false; set it to true to accept the risk of use_held_coins, or remove it"
    )


# ---------------------------------------------------------------- rebalance


REBALANCE_EXAMPLE = '{"mode": "proportional", "threshold": 5} or {"mode": "scheduled", "interval": "1d"}'


def mode(value: Any) -> str:
    return f"{value!r} is not a mode; use one of {', '.join(MODES)}"


def band(value: Any) -> str:
    return f"{value!r} is not a band; use one of {', '.join(BANDS)}"


def threshold(value: Any) -> str:
    return (
        f"{value!r} is not allowed; give the deviation that triggers a rebalance as a percentage above 0 "
        f"and at most {MAX_THRESHOLD_PERCENT:g}, e.g. 5 (typical: 0.5 to 10)"
    )


def threshold_when_scheduled(value: Any) -> str:
    return f"{value!r} is set but mode is 'scheduled'; use mode 'both' or remove the threshold"


def interval_when_proportional(value: Any) -> str:
    return (
        f"{value!r} is set but mode is 'proportional'; use mode 'both' to rebalance on the threshold and on "
        "a schedule, or remove the interval"
    )


# ---------------------------------------------------------------- allocation


ALLOCATION_EXAMPLE = '{"method": "risk_parity", "lookback": "90d", "refresh": "7d"}'


def method(value: Any, methods: Sequence[str]) -> str:
    return f"{value!r} is not an allocation method; use one of {', '.join(methods)}"


def weight_limit(value: Any) -> str:
    return f"{value!r} is not a percentage between 0 and 100, e.g. 5"


def min_above_max(low: float, high: float) -> str:
    return f"{low:g} is above max_weight {high:g}; swap or lower it"


# ---------------------------------------------------------------- from pydantic's errors to lines


def problems_of(
    error: ValidationError,
    allowed_keys: Mapping[tuple[Any, ...], Sequence[str]],
    missing: Mapping[tuple[Any, ...], Callable[[], str]],
) -> list[str]:
    """One line per problem, ``<field>: <value and fix>``, in the order of the section's fields; unknown
    keys of an object first, problems outside the section (``exchange.pair_whitelist``) last."""
    lines: list[tuple[tuple[Any, ...], str]] = []
    unknown: dict[tuple[Any, ...], list[Any]] = {}
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        if item["type"] == ERROR_TYPE:
            for problem in item["ctx"]["problems"]:
                lines.append((loc, f"{problem.field or field_name(loc)}: {problem.text}"))
        elif item["type"] == "extra_forbidden":
            unknown.setdefault(loc[:-1], []).append(loc[-1])
        elif item["type"] == "missing" and loc in missing:
            lines.append((loc, f"{field_name(loc)}: {missing[loc]()}"))
        else:  # not expected: every field explains its own errors
            lines.append((loc, f"{field_name(loc)}: {item['input']!r} is not allowed ({item['msg']})"))
    for parent, keys in unknown.items():
        line = f"{field_name(parent)}: {unknown_keys(keys, allowed_keys.get(parent, ()))}"
        at = next((i for i, (loc, _) in enumerate(lines) if loc[: len(parent)] == parent), len(lines))
        lines.insert(at, (parent, line))
    texts = [text for _, text in lines]
    return [t for t in texts if t.startswith(SECTION)] + [t for t in texts if not t.startswith(SECTION)]
