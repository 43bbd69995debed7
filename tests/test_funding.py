"""Funding with held coins: the pure take-over plan, the dry-run wallet correction and the config."""

from __future__ import annotations

import copy

import pytest

from freqtrade_smartfolio.adapter.funding import wallet_without_takeovers
from freqtrade_smartfolio.config import ConfigError, parse_settings
from freqtrade_smartfolio.portfolio.funding import plan_funding
from freqtrade_smartfolio.portfolio.targets import Targets

TARGETS = Targets(("BTC", "ETH", "SOL"), (0.4, 0.3, 0.3))
PRICES = {"BTC": 50_000.0, "ETH": 2_500.0, "SOL": 100.0, "XRP": 0.5}
STEPS = {"BTC": 0.00001, "ETH": 0.0001, "SOL": 0.001, "XRP": 1.0}


def test_portfolio_coins_are_taken_up_to_their_target_and_the_rest_comes_from_stake():
    held = {"BTC": 0.01, "ETH": 0.2}  # 500 and 500 USDT
    plan = plan_funding(held, PRICES, TARGETS, 1500, ["BTC", "ETH"], steps=STEPS)
    taken = {t.coin: t for t in plan.takeovers}
    assert taken["BTC"].amount == pytest.approx(0.01)  # all of it: below its 600 target
    assert taken["ETH"].amount == pytest.approx(0.18)  # its 450 target; 0.02 stays the user's
    assert all(t.keep for t in plan.takeovers)
    assert plan.coin_value == pytest.approx(950)
    assert plan.stake_needed == pytest.approx(550)
    assert "ETH: 0.18 of 0.2 taken over" in "; ".join(plan.notes)


def test_listed_coins_outside_the_portfolio_are_taken_to_sell_up_to_what_is_missing():
    held = {"BTC": 0.012, "XRP": 5000.0}  # 600 and 2500 USDT
    plan = plan_funding(held, PRICES, TARGETS, 1000, ["XRP", "BTC"], steps=STEPS)
    taken = {t.coin: t for t in plan.takeovers}
    assert taken["BTC"].amount == pytest.approx(0.008) and taken["BTC"].keep  # 400 target first
    assert taken["XRP"].amount == 1200 and not taken["XRP"].keep  # 600 still missing
    assert plan.stake_needed == pytest.approx(0.0)


def test_amounts_are_floored_to_the_lot_and_dust_is_left_alone():
    held = {"BTC": 0.0000123, "ETH": 0.123456789}
    plan = plan_funding(held, PRICES, TARGETS, 10_000, ["BTC", "ETH"], steps=STEPS, min_values={"BTC": 5.0})
    assert [t.coin for t in plan.takeovers] == ["ETH"]
    assert plan.takeovers[0].amount == pytest.approx(0.1234)
    assert "BTC: 1.23e-05 held, 0.50 usable is below the minimum order 5.00" in plan.notes[0]


def test_no_price_or_no_balance_takes_nothing():
    plan = plan_funding({"BTC": 1.0}, {"BTC": 0.0}, TARGETS, 1000, ["BTC", "ETH"])
    assert plan.takeovers == ()
    assert plan.notes == ("BTC: no price, not taken over", "ETH: none held")
    assert plan.stake_needed == 1000


def test_dry_run_wallet_moves_taken_coins_into_their_trades_and_their_value_to_stake():
    wallet = {"USDT": 500.0, "BTC": 0.01, "ETH": 0.2}
    adjusted = wallet_without_takeovers(wallet, "USDT", [("BTC", 0.01, 500.0), ("ETH", 0.18, 450.0)])
    assert adjusted == pytest.approx({"USDT": 1450.0, "ETH": 0.02})
    assert wallet == {"USDT": 500.0, "BTC": 0.01, "ETH": 0.2}  # the configured wallet is kept


BASE = {
    "stake_currency": "USDT",
    "exchange": {"pair_whitelist": ["BTC/USDT", "ETH/USDT", "SOL/USDT"]},
    "smartfolio": {
        "portfolio": {"BTC": 40, "ETH": 30, "SOL": 30},
        "investment": 1500,
        "rebalance": {"mode": "proportional", "threshold": 5},
    },
}


def settings(**section):
    config = copy.deepcopy(BASE)
    config["smartfolio"].update(section)
    return parse_settings(config)


def test_use_held_coins_true_means_the_portfolio_coins():
    assert settings(use_held_coins=True, confirm_risk=True).held_coins == ("BTC", "ETH", "SOL")
    assert settings(use_held_coins=["btc", "XRP"], confirm_risk=True).held_coins == ("BTC", "XRP")
    assert settings().held_coins is None


def test_use_held_coins_without_confirm_risk_refuses_with_the_warning():
    with pytest.raises(
        ConfigError, match=r"smartfolio\.confirm_risk: is None, but smartfolio\.use_held_coins"
    ):
        settings(use_held_coins=True)
    with pytest.raises(ConfigError, match=r"liquidation risk\. Set \"confirm_risk\": true to accept"):
        settings(use_held_coins=["BTC"], confirm_risk="yes")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "BTC",
            r"use_held_coins: expected true \(the portfolio's coins\) or a list of coins, got 'BTC'",
        ),
        (
            ["BTC", "BTC"],
            r"smartfolio\.use_held_coins: \['BTC', 'BTC'\] is not allowed \(a coin is listed twice\)",
        ),
        (["USDT"], r"\['USDT'\] are not coins other than USDT"),
        ([], r"smartfolio\.use_held_coins: expected true"),
    ],
)
def test_bad_use_held_coins_names_the_field_and_value(value, message):
    with pytest.raises(ConfigError, match=message):
        settings(use_held_coins=value, confirm_risk=True)


def test_use_held_coins_is_spot_only():
    config = copy.deepcopy(BASE)
    config["trading_mode"] = "futures"
    config["smartfolio"].update(use_held_coins=True, confirm_risk=True)
    with pytest.raises(
        ConfigError, match=r"use_held_coins: works on spot only, but trading_mode is 'futures'"
    ):
        parse_settings(config)
