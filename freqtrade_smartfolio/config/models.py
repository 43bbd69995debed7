"""The ``smartfolio`` section as pydantic models: the types and limits of every field (which are also
its JSON Schema) and the checks across fields. Every refused value raises :func:`messages.refuse` with
the text the user reads; :func:`validate_section` returns the model or the lines of a ConfigError.

The freqtrade keys a check depends on (``stake_currency``, ``trading_mode``,
``exchange.pair_whitelist``) come in the validation context (:func:`context_of`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from freqtrade_smartfolio.config import messages
from freqtrade_smartfolio.config.messages import Problem, refuse, split
from freqtrade_smartfolio.config.settings import (
    COIN_SYMBOL,
    DEFAULT_COMPACT_AFTER_ORDERS,
    DEFAULT_LOOKBACK,
    DEFAULT_MIN_TRADE,
    MAX_THRESHOLD_PERCENT,
    MIN_COMPACT_AFTER_ORDERS,
    SECTION,
)
from freqtrade_smartfolio.portfolio.durations import parse_minutes
from freqtrade_smartfolio.portfolio.targets import WEIGHT_SUM_TOLERANCE

# What the schema accepts; the validators also strip and upper-case coins ("btc" is BTC).
COIN_PATTERN = r"^\s*[A-Za-z0-9]{1,20}\s*$"
DURATION_PATTERN = r"^\s*\d+\s*[mhdw]\s*$"


def context_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The validation context of ``config``'s section: its stake currency and the freqtrade keys it is
    checked against."""
    exchange = config.get("exchange")
    return {
        "stake": str(config.get("stake_currency") or "USDT").upper(),
        "trading_mode": config.get("trading_mode", "spot"),
        "whitelist": exchange.get("pair_whitelist") if isinstance(exchange, Mapping) else None,
    }


def _stake(info: ValidationInfo) -> str:
    return str((info.context or {}).get("stake", "USDT"))


