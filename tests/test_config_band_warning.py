"""The config check warns at start when a coin's band, in stake currency, is below its minimum order."""

from __future__ import annotations

import logging
import re

import pytest

from freqtrade_smartfolio.config import (
    band_below_min_order_warnings,
    band_widths,
    check_against_exchange,
    exchange_min_order,
    parse_settings,
)

COINS = [f"C{i:02d}" for i in range(20)]
MIN_ORDER = exchange_min_order(5.0, 0.00001, 100.0)  # 5 * 1.05 / 0.9 = 5.83
MARKETS = {
    f"{coin}/USDT": {"active": True, "limits": {"cost": {"min": 5.0}, "amount": {"min": 0.00001}}}
    for coin in COINS
}
PRICES = dict.fromkeys(COINS, 100.0)


def settings(rebalance, investment=1000, portfolio=None):
    return parse_settings(
        {
            "stake_currency": "USDT",
            "smartfolio": {
                "portfolio": portfolio or dict.fromkeys(COINS, 5),
                "investment": investment,
                "rebalance": rebalance,
            },
        }
    )


def test_the_issue_case_20_coins_1000_usdt_5pct_relative_warns_for_every_coin():
    # Each coin: 5% of 5% of 1,000 = 2.50 USDT of band against a 5.83 minimum order.
    s = settings({"mode": "both", "threshold": 5, "band": "relative", "interval": "1w"})
    assert band_widths(s)["C00"] == pytest.approx(2.5)
    lines = band_below_min_order_warnings(s, dict.fromkeys(COINS, MIN_ORDER))
    assert len(lines) == 20
    # Fixes: threshold >= 5.8333 / (0.05 * 1000) = 11.67%, or investment >= 5.8333 / 0.0025 = 2,333.33.
    assert any(line.startswith("smartfolio.portfolio.C07:") for line in lines)
    assert re.match(
        r"smartfolio\.portfolio\.C00: its relative band of 5% is 2\.50 USDT at an investment of "
        r"1,000\.00 USDT, below its minimum order of 5\.83 USDT: .*; widen smartfolio\.rebalance\.threshold "
        r"to at least 11\.67 or invest at least 2,334 USDT$",
        lines[0],
    ), lines[0]


def test_check_against_exchange_logs_the_warning_and_does_not_fail(caplog):
    s = settings({"mode": "proportional", "threshold": 5, "band": "relative"})
    with caplog.at_level(logging.WARNING, logger="freqtrade_smartfolio.config"):
        min_orders = check_against_exchange(s, MARKETS, PRICES)
    assert min_orders["C00"] == pytest.approx(MIN_ORDER)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 20
    assert "smartfolio.portfolio.C19: its relative band of 5% is 2.50 USDT" in warnings[-1]


def test_absolute_band_uses_the_whole_investment():
    # An absolute 5% band is 5% of the investment for every coin: 50 USDT, far above 5.83.
    s = settings({"mode": "proportional", "threshold": 5})
    assert band_widths(s)["C00"] == pytest.approx(50.0)
    assert band_below_min_order_warnings(s, dict.fromkeys(COINS, MIN_ORDER)) == []
    # 0.5% of 1,000 is 5.00 < 5.83: widen to 0.59% or invest 1,167.
    narrow = settings({"mode": "proportional", "threshold": 0.5})
    lines = band_below_min_order_warnings(narrow, dict.fromkeys(COINS, MIN_ORDER))
    assert len(lines) == 20
    assert lines[0].startswith("smartfolio.portfolio.C00: its absolute band of 0.5% is 5.00 USDT")
    assert lines[0].endswith(
        "widen smartfolio.rebalance.threshold to at least 0.59 or invest at least 1,167 USDT"
    )


def test_only_the_small_coins_are_named():
    # Relative 5% band at 10,000 USDT: BTC (50%) 250 USDT, SOL (1%) 5 USDT < 5.83.
    portfolio = {"BTC": 50, "ETH": 49, "SOL": 1}
    s = settings({"mode": "proportional", "threshold": 5, "band": "relative"}, 10_000, portfolio)
    lines = band_below_min_order_warnings(s, dict.fromkeys(portfolio, MIN_ORDER))
    assert len(lines) == 1
    assert lines[0].startswith("smartfolio.portfolio.SOL: its relative band of 5% is 5.00 USDT")


def test_threshold_fix_beyond_the_allowed_maximum_is_not_offered():
    # 1% weight, 1% relative band, 1,000 USDT: 0.10 USDT band; the threshold would have to be 58.33%,
    # above the 50% allowed, so only the investment fix is given.
    portfolio = {"BTC": 99, "SOL": 1}
    s = settings({"mode": "proportional", "threshold": 1, "band": "relative"}, 1000, portfolio)
    lines = band_below_min_order_warnings(s, dict.fromkeys(portfolio, MIN_ORDER))
    assert len(lines) == 1
    assert "threshold to" not in lines[0]
    assert lines[0].endswith("; invest at least 58,334 USDT")


def test_scheduled_mode_has_no_band_and_no_warning():
    s = settings({"mode": "scheduled", "interval": "1d"})
    assert band_widths(s) == {}
    assert band_below_min_order_warnings(s, dict.fromkeys(COINS, MIN_ORDER)) == []
