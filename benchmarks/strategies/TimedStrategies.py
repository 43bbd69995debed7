"""Benchmark-only strategies: SmartPortfolio and a plain hold-only baseline, both timing each candle.

Each records ``time.perf_counter()`` at every ``bot_loop_start`` (one call per candle in backtesting,
so consecutive stamps bracket all of freqtrade's work on a candle) and writes them to the file named
by ``$SMARTFOLIO_TIMING_FILE`` when the process exits (freqtrade has no end-of-backtest callback).
"""

from __future__ import annotations

import atexit
import json
import os
import time
from datetime import datetime

from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_smartfolio.adapter.strategy import SmartPortfolio
from freqtrade_smartfolio.config import parse_settings


class _CandleClock:
    def _tick(self, current_time: datetime) -> None:
        stamps = self.__dict__.get("_stamps")
        if stamps is None:
            stamps = self.__dict__["_stamps"] = []
            atexit.register(self._dump)
        stamps.append((int(current_time.timestamp()), time.perf_counter()))

    def _dump(self) -> None:
        path = os.environ.get("SMARTFOLIO_TIMING_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(self.__dict__.get("_stamps", []), handle)


class TimedSmartPortfolio(_CandleClock, SmartPortfolio):
    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        self._tick(current_time)
        super().bot_loop_start(current_time, **kwargs)


class TimedHoldOnly(_CandleClock, IStrategy):
    """Buys every coin at its target weight once and holds: freqtrade's cheapest possible portfolio."""

    INTERFACE_VERSION = 3
    timeframe = "1h"
    minimal_roi: dict = {}  # noqa: RUF012
    stoploss = -1.0
    use_exit_signal = False
    position_adjustment_enable = False

    def bot_start(self, **kwargs) -> None:
        settings = parse_settings(self.config)
        self._stakes = {
            pair: weight * settings.investment * 0.998
            for pair, weight in zip(settings.pairs, settings.targets.weights, strict=True)
        }

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        self._tick(current_time)

    def custom_stake_amount(self, pair: str, **kwargs) -> float:
        return self._stakes[pair]

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
