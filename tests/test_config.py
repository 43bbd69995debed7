"""The smartfolio config section: good configs parse, bad ones are refused naming field, value and fix."""

from __future__ import annotations

import copy

import pytest

from freqtrade_smartfolio.config import (
    ConfigError,
    check_against_exchange,
    exchange_min_order,
    minimum_investment,
    parse_settings,
)

GOOD = {
    "stake_currency": "USDT",
    "exchange": {"pair_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT"]},
    "smartfolio": {
        "portfolio": {"BTC": 50, "ETH": 30, "SOL": 20},
        "investment": 1000,
        "rebalance": {"mode": "proportional", "threshold": 5},
    },
}


def with_section(**changes):
    config = copy.deepcopy(GOOD)
    for key, value in changes.items():
        config["smartfolio"][key] = value
    return config


def test_good_config_parses():
    settings = parse_settings(GOOD)
    assert settings.targets.coins == ("BTC", "ETH", "SOL")
    assert settings.targets.weights == pytest.approx((0.5, 0.3, 0.2))
    assert settings.rebalance.rule.threshold == pytest.approx(0.05)
    assert settings.min_trade == 5.0
    assert settings.pairs == ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def test_stake_currency_may_hold_a_cash_weight():
    config = with_section(portfolio={"BTC": 45, "ETH": 45, "USDT": 10})
    config["exchange"]["pair_whitelist"] = ["BTC/USDT", "ETH/USDT"]
    settings = parse_settings(config)
    assert settings.targets.cash == pytest.approx(0.10)
    assert settings.targets.coins == ("BTC", "ETH")


def test_scheduled_and_both_modes():
    settings = parse_settings(with_section(rebalance={"mode": "scheduled", "interval": "4h"}))
    assert settings.rebalance.rule.interval_minutes == 240
    assert settings.rebalance.rule.threshold is None
    both = parse_settings(with_section(rebalance={"mode": "both", "threshold": 2, "interval": "1d"}))
    assert both.rebalance.rule.interval_minutes == 1440
    assert both.rebalance.rule.threshold == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"portfolio": {"BTC": 50, "ETH": 30, "SOL": 19}},
            r"smartfolio\.portfolio: weights sum to 99%, not 100%; adjust them by \+1 points",
        ),
        (
            {"portfolio": {"BTC": 100}},
            r"smartfolio\.portfolio: 1 coin\(s\) given \(BTC\); a portfolio needs at least 2 coins",
        ),
        (
            {"portfolio": {"BTC": 50, "ETH": -10, "SOL": 60}},
            r"smartfolio\.portfolio\.ETH: -10 is not a positive percentage",
        ),
        (
            {"rebalance": {"mode": "proportional", "threshold": -1}},
            r"smartfolio\.rebalance\.threshold: -1 is not allowed; give the deviation .* e\.g\. 5",
        ),
        (
            {"rebalance": {"mode": "scheduled", "interval": "5x"}},
            r"smartfolio\.rebalance\.interval: '5x' is not a duration; use a positive whole number "
            r"followed by m, h, d or w",
        ),
        (
            {"rebalance": {"mode": "sometimes", "threshold": 5}},
            r"smartfolio\.rebalance\.mode: 'sometimes' is not a mode; use one of proportional, "
            r"scheduled, both",
        ),
        ({"investment": 0}, r"smartfolio\.investment: 0 is not a positive amount"),
        ({"min_trade": "five"}, r"smartfolio\.min_trade: 'five' is not a positive amount"),
        ({"portfolio": {"BTC/USDT": 50, "ETH": 50}}, r"'BTC/USDT' is not a coin symbol"),
        ({"thresold": 5}, r"smartfolio: unknown key\(s\) 'thresold'"),
    ],
)
def test_bad_configs_are_refused_with_their_message(changes, match):
    with pytest.raises(ConfigError, match=match):
        parse_settings(with_section(**changes))


def test_missing_section_names_an_example():
    with pytest.raises(ConfigError, match=r"smartfolio: missing or not an object .*\"portfolio\""):
        parse_settings({"stake_currency": "USDT"})


def test_whitelist_must_agree_with_the_coins():
    config = copy.deepcopy(GOOD)
    config["exchange"]["pair_whitelist"] = ["BTC/USDT", "ETH/USDT", "DOGE/USDT"]
    with pytest.raises(
        ConfigError,
        match=r"exchange\.pair_whitelist: .* \(missing SOL/USDT; not in the portfolio DOGE/USDT\); set it",
    ):
        parse_settings(config)


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_section(investment=-5, rebalance={"mode": "proportional", "threshold": 0}))
    assert len(caught.value.problems) == 2


