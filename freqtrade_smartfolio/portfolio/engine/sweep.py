"""Many parameter sets on one market: :func:`sweep`, through joblib.

The prices are prepared once; the parameter sets are cut into a few chunks, one task each, so a
worker receives the market once per chunk (joblib memory-maps the large arrays for local processes).
``n_jobs`` and ``backend`` are joblib's: local processes by default, or a Dask/Ray cluster with
``joblib.parallel_config(backend="dask")`` (docs/engine.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.engine.api import _holdings_frame, run_settings
from freqtrade_smartfolio.portfolio.engine.market import Market, PriceInput, as_market
from freqtrade_smartfolio.portfolio.engine.rules import ExchangeRules, Mode, prepare_prices
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets

CHUNKS_PER_JOB = 4  # a few tasks per worker even out parameter sets of unequal cost


def _summary(market: Market, settings: Settings, prepared: Mapping[str, np.ndarray]) -> dict[str, Any]:
    out = run_settings(market, settings, record=False, prepared=prepared)
    amounts, cash = _holdings_frame(market, out, settings.investment)
    equity = cash + (amounts * market.close).sum(axis=1)
    if settings.mode == "freqtrade":
        equity[-1] = out.final_value
    summary = stats.summarize(
        pd.Series(equity, index=market.index),
        fees=out.fees,
        rebalances=out.rebalances,
        traded_value=out.traded_value,
    )
    summary["final_value"] = out.final_value
    return summary


def _chunk(
    market: Market, base: Settings, prepared: Mapping[str, np.ndarray], rules: Sequence[RebalanceRule]
) -> list[dict[str, Any]]:
    return [_summary(market, base.with_rule(rule), prepared) for rule in rules]


def sweep(
    prices: PriceInput,
    targets: Targets,
    thresholds: Iterable[float | None] = (None,),
    intervals: Iterable[int | None] = (None,),
    *,
    relative: bool = False,
    rules: Sequence[CoinRules] | None = None,
    fee: float = 0.001,
    investment: float = 1000.0,
    exchange: Sequence[ExchangeRules] | None = None,
    mode: Mode = "freqtrade",
    n_jobs: int = 1,
    backend: str | None = None,
) -> pd.DataFrame:
    """Evaluate every (threshold, interval-in-minutes) pair; one row of statistics per pair, in the
    order of the pairs. Pairs where both are None are skipped.

    ``n_jobs`` (joblib's: -1 = every core) spreads the pairs over workers; ``backend`` (joblib's:
    ``"loky"`` processes by default, ``"dask"`` or ``"ray"`` once registered) picks where they run.
    The results do not depend on either.
    """
    market = as_market(prices, targets.coins)
    params = [(t, i) for t in thresholds for i in intervals if t is not None or i is not None]
    rule_list = [RebalanceRule(threshold=t, relative=relative, interval_minutes=i) for t, i in params]
    first = rule_list[0] if rule_list else RebalanceRule(threshold=0.5)
    base = Settings.resolve(market, targets, first, rules, fee, investment, exchange, mode)
    prepared = prepare_prices(market, base.exchange, mode)
    if n_jobs == 1 or len(rule_list) <= 1:
        rows = _chunk(market, base, prepared, rule_list)
    else:
        parallel = Parallel(n_jobs=n_jobs, backend=backend)
        workers = effective_n_jobs(n_jobs)
        count = min(len(rule_list), workers * CHUNKS_PER_JOB)
        chunks = [rule_list[k::count] for k in range(count)]
        parts = parallel(delayed(_chunk)(market, base, prepared, chunk) for chunk in chunks)
        by_rule: dict[int, dict[str, Any]] = {}
        for k, part in enumerate(parts):
            for j, row in enumerate(part):
                by_rule[k + j * count] = row
        rows = [by_rule[k] for k in range(len(rule_list))]
    frame = pd.DataFrame(rows)
    frame.insert(0, "interval_minutes", [i for _, i in params])
    frame.insert(0, "threshold", [t for t, _ in params])
    return frame
