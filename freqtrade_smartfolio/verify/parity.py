"""The engine against ``freqtrade backtesting`` with SmartPortfolio on the offline exchange: the same
window (:class:`Case`) through both, compared on final value and fill times (:func:`compare`).

``benchmarks/engine_parity.py`` runs the windows of :mod:`.cases` and prints a markdown table; the tests
run their own. freqtrade is ``.venv/bin/freqtrade`` of the checkout (else the one beside this Python), the
strategy folder the checkout's ``user_data/strategies`` (``PARITY_STRATEGY_PATH`` overrides it).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_smartfolio.adapter.records import (
    latest_backtest_result,
    load_backtest_result,
    orders_from_trades,
)
from freqtrade_smartfolio.backtest import backtesting_args
from freqtrade_smartfolio.config import exchange_min_order, parse_settings
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.markets import market_rules
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.portfolio.engine import (
    EngineResult,
    ExchangeRules,
    load_market,
    simulate,
)
from freqtrade_smartfolio.portfolio.plan import CoinRules

REPO = Path(__file__).resolve().parents[2]
_VENV_FREQTRADE = REPO / ".venv" / "bin" / "freqtrade"
FREQTRADE = _VENV_FREQTRADE if _VENV_FREQTRADE.exists() else Path(sys.executable).parent / "freqtrade"
MIN_NOTIONAL = 5.0


@dataclass(frozen=True)
class Case:
    name: str
    portfolio: Mapping[str, float]
    rebalance: Mapping[str, Any]
    timeframe: str
    start: str  # freqtrade --timerange start, YYYYMMDD
    end: str  # freqtrade --timerange end, YYYYMMDD (the candle at 00:00 of that day is included)
    investment: float = 1000.0
    fee: float = 0.001
    min_trade: float | None = None
    # coin -> UTC time: that coin's candles end before it (a copy of the data folder with its file
    # truncated, the others linked), as for a coin halted, delisted or whose download stopped
    cut: Mapping[str, str] | None = None

    @property
    def smartfolio(self) -> dict[str, Any]:
        section: dict[str, Any] = {
            "portfolio": dict(self.portfolio),
            "investment": self.investment,
            "rebalance": dict(self.rebalance),
        }
        if self.min_trade is not None:
            section["min_trade"] = self.min_trade
        return section

    @property
    def coins(self) -> list[str]:
        return [c for c in self.portfolio if c != "USDT"]


@contextlib.contextmanager
def case_datadir(case: Case, datadir: Path) -> Iterator[Path]:
    """``datadir``, or for a case with ``cut`` a temporary copy where those coins' files of the case's
    timeframe end at the cut (every other file a symlink)."""
    if not case.cut:
        yield datadir
        return
    with tempfile.TemporaryDirectory(prefix="parity-data-") as tmp:
        target = Path(tmp)
        cut_files = {f"{coin}_USDT-{case.timeframe}.feather": when for coin, when in case.cut.items()}
        for source in Path(datadir).iterdir():
            link = target / source.name
            if source.name in cut_files:
                frame = pd.read_feather(source)
                frame = frame[frame["date"] < pd.Timestamp(cut_files[source.name], tz="UTC")]
                frame.reset_index(drop=True).to_feather(link)
            else:
                link.symlink_to(source.resolve())
        yield target


def exchange_kind() -> str:
    """The exchange freqtrade runs against (the project's offline exchange)."""
    return "offline"


@contextlib.contextmanager
def exchange_url(datadir: Path, coins: Sequence[str]) -> Iterator[str]:
    """URL of a running offline exchange serving the data folder."""
    with OfflineExchange(datadir, port=0) as ex:
        yield ex.url


def market_limits(coin: str, datadir: Path) -> tuple[float, float]:
    """(tick, lot step) of ``coin`` on the offline exchange (the same rules it serves)."""
    rules = market_rules(coin, datadir, timeframe=None)
    return rules.tick_size, rules.step_size


def engine_rules(
    case: Case, datadir: Path, last_close: Mapping[str, float]
) -> tuple[list[CoinRules], list[ExchangeRules]]:
    """The strategy's CoinRules (minimum order, lot step) and the exchange's tick/limits per coin."""
    settings = parse_settings({"stake_currency": "USDT", "smartfolio": case.smartfolio})
    coin_rules, exchange = [], []
    for coin in case.coins:
        tick, step = market_limits(coin, datadir)
        ex_min = exchange_min_order(MIN_NOTIONAL, step, last_close[coin])
        coin_rules.append(CoinRules(min_order=max(settings.min_trade, ex_min), step=step))
        exchange.append(ExchangeRules(tick=tick, min_cost=MIN_NOTIONAL, min_amount=step))
    return coin_rules, exchange


def _timestamp(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def run_engine(case: Case, datadir: Path, mode: str = "freqtrade") -> EngineResult:
    """The engine on the same bars freqtrade backtests for ``case`` (timerange end inclusive)."""
    market = load_market(case.coins, case.timeframe, _timestamp(case.start), _timestamp(case.end), datadir)
    last_close = {c: float(market.close[-1, i]) for i, c in enumerate(market.coins)}
    coin_rules, exchange = engine_rules(case, datadir, last_close)
    settings = parse_settings({"stake_currency": "USDT", "smartfolio": case.smartfolio})
    return simulate(
        market,
        settings.targets,
        settings.rebalance.rule,
        coin_rules,
        case.fee,
        case.investment,
        exchange=exchange,
        mode=mode,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class FreqtradeRun:
    final_balance: float
    orders: pd.DataFrame
    seconds: float
    log: str = ""

    @property
    def rebalance_times(self) -> list[pd.Timestamp]:
        fills = self.orders[self.orders["tag"] != "force_exit"]
        return sorted(set(fills["time"]))


def run_freqtrade(case: Case, datadir: Path, workdir: Path | None = None) -> FreqtradeRun:
    """``freqtrade backtesting`` of ``case`` against the offline exchange (or the stub)."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parity-")))
        userdir = workdir / "user_data"
        (userdir / "backtest_results").mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(exchange_url(datadir, case.coins))
        config = build_config(case.smartfolio, timeframe=case.timeframe, exchange_url=url, fee=case.fee)
        path = workdir / "config.json"
        path.write_text(json.dumps(config))
        started = time.perf_counter()
        proc = subprocess.run(
            [
                str(FREQTRADE),
                *backtesting_args(
                    path,
                    userdir,
                    datadir,
                    f"{case.start}-{case.end}",
                    os.environ.get("PARITY_STRATEGY_PATH", str(REPO / "user_data" / "strategies")),
                ),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(
                f"freqtrade failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        result = load_backtest_result(latest_backtest_result(userdir / "backtest_results"))
        return FreqtradeRun(
            float(result["final_balance"]),
            orders_from_trades(result["trades"]),
            seconds,
            proc.stderr + proc.stdout,
        )


@dataclass(frozen=True)
class Comparison:
    case: Case
    engine_final: float
    freqtrade_final: float
    engine_rebalances: int
    freqtrade_rebalances: int
    same_times: bool
    freqtrade_seconds: float
    engine_seconds: float
    unfilled_sales: int = 0  # sales freqtrade left unfilled (the strategy logs each)

    @property
    def rel_diff(self) -> float:
        return abs(self.engine_final - self.freqtrade_final) / self.freqtrade_final


def compare(case: Case, datadir: Path) -> Comparison:
    with case_datadir(case, datadir) as data:
        ft = run_freqtrade(case, data)
        started = time.perf_counter()
        engine = run_engine(case, data)
        engine_seconds = time.perf_counter() - started
    engine_times = engine.rebalance_times
    ft_times = ft.rebalance_times
    return Comparison(
        case,
        engine.final_value,
        ft.final_balance,
        len(engine_times),
        len(ft_times),
        engine_times == ft_times,
        ft.seconds,
        engine_seconds,
        ft.log.count("did not fill in its candle"),
    )