MARKETS = {
    pair: {"active": True, "limits": {"cost": {"min": 5.0}, "amount": {"min": 0.00001}}}
    for pair in ("BTC/USDT", "ETH/USDT", "SOL/USDT")
}
PRICES = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0}


def test_unknown_coin_is_refused():
    config = with_section(portfolio={"BTC": 50, "ETH": 30, "NOPE": 20})
    config["exchange"]["pair_whitelist"] = ["BTC/USDT", "ETH/USDT", "NOPE/USDT"]
    settings = parse_settings(config)
    with pytest.raises(
        ConfigError, match=r"smartfolio\.portfolio\.NOPE: NOPE/USDT is not an active market on this exchange"
    ):
        check_against_exchange(settings, MARKETS, PRICES)


def test_minimum_investment_is_computed_and_enforced():
    settings = parse_settings(with_section(investment=50))
    min_order = exchange_min_order(5.0, 0.00001, 60000.0)
    assert min_order == pytest.approx(5.0 * 1.05 / 0.9)
    needed = minimum_investment(settings.targets, dict.fromkeys(("BTC", "ETH", "SOL"), min_order))
    assert needed == pytest.approx(2 * min_order / 0.2)
    with pytest.raises(
        ConfigError, match=r"smartfolio\.investment: 50 USDT is below the minimum of 58\.33 USDT"
    ):
        check_against_exchange(settings, MARKETS, PRICES)
    orders = check_against_exchange(parse_settings(GOOD), MARKETS, PRICES)
    assert orders["BTC"] == pytest.approx(min_order)


def test_user_min_trade_is_never_below_the_exchange():
    settings = parse_settings(with_section(min_trade=1))
    orders = check_against_exchange(settings, MARKETS, PRICES)
    assert all(v == pytest.approx(5.0 * 1.05 / 0.9) for v in orders.values())
    settings = parse_settings(with_section(min_trade=20))
    assert check_against_exchange(settings, MARKETS, PRICES)["BTC"] == 20


def test_allocation_section_with_a_list_of_coins():
    config = copy.deepcopy(GOOD)
    config["smartfolio"]["portfolio"] = ["BTC", "ETH", "SOL"]
    config["smartfolio"]["allocation"] = {
        "method": "risk-parity",
        "lookback": "30d",
        "refresh": "7d",
        "max_weight": 60,
    }
    settings = parse_settings(config)
    assert settings.allocation.method == "risk_parity"
    assert (
        settings.allocation.lookback_minutes == 30 * 1440 and settings.allocation.refresh_minutes == 7 * 1440
    )
    assert settings.allocation.bounds == (0.0, 0.6)
    assert settings.targets.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))  # until computed


def test_bad_allocation_is_refused_naming_its_fields():
    config = copy.deepcopy(GOOD)
    config["smartfolio"]["portfolio"] = ["BTC", "ETH", "SOL"]
    config["smartfolio"]["allocation"] = {"method": "magic", "lookback": "3x"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "smartfolio.allocation.method",
        "smartfolio.allocation.lookback",
    ]
    del config["smartfolio"]["allocation"]
    with pytest.raises(
        ConfigError, match=r"smartfolio\.portfolio: a list of coins .* needs an allocation section"
    ):
        parse_settings(config)


