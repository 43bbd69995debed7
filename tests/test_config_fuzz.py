"""Config fuzzing: generated `smartfolio` sections are either accepted or refused with a message that
names the field; never a traceback from deeper down."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freqtrade_smartfolio.config import KNOWN_KEYS, SECTION, ConfigError, parse_settings

COINS = ["BTC", "ETH", "SOL", "XRP", "BNB", "USDT", "btc", "BTC/USDT", "", " ", "ÄÖ", "1INCH"]
ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)
NUMBERISH = st.one_of(st.floats(-200, 200), st.integers(-200, 200), ANY)
PORTFOLIO = st.one_of(st.dictionaries(st.sampled_from(COINS), NUMBERISH, max_size=6), ANY)
REBALANCE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "mode": st.one_of(st.sampled_from(["proportional", "scheduled", "both", "x"]), ANY),
            "threshold": NUMBERISH,
            "band": st.one_of(st.sampled_from(["absolute", "relative"]), ANY),
            "interval": st.one_of(st.sampled_from(["5m", "4h", "1d", "2w", "5x", "0h", "-1d"]), ANY),
            "extra": ANY,
        },
    ),
    ANY,
)
SECTIONS = st.fixed_dictionaries(
    {},
    optional={
        "portfolio": PORTFOLIO,
        "investment": NUMBERISH,
        "rebalance": REBALANCE,
        "min_trade": NUMBERISH,
        "take_profit": NUMBERISH,
        "stop_loss": NUMBERISH,
        "on_exit": st.one_of(st.sampled_from(["sell_all", "keep_coins"]), ANY),
        "use_held_coins": st.one_of(st.booleans(), st.lists(st.sampled_from(COINS), max_size=4), ANY),
        "confirm_risk": st.one_of(st.booleans(), ANY),
        "typo": ANY,
    },
)
VALID_REBALANCE = st.one_of(
    st.builds(lambda t: {"mode": "proportional", "threshold": t}, st.floats(0.1, 50)),
    st.builds(lambda i: {"mode": "scheduled", "interval": i}, st.sampled_from(["30m", "4h", "1d", "2w"])),
    st.builds(lambda t, r: {"mode": "both", "threshold": t, "interval": "1d", "band": r},
              st.floats(0.1, 50), st.sampled_from(["absolute", "relative"])),
)  # fmt: skip


@st.composite
def near_valid_sections(draw):
    """A valid section with, maybe, one field replaced by anything."""
    symbols = st.sampled_from(["BTC", "ETH", "SOL", "XRP", "BNB", "USDT"])
    coins = draw(st.lists(symbols, min_size=2, max_size=6, unique=True))
    raw = draw(st.lists(st.integers(1, 100), min_size=len(coins), max_size=len(coins)))
    percents = [100 * r / sum(raw) for r in raw]
    section = {
        "portfolio": dict(zip(coins, percents, strict=True)),
        "investment": draw(st.floats(1, 1e7)),
        "rebalance": draw(VALID_REBALANCE),
    }
    if draw(st.booleans()):
        section["take_profit"] = draw(st.floats(1, 500))
        section["stop_loss"] = draw(st.floats(1, 99))
    if draw(st.booleans()):
        key = draw(
            st.sampled_from([*sorted(section), "min_trade", "on_exit", "use_held_coins", "confirm_risk"])
        )
        section[key] = draw(ANY)
    return section


FIELD = re.compile(r"^(smartfolio(\.[A-Za-z0-9_]+)*|exchange\.pair_whitelist): ")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.one_of(near_valid_sections(), SECTIONS, ANY), whitelist=st.booleans())
def test_every_generated_section_is_accepted_or_refused_naming_the_field(section, whitelist):
    config = {"stake_currency": "USDT", SECTION: section}
    if whitelist and isinstance(section, dict) and isinstance(section.get("portfolio"), dict):
        coins = [str(c).upper() for c in section["portfolio"] if str(c).upper() != "USDT"]
        config["exchange"] = {"pair_whitelist": [f"{c}/USDT" for c in coins]}
    try:
        settings_ = parse_settings(config)
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            assert FIELD.match(problem), problem
        return
    # Accepted: it is a portfolio the strategy can run.
    assert set(section) <= KNOWN_KEYS
    assert len(settings_.targets.coins) >= 2
    assert abs(sum(settings_.targets.weights) + settings_.targets.cash - 1) < 1e-9
    assert settings_.investment > 0 and settings_.min_trade > 0
    rule = settings_.rebalance.rule
    assert rule.threshold is not None or rule.interval_minutes is not None
