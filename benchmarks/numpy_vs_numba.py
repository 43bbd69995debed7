"""One measurement behind the choice of the engine's kernel (docs/engine.md, "Why numba"): clean mode
as the numpy kernel ran it (kernel.py at ed4a092: a vectorised trigger scan over blocks of bars, the
rebalance in Python; read from the git history) against the compiled kernel that replaced it, the
kernel alone (prepared arrays in, no pandas result), on bench_engine.py's cases. Both give the same
bits (tests/test_engine_compiled.py); this prints how long each takes.

    .venv/bin/python benchmarks/numpy_vs_numba.py     # needs the git history (ed4a092)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
from _machine import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_engine import CASES, WEEK_MINUTES, ohlc_frames, versions  # noqa: E402

from freqtrade_smartfolio.marketdata import find_data_dir  # noqa: E402
from freqtrade_smartfolio.portfolio.engine import as_market  # noqa: E402
from freqtrade_smartfolio.portfolio.engine.kernel import Kernel  # noqa: E402
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


def median_time(fn, repeats: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    print(f"machine: {machine()}")
    print(f"libraries: {versions()}")
    print("kernel only (record=False), bt quantities; one warm-up, median of 5\n")
    print("| case | numpy kernel s | compiled kernel s | numpy / compiled | same final value |")
    print("|---|---|---|---|---|")
    old = numpy_kernel()
    datadir = find_data_dir(["BTC_USDT-1h.feather"])
    for case in CASES:
        market = as_market({"close": ohlc_frames(case.coins, case.start, case.end, datadir)["close"]})
        n = len(case.coins)
        targets = Targets(tuple(case.coins), tuple(np.full(n, 1 / n).tolist()))
        rule = RebalanceRule(case.band, True, WEEK_MINUTES if case.weekly else None)
        settings = Settings.resolve(market, targets, rule, None, 0.001, 1000.0, None, "clean", True)
        slow, a = median_time(lambda: old(market, settings, False).run_clean())  # noqa: B023
        fast, b = median_time(lambda: Kernel(market, settings, False).run_clean())  # noqa: B023
        same = a.final_value == b.final_value  # type: ignore[attr-defined]
        print(f"| {case.name} | {slow:.4f} | {fast:.4f} | {slow / fast:.0f}x | {same} |")


if __name__ == "__main__":
    main()
