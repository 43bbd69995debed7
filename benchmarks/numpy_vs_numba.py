"""One measurement behind the choice of the engine's kernel (docs/engine.md, "Why numba"), the kernels
alone (prepared arrays in, no pandas result), on bench_engine.py's cases: clean mode as the numpy
kernel ran it (kernel.py at ed4a092: a vectorised trigger scan over blocks of bars, the rebalance in
Python; read from the git history) against the compiled kernel that replaced it and against
bench_engine.py's numba reference loop; freqtrade mode's Python loop against its compiled loop (the
OHLC market, the offline exchange's lots and minimums; prices prepared outside the timer). Each pair
gives the same bits (tests/test_engine_compiled.py); this prints how long each takes.

    .venv/bin/python benchmarks/numpy_vs_numba.py     # needs the git history (ed4a092)
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_engine import (  # noqa: E402
    CASES,
    FEE,
    INVESTMENT,
    WEEK_MINUTES,
    Case,
    compiled_reference,
    exchange_rules,
    ohlc_frames,
    versions,
)

from freqtrade_smartfolio.marketdata import find_data_dir  # noqa: E402
from freqtrade_smartfolio.portfolio.engine import as_market, fills  # noqa: E402
from freqtrade_smartfolio.portfolio.engine.kernel import Kernel  # noqa: E402
from freqtrade_smartfolio.portfolio.engine.rules import prepare_prices  # noqa: E402
from freqtrade_smartfolio.portfolio.engine.settings import Settings  # noqa: E402
from freqtrade_smartfolio.portfolio.plan import RebalanceRule  # noqa: E402
from freqtrade_smartfolio.portfolio.targets import Targets  # noqa: E402

NUMPY_KERNEL = "ed4a092"  # the last commit with the numpy clean mode


def numpy_kernel() -> type:
    source = subprocess.run(
        ["git", "show", f"{NUMPY_KERNEL}:freqtrade_smartfolio/portfolio/engine/kernel.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("numpy_kernel")
    sys.modules["numpy_kernel"] = module  # dataclasses look their module up
    exec(compile(source, "numpy_kernel.py", "exec"), module.__dict__)
    return module.Kernel  # type: ignore[no-any-return]


def median_time(fn: Callable[[], Any], repeats: int = 5) -> tuple[float, Any]:
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(case: Case, old: type, reference: Callable[..., Any] | None, datadir: Path) -> str:
    frames = ohlc_frames(case.coins, case.start, case.end, datadir)
    market = as_market({"close": frames["close"]})
    n = len(case.coins)
    weights = np.full(n, 1 / n)
    targets = Targets(tuple(case.coins), tuple(weights.tolist()))
    rule = RebalanceRule(case.band, True, WEEK_MINUTES if case.weekly else None)
    settings = Settings.resolve(market, targets, rule, None, FEE, INVESTMENT, None, "clean", True)
    slow, a = median_time(lambda: old(market, settings, False).run_clean())
    fast, b = median_time(lambda: Kernel(market, settings, False).run_clean())
    same = a.final_value == b.final_value  # type: ignore[attr-defined]
    closes = frames["close"]
    loop = (
        median_time(lambda: reference(closes, weights, case.band, case.weekly))[0] if reference else math.nan
    )
    ohlc = as_market(frames)
    coin_rules, exchange = exchange_rules(case.coins, datadir)
    ft = Settings.resolve(ohlc, targets, rule, coin_rules, FEE, INVESTMENT, exchange, "freqtrade")
    prepared = prepare_prices(ohlc, ft.exchange, "freqtrade")

    def freqtrade(compiled: bool) -> Any:
        fills.COMPILED = compiled
        try:
            return fills.FreqtradeKernel(ohlc, ft, False, prepared).run_freqtrade()
        finally:
            fills.COMPILED = True

    python_s, c = median_time(lambda: freqtrade(False))
    compiled_s, d = median_time(lambda: freqtrade(True))
    same_ft = c.final_value == d.final_value
    return (
        f"| {case.name} | {slow:.4f} | {fast:.4f} | {slow / fast:.0f}x | {same} | {loop:.4f} "
        f"| {fast / loop:.1f}x | {python_s:.4f} | {compiled_s:.4f} | {python_s / compiled_s:.0f}x "
        f"| {compiled_s / loop:.1f}x | {same_ft} |"
    )


def main() -> None:
    print(f"machine: {machine()}")
    print(f"libraries: {versions()}")
    print("kernels alone (prepared arrays in, record=False); one warm-up, median of 5\n")
    print(
        "| case | clean: numpy kernel s | clean: compiled kernel s | numpy / compiled | same value "
        "| numba loop s | compiled clean / loop | freqtrade mode: Python loop s | compiled s "
        "| Python / compiled | compiled / loop | same value |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    old = numpy_kernel()
    reference = compiled_reference()
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    for case in CASES:
        print(measure(case, old, reference, datadir))


if __name__ == "__main__":
    main()