def explained(text: Callable[[Any], str]) -> WrapValidator:
    """A validator that refuses whatever the field's type and limits refuse, with ``text(value)``."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise refuse(Problem(None, text(value))) from None

    return WrapValidator(validate)


def _number(**limits: float) -> Any:
    return Field(strict=True, allow_inf_nan=False, **limits)  # type: ignore[call-overload]


Coin = Annotated[str, Field(pattern=COIN_PATTERN)]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, examples=["30m", "4h", "1d", "2w"])]
Percent = Annotated[float, _number(ge=0, le=100)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class RebalanceSection(BaseModel):
    """When to rebalance: on a deviation (threshold), on a schedule (interval), or both."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="rebalance", regex_engine="python-re")

    mode: Annotated[Literal["proportional", "scheduled", "both"], explained(messages.mode)] = Field(
        "proportional",
        description="proportional: when a weight leaves its band; scheduled: every interval; both",
    )
    band: Annotated[Literal["absolute", "relative"], explained(messages.band)] = Field(
        "absolute",
        description="absolute: a 40% coin with a 5% threshold rebalances outside 35%-45%; "
        "relative: outside 38%-42% (5% of 40%)",
    )
    threshold: Annotated[float | None, _number(gt=0, le=MAX_THRESHOLD_PERCENT)] = Field(
        None,
        validate_default=True,
        description="percent deviation that triggers a rebalance (typical 0.5 to 10); "
        "required for proportional and both",
        examples=[5],
    )
    interval: Duration | None = Field(
        None,
        validate_default=True,
        description="a scheduled rebalance every interval: a whole number and m, h, d or w; "
        "required for scheduled and both",
    )

    @field_validator("threshold", mode="wrap")
    @classmethod
    def _threshold(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        mode = info.data.get("mode")
        try:
            threshold = handler(value)
        except ValidationError:
            threshold = None
        problems = []
        if (mode in ("proportional", "both") or value is not None) and threshold is None:
            problems.append(Problem(None, messages.threshold(value)))
        if mode == "scheduled" and value is not None:
            problems.append(Problem(None, messages.threshold_when_scheduled(value)))
        if problems:
            raise refuse(*problems)
        return threshold

    @field_validator("interval", mode="wrap")
    @classmethod
    def _interval(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        mode = info.data.get("mode")
        problems = []
        if mode in ("scheduled", "both") or value is not None:
            try:
                parse_minutes(value, f"{SECTION}.rebalance.interval")
            except ValueError as err:
                problems.append(split(str(err)))
        if mode == "proportional" and value is not None:
            problems.append(Problem(None, messages.interval_when_proportional(value)))
        if problems:
            raise refuse(*problems)
        return handler(value)

    @property
    def interval_minutes(self) -> int | None:
        return None if self.interval is None else parse_minutes(self.interval, "interval")


def _method_schema(schema: dict[str, Any]) -> None:
    from freqtrade_smartfolio.portfolio.allocation import METHODS

    schema["examples"] = list(METHODS)
    schema["description"] = (
        f"how the weights are computed: {', '.join(METHODS)} (dashes work too, e.g. 'risk-parity')"
    )


class AllocationSection(BaseModel):
    """Smart Allocation: weights computed from price history instead of fixed percentages."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="allocation", regex_engine="python-re")

    method: str = Field(json_schema_extra=_method_schema)
    lookback: Duration = Field(DEFAULT_LOOKBACK, description="the price history the weights come from")
    refresh: Duration | None = Field(None, description="recompute the weights every refresh (default: never)")
    min_weight: Annotated[Percent | None, explained(messages.weight_limit)] = Field(
        None, description="smallest weight of a coin, in percent"
    )
    max_weight: Annotated[Percent | None, explained(messages.weight_limit)] = Field(
        None, description="largest weight of a coin, in percent"
    )

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> str:
        from freqtrade_smartfolio.portfolio.allocation import METHODS, AllocationError, resolve_method

        try:
            return resolve_method(value)
        except AllocationError:
            raise refuse(Problem(None, messages.method(value, METHODS))) from None

    @field_validator("lookback", "refresh", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None or info.field_name == "lookback":
            try:
                parse_minutes(value, f"{SECTION}.allocation.{info.field_name}")
            except ValueError as err:
                raise refuse(split(str(err))) from None
        return value

    @field_validator("max_weight")
    @classmethod
    def _max_weight(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_weight")
        if low is not None and value is not None and low > value:
            raise refuse(Problem(f"{SECTION}.allocation.min_weight", messages.min_above_max(low, value)))
        return value


def _portfolio_percents(raw: Any, stake: str) -> dict[str, float]:
    """Coin -> percent from the user's object, or every problem with it."""
    problems: list[Problem] = []
    if isinstance(raw, list | tuple):
        raise refuse(Problem(None, messages.portfolio_list_needs_allocation(raw, stake)))
    if not isinstance(raw, Mapping) or not raw:
        raise refuse(Problem(None, messages.portfolio_not_an_object(raw, stake)))
    percents: dict[str, float] = {}
    for coin, weight in raw.items():
        key = str(coin).strip().upper()
        if not COIN_SYMBOL.match(key):
            problems.append(Problem(None, messages.not_a_coin(coin)))
        elif key in percents:
            problems.append(Problem(None, messages.coin_twice(key)))
        elif not _is_number(weight) or weight <= 0:
            problems.append(Problem(f"{SECTION}.portfolio.{key}", messages.not_a_weight(weight)))
        else:
            percents[key] = float(weight)
    coins = [c for c in percents if c != stake]
    if not problems and len(coins) < 2:
        problems.append(Problem(None, messages.too_few_coins(coins, stake)))
    total = sum(percents.values())
    if not problems and abs(total - 100.0) > 100.0 * WEIGHT_SUM_TOLERANCE:
        problems.append(Problem(None, messages.weights_sum(total, stake)))
    if problems:
        raise refuse(*problems)
    return percents


def _no_other_keys(schema: dict[str, Any]) -> None:
    schema["additionalProperties"] = False  # every key matches the coin pattern


class SmartfolioSection(BaseModel):
    """SmartPortfolio's section: the portfolio, the investment and when to rebalance (docs/strategy.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title=SECTION, regex_engine="python-re")

    allocation: AllocationSection | None = Field(
        None, description="compute the weights from price history (Smart Allocation); see docs/allocation.md"
    )
    portfolio: (
        Annotated[
            dict[Coin, Annotated[float, Field(gt=0)]], Field(min_length=2, json_schema_extra=_no_other_keys)
        ]
        | Annotated[list[Coin], Field(min_length=2)]
    ) = Field(
        description="coin -> target weight in percent (at least 2 coins, each above 0, summing to 100; the "
        "stake currency may hold a cash weight), or with an allocation a list of coins",
        examples=[{"BTC": 40, "ETH": 30, "SOL": 10, "XRP": 10, "USDT": 10}],
    )
    investment: Annotated[float, _number(gt=0), explained(messages.investment)] = Field(
        description="amount invested, in the stake currency", examples=[1000]
    )
    rebalance: RebalanceSection
    min_trade: Annotated[float, _number(gt=0), explained(messages.min_trade)] = Field(
        DEFAULT_MIN_TRADE,
        description="smallest order in the stake currency; never below the exchange's own minimum",
    )
    take_profit: Annotated[float | None, _number(gt=0), explained(messages.take_profit)] = Field(
        None, description="portfolio take-profit: percent profit on the capital invested, e.g. 50 for +50%"
    )
    stop_loss: Annotated[float | None, _number(gt=0, lt=100), explained(messages.stop_loss)] = Field(
        None, description="portfolio stop-loss: percent loss on the capital invested, e.g. 20 for -20%"
    )
    on_exit: Annotated[Literal["sell_all", "keep_coins"], explained(messages.on_exit)] = Field(
        "sell_all",
        description="what the take-profit or stop-loss does: sell every coin, or stop trading and keep them",
    )
    use_held_coins: bool | list[Coin] | None = Field(
        False,
        description="fund the investment with coins already on the account: true (the portfolio's coins) "
        "or a list of coins; spot only, needs confirm_risk (see docs/live.md)",
    )
    confirm_risk: bool | None = Field(
        None,
        strict=True,
        validate_default=True,
        description="true to accept what use_held_coins does with your coins",
    )
    compact_after_orders: Annotated[int, Field(strict=True, ge=MIN_COMPACT_AFTER_ORDERS)] | Literal[False] = (
        Field(
            DEFAULT_COMPACT_AFTER_ORDERS,
            description="dry-run/live: close and reopen a coin's trade without trading once it holds more "
            "orders than this; false: never",
        )
    )

    @model_validator(mode="before")
    @classmethod
    def _list_of_coins(cls, data: Any, info: ValidationInfo) -> Any:
        """With an allocation the portfolio may be a plain list of coins: equal weights until the
        strategy computes the allocation from the exchange's candles."""
        if isinstance(data, Mapping) and data.get("allocation") is not None:
            portfolio = data.get("portfolio")
            if isinstance(portfolio, list | tuple):
                stake = _stake(info)
                coins = [c for c in portfolio if str(c).strip().upper() != stake]
                return {**data, "portfolio": {c: 100.0 / len(coins) for c in coins} if coins else {}}
        return data

    @field_validator("allocation", "rebalance", mode="before")
    @classmethod
    def _an_object(cls, value: Any, info: ValidationInfo) -> Any:
        required = info.field_name == "rebalance"
        if not isinstance(value, Mapping) and (value is not None or required):
            example = messages.REBALANCE_EXAMPLE if required else messages.ALLOCATION_EXAMPLE
            raise refuse(Problem(None, messages.not_an_object(value, example)))
        return value

    @field_validator("portfolio", mode="wrap")
    @classmethod
    def _portfolio(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        stake = _stake(info)
        percents = _portfolio_percents(value, stake)
        whitelist = (info.context or {}).get("whitelist")
        if whitelist is not None:
            expected = {f"{c}/{stake}" for c in percents if c != stake}
            given = {str(p).upper() for p in whitelist}
            if given != expected:
                raise refuse(
                    Problem("exchange.pair_whitelist", messages.whitelist(sorted(given), sorted(expected)))
                )
        return handler(percents)

    @field_validator("use_held_coins", mode="wrap")
    @classmethod
    def _held_coins(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        if value is False or value is None:
            return None
        stake = _stake(info)
        if value is not True:
            if not (isinstance(value, list | tuple) and value and all(isinstance(c, str) for c in value)):
                raise refuse(Problem(None, messages.held_coins_type(value)))
            coins = [c.strip().upper() for c in value]
            bad = [c for c in coins if not COIN_SYMBOL.match(c) or c == stake]
            if bad or len(set(coins)) != len(coins):
                raise refuse(Problem(None, messages.held_coins_bad(value, bad, stake)))
            value = coins
        return handler(value)

    @field_validator("compact_after_orders", mode="wrap")
    @classmethod
    def _compact_after_orders(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # By hand first: the union's Literal[False] would take 0 (0 == False) and a float 2.0.
        if value is False or (
            isinstance(value, int) and not isinstance(value, bool) and value >= MIN_COMPACT_AFTER_ORDERS
        ):
            return handler(value)
        raise refuse(Problem(None, messages.compact_after_orders(value)))

    @field_validator("confirm_risk", mode="wrap")
    @classmethod
    def _confirm_risk(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        if info.data.get("use_held_coins") not in (None, False):  # the checks of using held coins
            problems = []
            trading_mode = (info.context or {}).get("trading_mode", "spot")
            if trading_mode != "spot":
                held = f"{SECTION}.use_held_coins"
                problems.append(Problem(held, messages.held_coins_spot_only(trading_mode)))
            if value is not True:
                problems.append(Problem(None, messages.confirm_risk(value)))
            if problems:
                raise refuse(*problems)
        try:
            return handler(value)
        except ValidationError:
            raise refuse(Problem(None, messages.confirm_risk_type(value))) from None


MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): SmartfolioSection,
    ("rebalance",): RebalanceSection,
    ("allocation",): AllocationSection,
}
KNOWN_KEYS = frozenset(SmartfolioSection.model_fields)


def validate_section(section: Any, context: Mapping[str, Any]) -> SmartfolioSection | list[str]:
    """The model of ``section``, or one line per problem (``<field>: <value and fix>``)."""
    try:
        return SmartfolioSection.model_validate(section, context=dict(context))
    except ValidationError as err:
        stake = str(context.get("stake", "USDT"))
        missing: dict[tuple[str, ...], Callable[[], str]] = {
            ("portfolio",): lambda: messages.portfolio_not_an_object(None, stake),
            ("investment",): lambda: messages.investment(None),
            ("rebalance",): lambda: messages.not_an_object(None, messages.REBALANCE_EXAMPLE),
            ("allocation", "method"): lambda: messages.method(None, _methods()),
        }
        allowed = {loc: sorted(model.model_fields) for loc, model in MODELS.items()}
        return messages.problems_of(err, allowed, missing)


def _methods() -> tuple[str, ...]:
    from freqtrade_smartfolio.portfolio.allocation import METHODS

    return tuple(METHODS)
