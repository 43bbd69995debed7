"""Engine throughput, its speed against the bt library, and a 100-point parameter sweep.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (bt must be installed for the bt part:
``.venv/bin/pip install bt``; it is not a project dependency).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _machine import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.marketdata import find_data_dir, load_closes  # noqa: E402
from freqtrade_smartfolio.portfolio.engine import (  # noqa: E402
    ExchangeRules,
    as_market,
    load_market,
    simulate,
    sweep,
)
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule  # noqa: E402
from freqtrade_smartfolio.portfolio.targets import Targets  # noqa: E402

COINS_10 = ["BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "TRX", "UNI"]
WEIGHTS_10 = [0.2, 0.15, 0.1, 0.1, 0.1, 0.1, 0.05, 0.1, 0.05, 0.05]
COINS_20 = [*COINS_10, "BNB", "AAVE", "ARB", "OP", "FET", "LDO", "MKR", "SHIB", "ATOM", "NEAR"]
START, END = "2024-01-01", "2024-09-06"  # the window the broad set of coins shares
FEE = 0.001
MIN_NOTIONAL = 5.0


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def exchange_rules(coins: list[str], datadir: Path) -> tuple[list[CoinRules], list[ExchangeRules]]:
    """Lot sizes and ticks of the offline exchange (minimum order 5 USDT x freqtrade's reserve)."""
    from freqtrade_smartfolio.exchange.markets import market_rules

    rules = [market_rules(c, datadir, timeframe=None) for c in coins]
    min_order = MIN_NOTIONAL * 1.05 / 0.9
    return (
        [CoinRules(min_order=min_order, step=r.step_size) for r in rules],
        [ExchangeRules(tick=r.tick_size, min_cost=MIN_NOTIONAL, min_amount=r.step_size) for r in rules],
    )


def bench_vs_bt(datadir: Path, threshold: float) -> None:
    import bt

    closes = load_closes(COINS_10, "1h", START, END, datadir)
    bars, coins = closes.shape
    targets = Targets(tuple(COINS_10), tuple(WEIGHTS_10))
    print(f"## 10 coins, 1h, {closes.index[0]:%Y-%m-%d} to {closes.index[-1]:%Y-%m-%d}: {bars} bars")
    print(f"relative band {threshold:.0%}, fee {FEE:.1%}, clean mode vs bt (integer_positions=False)\n")

    def run_bt() -> Any:
        algos = [
            bt.algos.SelectAll(),
            bt.algos.WeighSpecified(**dict(zip(COINS_10, WEIGHTS_10, strict=True))),
            bt.algos.Or([bt.algos.RunOnce(), bt.algos.RunIfOutOfBounds(threshold)]),
            bt.algos.Rebalance(),
        ]
        test = bt.Backtest(
            bt.Strategy("rebalance", algos),
            closes,
            initial_capital=1000.0,
            commissions=lambda q, p: abs(q) * p * FEE,
            integer_positions=False,
            progress_bar=False,
        )
        bt.run(test)
        return test.strategy.values.loc[closes.index]

    rule = RebalanceRule(threshold=threshold, relative=True)
    market = as_market({"close": closes})
    t_bt, bt_values = best_of(run_bt, 2)
    t_clean, clean = best_of(
        lambda: simulate(market, targets, rule, fee=FEE, mode="clean", bt_quantities=True), 20
    )
    t_exact, exact = best_of(lambda: simulate(market, targets, rule, fee=FEE, mode="clean"), 20)
    asset_bars = bars * coins
    print("| run | seconds | asset-bars/s | vs bt | max rel. diff to bt per bar | rebalances |")
    print("|---|---|---|---|---|---|")
    print(f"| bt 1.4.1 | {t_bt:.3f} | {asset_bars / t_bt:,.0f} | 1x | - | - |")
    for name, t, res in (
        ("engine clean, bt_quantities=True", t_clean, clean),
        ("engine clean, exact quantities", t_exact, exact),
    ):
        diff = float(((res.equity - bt_values).abs() / bt_values).max())
        print(
            f"| {name} | {t:.4f} | {asset_bars / t:,.0f} | {t_bt / t:,.0f}x | {diff:.1e} | "
            f"{res.summary['rebalances']} |"
        )
    # the strategy's own rules (lots, minimum orders, deferred buys), same portfolio; an absolute
    # band, since plan.py's relative band with no cash target plans on every candle (docs/engine.md)
    full = load_market(COINS_10, "1h", START, END, datadir)
    coin_rules, ex = exchange_rules(COINS_10, datadir)
    t_ft, res = best_of(
        lambda: simulate(
            full,
            targets,
            RebalanceRule(threshold=0.01),
            coin_rules,
            FEE,
            1000.0,
            exchange=ex,
        ),
        20,
    )
    print(
        f"| engine freqtrade mode (lots, min. orders, 1% abs. band) | {t_ft:.4f} | "
        f"{asset_bars / t_ft:,.0f} | "
        f"{t_bt / t_ft:,.0f}x | (different model) | {res.summary['rebalances']} |\n"
    )


def bench_sweep(datadir: Path) -> None:
    started = time.perf_counter()
    market = load_market(COINS_20, "1h", START, END, datadir)
    load_seconds = time.perf_counter() - started
    bars, coins = market.close.shape
    targets = Targets(tuple(COINS_20), tuple([1 / 20] * 20))
    coin_rules, ex = exchange_rules(COINS_20, datadir)
    thresholds = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10]
    intervals: list[int | None] = [None, 360, 720, 1440, 2880, 4320, 10080, 20160, 40320, 80640]
    print(
        f"## sweep: {len(thresholds)} thresholds x {len(intervals)} intervals = "
        f"{len(thresholds) * len(intervals)} parameter sets, freqtrade mode"
    )
    print(
        f"{coins} coins x {bars} 1h bars ({market.index[0]:%Y-%m-%d} to {market.index[-1]:%Y-%m-%d}, "
        f"{bars / 8760:.2f} years; loading and preparing the candles took {load_seconds:.2f} s)\n"
    )
    print("| processes | seconds | seconds per year of data | parameter sets/s | rebalances (all sets) |")
    print("|---|---|---|---|---|")
    for jobs in (1, 2):
        started = time.perf_counter()
        table = sweep(
            market,
            targets,
            thresholds,
            intervals,
            rules=coin_rules,
            fee=FEE,
            investment=10_000.0,
            exchange=ex,
            n_jobs=jobs,
        )
        seconds = time.perf_counter() - started
        print(
            f"| {jobs} | {seconds:.2f} | {seconds * 8760 / bars:.2f} | {len(table) / seconds:.1f} | "
            f"{int(table['rebalances'].sum())} |"
        )
    best = table.sort_values("sharpe", ascending=False).head(5)
    print("\nbest five by Sharpe:\n")
    print(
        best[
            [
                "threshold",
                "interval_minutes",
                "final_value",
                "cagr",
                "sharpe",
                "max_drawdown",
                "rebalances",
                "fees",
                "turnover",
            ]
        ].to_markdown(index=False, floatfmt=".4g")
    )


def main() -> None:
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    print(f"machine: {machine()}\n")
    for threshold in (0.05, 0.10):
        bench_vs_bt(datadir, threshold)
    bench_sweep(datadir)


if __name__ == "__main__":
    main()
