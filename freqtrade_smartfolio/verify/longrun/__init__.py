"""A dry-run bot on the offline exchange over a long replay of real 5m candles, its loop time, CPU per loop,
memory and orders sampled while the trades gather orders (docs/reliability.md, "Long run").
``benchmarks/long_run.py`` is the command line (and the plots); tests/test_long_run.py the CI variant."""

from freqtrade_smartfolio.verify.longrun.model import (
    COINS,
    START,
    LongRunResult,
    LongRunSettings,
    Loop,
    Sample,
)
from freqtrade_smartfolio.verify.longrun.output import (
    format_comparison,
    format_summary,
    load_raw,
    machine_info,
    save_raw,
    write_csvs,
)
from freqtrade_smartfolio.verify.longrun.run import run_long
from freqtrade_smartfolio.verify.longrun.seed import seed_database

__all__ = [
    "COINS",
    "START",
    "LongRunResult",
    "LongRunSettings",
    "Loop",
    "Sample",
    "format_comparison",
    "format_summary",
    "load_raw",
    "machine_info",
    "run_long",
    "save_raw",
    "seed_database",
    "write_csvs",
]
