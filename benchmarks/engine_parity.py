"""Engine vs ``freqtrade backtesting`` with SmartPortfolio: final value and rebalance times.

Run: ``.venv/bin/python benchmarks/engine_parity.py`` (prints a markdown table). The helpers
(:func:`run_freqtrade`, :func:`run_engine`, :func:`compare`) are shared with tests/test_engine.py.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.adapter.records import (  # noqa: E402
    latest_backtest_result,
    load_backtest_result,
    orders_from_trades,
)
from freqtrade_smartfolio.config import exchange_min_order, parse_settings  # noqa: E402
from freqtrade_smartfolio.exchange import OfflineExchange  # noqa: E402
from freqtrade_smartfolio.exchange.markets import market_rules  # noqa: E402
from freqtrade_smartfolio.freqtrade_config import build_config  # noqa: E402
from freqtrade_smartfolio.marketdata import find_data_dir  # noqa: E402
from freqtrade_smartfolio.portfolio.engine import (  # noqa: E402
    EngineResult,
    ExchangeRules,
    load_market,
    simulate,
)
from freqtrade_smartfolio.portfolio.plan import CoinRules  # noqa: E402

FREQTRADE = REPO / ".venv" / "bin" / "freqtrade"
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
                "backtesting",
                "-c",
                str(path),
                "--strategy-path",
                os.environ.get("PARITY_STRATEGY_PATH", str(REPO / "user_data" / "strategies")),
                "--datadir",
                str(datadir),
                "--userdir",
                str(userdir),
                "--timerange",
                f"{case.start}-{case.end}",
                "--export",
                "trades",
                "--cache",
                "none",
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


HEADER = (
    "| portfolio | tf | window | engine final | freqtrade final | rel. diff "
    "| fill times engine / freqtrade | same times | freqtrade s | engine s |"
)

CASES = [
    Case(
        "BTC ETH 50/50, every 1d",
        {"BTC": 50, "ETH": 50},
        {"mode": "scheduled", "interval": "1d"},
        "1h",
        "20240101",
        "20240401",
    ),
    Case(
        "3 majors, 2% band",
        {"BTC": 40, "ETH": 30, "SOL": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20240101",
        "20240201",
    ),
    Case(
        "5 majors + 10% cash, 5% band",
        {"BTC": 30, "ETH": 25, "BNB": 15, "SOL": 10, "XRP": 10, "USDT": 10},
        {"mode": "proportional", "threshold": 5},
        "1d",
        "20210101",
        "20250901",
    ),
    Case(
        "6 coins, 4% band or every 1w",
        {"BTC": 25, "ETH": 20, "SOL": 15, "XRP": 15, "DOGE": 15, "LINK": 10},
        {"mode": "both", "threshold": 4, "interval": "1w"},
        "1d",
        "20240101",
        "20240901",
    ),
    Case(
        "10 coins, 1.5% band",
        {c: 10 for c in ("BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "TRX", "UNI")},
        {"mode": "proportional", "threshold": 1.5},
        "1h",
        "20240101",
        "20240501",
        investment=5000,
    ),
    Case(
        "4 majors, 25% relative band, every 3d",
        {"BTC": 40, "ETH": 30, "SOL": 20, "XRP": 10},
        {"mode": "both", "threshold": 25, "band": "relative", "interval": "3d"},
        "1h",
        "20240101",
        "20240301",
    ),
]


# Markets at the edges: a coin listed inside the window, a coin whose candles end inside it, and a
# window across an exchange tick change (BNB 0.1 -> 0.01 in Nov 2024: trades opened in October keep
# the 0.1 precision, so a sale priced at a November open rounded to 0.1 can fall outside the candle
# and stay unfilled).
EDGE_CASES = [
    Case(
        "BTC ETH ENA, ENA listed 2024-04-02, 5% band",
        {"BTC": 40, "ETH": 30, "ENA": 30},
        {"mode": "proportional", "threshold": 5},
        "1h",
        "20240301",
        "20240501",
    ),
    Case(
        "BTC ETH SOL, SOL's candles end 2024-04-15 12:00, 2% band",
        {"BTC": 40, "ETH": 30, "SOL": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20240301",
        "20240501",
        cut={"SOL": "2024-04-15T12:00"},
    ),
    Case(
        "BTC BNB 50/50 across BNB's tick change, 1% band",
        {"BTC": 50, "BNB": 50},
        {"mode": "proportional", "threshold": 1},
        "1h",
        "20241015",
        "20241201",
        investment=10000,
    ),
    Case(
        "BTC ETH BNB across BNB's tick change, 2% band",
        {"BTC": 40, "ETH": 30, "BNB": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20241001",
        "20241215",
    ),
]


def main() -> None:
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(f"exchange: {exchange_kind()}, data: {datadir}\n")
    print(HEADER + " unfilled sales |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in [*CASES, *EDGE_CASES]:
        c = compare(case, datadir)
        print(
            f"| {case.name} | {case.timeframe} | {case.start}-{case.end} | {c.engine_final:.8f} | "
            f"{c.freqtrade_final:.8f} | {c.rel_diff:.2e} | "
            f"{c.engine_rebalances} / {c.freqtrade_rebalances} | {'yes' if c.same_times else 'no'} | "
            f"{c.freqtrade_seconds:.1f} | {c.engine_seconds:.3f} | {c.unfilled_sales} |"
        )


if __name__ == "__main__":
    main()
