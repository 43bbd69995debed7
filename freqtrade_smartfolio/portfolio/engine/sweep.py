"""Many parameter sets on one market: :func:`sweep`.

The prices are prepared once. By default every parameter set runs in one compiled loop (numba
``prange`` over the sets, ``n_jobs`` threads sharing the market in memory): clean mode always,
freqtrade mode where its compiled loop applies (:mod:`.compiled_freqtrade_sweep`). Otherwise, or with
a ``backend``, the sets are cut into a few chunks for joblib, one task each, so a worker receives the
market once per chunk (joblib memory-maps the large arrays for local processes): local processes,
or a Dask/Ray cluster with ``joblib.parallel_config(backend="dask")`` (docs/engine.md). The rows are
the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.engine import compiled, compiled_freqtrade_sweep, fills
from freqtrade_smartfolio.portfolio.engine.api import _holdings_frame, run_settings
from freqtrade_smartfolio.portfolio.engine.market import Market, PriceInput, as_market
from freqtrade_smartfolio.portfolio.engine.rules import ExchangeRules, Mode, prepare_prices
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets

CHUNKS_PER_JOB = 4  # a few tasks per worker even out parameter sets of unequal cost
CLEAN_CHUNK = 256  # compiled sweeps: equity curves held in memory at once


def _summary(market: Market, settings: Settings, prepared: Mapping[str, np.ndarray]) -> dict[str, Any]:
    out = run_settings(market, settings, record=False, prepared=prepared)
    amounts, cash = _holdings_frame(market, out, settings.investment)
    equity = cash + (amounts * market.close).sum(axis=1)
    if settings.mode == "freqtrade":
        equity[-1] = out.final_value
    summary = stats.summarize_values(
        equity,
        market.dates,
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
    rows: list[dict[str, Any]] | None = None
    if backend is None and rule_list:  # the compiled loops, in numba's threads
        if mode == "clean":
            rows = _clean_sweep(market, base, rule_list, n_jobs)
        else:
            rows = _freqtrade_sweep(market, base, rule_list, n_jobs)
    if rows is None:
        rows = _joblib_sweep(market, base, rule_list, n_jobs, backend)
    frame = pd.DataFrame(rows)
    frame.insert(0, "interval_minutes", [i for _, i in params])
    frame.insert(0, "threshold", [t for t, _ in params])
    return frame


def _joblib_sweep(
    market: Market, base: Settings, rule_list: list[RebalanceRule], n_jobs: int, backend: str | None
) -> list[dict[str, Any]]:
    prepared = prepare_prices(market, base.exchange, base.mode)
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
    return rows


def _clean_sweep(
    market: Market, base: Settings, rule_list: list[RebalanceRule], n_jobs: int
) -> list[dict[str, Any]]:
    """Clean mode: every point through one compiled loop (numba ``prange`` over the points, ``n_jobs``
    threads), the market shared in memory; the same figures as one :func:`simulate` per point."""
    close = np.ascontiguousarray(market.close, dtype=np.float64)
    dates = np.ascontiguousarray(market.dates, dtype=np.int64)
    goal = np.append(base.targets.array, base.targets.cash)
    thresholds = np.array([math.nan if r.threshold is None else r.threshold for r in rule_list])
    intervals = np.array([compiled.schedule_ns(r.interval_minutes) for r in rule_list], dtype=np.int64)
    rows: list[dict[str, Any]] = []
    with _threads(n_jobs):
        for lo in range(0, len(rule_list), CLEAN_CHUNK):  # bounded memory: CLEAN_CHUNK curves at a time
            hi = min(lo + CLEAN_CHUNK, len(rule_list))
            curves, fees, traded, rebalances, held, cash = compiled.clean_sweep(
                close,
                dates,
                goal,
                thresholds[lo:hi],
                intervals[lo:hi],
                bool(rule_list[0].relative),
                base.targets.cash > 0,
                base.fee,
                base.investment,
            )
            for k in range(hi - lo):
                gross = float(np.dot(held[k], close[-1]))  # Kernel.run_clean's final sale, same arithmetic
                summary = stats.summarize_values(
                    curves[k],
                    market.dates,
                    fees=float(fees[k]) + gross * base.fee,
                    rebalances=int(rebalances[k]),
                    traded_value=float(traded[k]),
                )
                summary["final_value"] = float(cash[k]) + gross * (1 - base.fee)
                rows.append(summary)
    return rows


def _freqtrade_sweep(
    market: Market, base: Settings, rule_list: list[RebalanceRule], n_jobs: int
) -> list[dict[str, Any]] | None:
    """freqtrade mode: every point through :func:`compiled_freqtrade.freqtrade_sweep` (numba
    ``prange``, ``n_jobs`` threads), the market prepared once; None where the compiled loop does not
    apply (:meth:`fills.FreqtradeKernel._compiled_inputs`). A point whose rounding the kernel could
    not decide runs through the Python loop. The rows are :func:`_summary`'s, bit for bit."""
    if not fills.COMPILED:
        return None
    prepared = prepare_prices(market, base.exchange, base.mode)
    inputs = fills.FreqtradeKernel(market, base, False, prepared)._compiled_inputs()
    if inputs is None:
        return None
    for name in ("width", "banded", "interval_ns"):  # per point
        inputs.pop(name)
    thresholds = np.array([math.nan if r.threshold is None else r.threshold for r in rule_list])
    intervals = np.array([compiled.schedule_ns(r.interval_minutes) for r in rule_list], dtype=np.int64)
    mark = np.ascontiguousarray(market.close, dtype=np.float64)
    rows: list[dict[str, Any]] = []
    with _threads(n_jobs):
        for lo in range(0, len(rule_list), CLEAN_CHUNK):  # bounded memory: CLEAN_CHUNK curves at a time
            hi = min(lo + CLEAN_CHUNK, len(rule_list))
            curves, totals = compiled_freqtrade_sweep.freqtrade_sweep(
                **inputs,
                thresholds=thresholds[lo:hi],
                relative=bool(rule_list[0].relative),
                intervals_ns=intervals[lo:hi],
                mark=mark,
            )
            for k in range(hi - lo):
                status, fees, traded, rebalances, final = totals[k].tolist()
                if status != 0:
                    rows.append(_summary(market, base.with_rule(rule_list[lo + k]), prepared))
                    continue
                summary = stats.summarize_values(
                    curves[k],
                    market.dates,
                    fees=fees,
                    rebalances=int(rebalances),
                    traded_value=traded,
                )
                summary["final_value"] = final
                rows.append(summary)
    return rows


@contextmanager
def _threads(n_jobs: int) -> Iterator[None]:
    """numba's thread count for one sweep: joblib's reading of ``n_jobs``, at most numba's maximum."""
    threads = max(1, min(effective_n_jobs(n_jobs), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