# ---------------------------------------------------------------- the pydantic models behind parse_settings


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"compact_after_orders": 0},
            r"smartfolio\.compact_after_orders: 0 is not a whole number of orders >= 2",
        ),
        ({"compact_after_orders": 2.0}, r"smartfolio\.compact_after_orders: 2\.0 is not a whole number"),
        ({"compact_after_orders": True}, r"smartfolio\.compact_after_orders: True is not a whole number"),
        ({"confirm_risk": "yes"}, r"smartfolio\.confirm_risk: 'yes' is not true or false; set it to true"),
        ({"investment": True}, r"smartfolio\.investment: True is not a positive amount"),
        ({"investment": "1000"}, r"smartfolio\.investment: '1000' is not a positive amount"),
        ({"investment": float("inf")}, r"smartfolio\.investment: inf is not a positive amount"),
        (
            {"take_profit": 0},
            r"smartfolio\.take_profit: 0 is not allowed; give a percentage above 0, e\.g\. 50",
        ),
        (
            {"stop_loss": 100},
            r"smartfolio\.stop_loss: 100 is not allowed; give a percentage above 0 and below 100",
        ),
        ({"on_exit": "panic"}, r"smartfolio\.on_exit: 'panic' is not a choice; use 'sell_all'"),
        ({"rebalance": None}, r"smartfolio\.rebalance: expected an object, got None; e\.g\. \{\"mode\""),
        (
            {"rebalance": {"threshold": 5, "band": "wide"}},
            r"smartfolio\.rebalance\.band: 'wide' is not a band",
        ),
        (
            {"rebalance": {"mode": "proportional", "threshold": 5, "interval": "1d"}},
            r"smartfolio\.rebalance\.interval: '1d' is set but mode is 'proportional'; use mode 'both'",
        ),
        ({"allocation": "risk_parity"}, r"smartfolio\.allocation: expected an object, got 'risk_parity'"),
        (
            {"allocation": {"method": "hrp", "min_weight": 30, "max_weight": 20}},
            r"smartfolio\.allocation\.min_weight: 30 is above max_weight 20; swap or lower it",
        ),
        (
            {"allocation": {"lookback": "30d"}},
            r"smartfolio\.allocation\.method: None is not an allocation method",
        ),
        (
            {"use_held_coins": "BTC"},
            r"smartfolio\.use_held_coins: expected true \(the portfolio's coins\) or a list",
        ),
        ({"use_held_coins": ["BTC", "btc"], "confirm_risk": True}, r"\(a coin is listed twice\)"),
    ],
)
def test_more_bad_values_name_field_value_and_fix(changes, match):
    with pytest.raises(ConfigError, match=match):
        parse_settings(with_section(**changes))


def test_missing_required_fields_are_each_named():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"stake_currency": "EUR", "smartfolio": {}})
    assert caught.value.problems == [
        'smartfolio.portfolio: expected an object of coin -> target percent, got None; e.g. {"BTC": 60, '
        '"ETH": 30, "EUR": 10}',
        "smartfolio.investment: None is not a positive amount; give the amount to invest in the stake "
        "currency, e.g. 1000",
        'smartfolio.rebalance: expected an object, got None; e.g. {"mode": "proportional", "threshold": 5} '
        'or {"mode": "scheduled", "interval": "1d"}',
    ]


def test_problems_come_in_the_order_of_the_section():
    """Unknown keys of an object before its fields; the whitelist, outside the section, last."""
    config = with_section(
        typo=1,
        investment=-1,
        rebalance={"mode": "scheduled", "threshold": 5, "every": "1d"},
        portfolio={"BTC": 50, "ETH": 50},
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "smartfolio",
        "smartfolio.investment",
        "smartfolio.rebalance",
        "smartfolio.rebalance.threshold",
        "smartfolio.rebalance.interval",
        "exchange.pair_whitelist",
    ]
    assert caught.value.problems[2].startswith(
        "smartfolio.rebalance: unknown key(s) 'every'; allowed keys are band"
    )
    assert "is set but mode is 'scheduled'" in caught.value.problems[3]


def test_held_coins_on_futures_name_both_fixes():
    config = with_section(use_held_coins=True)
    config["trading_mode"] = "futures"
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "smartfolio.use_held_coins",
        "smartfolio.confirm_risk",
    ]
    assert "works on spot only, but trading_mode is 'futures'" in caught.value.problems[0]


def test_the_model_is_the_section_and_the_settings_come_from_it():
    from freqtrade_smartfolio.config import SmartfolioSection
    from freqtrade_smartfolio.config.models import context_of

    section = {
        **GOOD["smartfolio"],
        "portfolio": {"btc": 45, " eth ": 45, "USDT": 10},
        "compact_after_orders": False,
    }
    config = {"stake_currency": "usdt", "smartfolio": section}
    model = SmartfolioSection.model_validate(section, context=context_of(config))
    assert model.portfolio == {"BTC": 45.0, "ETH": 45.0, "USDT": 10.0}
    assert (
        model.rebalance.mode == "proportional"
        and model.min_trade == 5.0
        and model.compact_after_orders is False
    )
    settings = parse_settings(config)
    assert settings.stake_currency == "USDT" and settings.targets.cash == pytest.approx(0.1)
    assert settings.compact_after_orders is None
    assert settings.exit_rule.sell_all and settings.allocation is None and settings.held_coins is None
    with pytest.raises(ValueError):  # frozen, like the settings
        model.investment = 5  # type: ignore[misc]
