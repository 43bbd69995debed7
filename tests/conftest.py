"""Shared fixtures: real market data from ../shared/data (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from freqtrade_smartfolio.marketdata import MarketDataMissing, find_data_dir

# Tests never ask a public exchange (smartfolio new checks coins against Binance's markets otherwise).
os.environ.setdefault("SMARTFOLIO_OFFLINE", "1")


def _data_dir_or_fail(required: list[str]) -> Path:
    try:
        return find_data_dir(required)
    except MarketDataMissing as err:
        message = f"real market data is required for this test: {err}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def datadir() -> Path:
    """Folder of the shared Binance candles (skips, or fails under CI=true, when missing)."""
    return _data_dir_or_fail(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"])


@pytest.fixture(scope="session")
def require_data():
    """Call with file names to get the folder that holds them all."""
    return _data_dir_or_fail
