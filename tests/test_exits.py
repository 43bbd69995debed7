"""Portfolio take-profit / stop-loss decisions and their config fields."""

from __future__ import annotations

import copy

import pytest

from freqtrade_smartfolio.config import ConfigError, parse_settings
from freqtrade_smartfolio.portfolio.exits import ExitKind, PortfolioExitRule, check_exit

from .test_config import GOOD


def test_take_profit_and_stop_loss_fire_against_the_invested_capital():
    rule = PortfolioExitRule(take_profit=0.5, stop_loss=0.2)
    assert check_exit(1499.0, 1000.0, rule) is None
    fired = check_exit(1500.0, 1000.0, rule)
    assert fired.kind is ExitKind.TAKE_PROFIT and fired.reason == "take_profit: portfolio +50.00% >= +50.00%"
    assert check_exit(801.0, 1000.0, rule) is None
    fired = check_exit(799.0, 1000.0, rule)
    assert fired.kind is ExitKind.STOP_LOSS and fired.reason == "stop_loss: portfolio -20.10% <= -20.00%"
    assert check_exit(10_000.0, 1000.0, PortfolioExitRule()) is None


def test_exit_config_fields():
    config = copy.deepcopy(GOOD)
    config["smartfolio"].update(take_profit=50, stop_loss=20, on_exit="keep_coins")
    rule = parse_settings(config).exit_rule
    assert rule == PortfolioExitRule(take_profit=0.5, stop_loss=0.2, sell_all=False)
    assert parse_settings(GOOD).exit_rule == PortfolioExitRule()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"take_profit": -5}, r"smartfolio\.take_profit: -5 is not allowed; give a percentage above 0"),
        (
            {"stop_loss": 100},
            r"smartfolio\.stop_loss: 100 is not allowed; give a percentage above 0 and below 100",
        ),
        ({"on_exit": "panic"}, r"smartfolio\.on_exit: 'panic' is not a choice; use 'sell_all'"),
    ],
)
def test_bad_exit_fields_are_refused(changes, match):
    config = copy.deepcopy(GOOD)
    config["smartfolio"].update(changes)
    with pytest.raises(ConfigError, match=match):
        parse_settings(config)
