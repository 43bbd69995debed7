"""Long run, CI variant: two simulated days of real 5m candles on 10 coins (proportional, 0.5 pp band) through
``freqtrade trade --dry-run`` on the offline exchange, about two minutes of wall time. Loop time, CPU per loop
and memory must stay flat while the trades gather orders. The full month is ``benchmarks/long_run.py``
(docs/reliability.md, "Long run"); this test runs the same code (freqtrade_smartfolio/verify/longrun/).

Pace: freqtrade's timeframe is 1m (its minimum) and the replay speed 1440, so each served 1m candle is one
data day (288 real 5m candles) and the strategy checks once per wall minute; freqtrade loops every second.
On 2024-03-04 and -05 the coins' weights drifted about 1.4 points apart in a day (the band is 0.5), so
the checks after the initial allocation rebalance.

The seeded variant (about a minute) starts the same bot on trades already holding 600 orders of history
with ``compact_after_orders: 20``: its first loop compacts every coin's trade, the open trades then hold
a few orders, and the run stays flat. The full comparison (0, 10,000 and 50,000 orders of history) is
``benchmarks/long_run.py --seed-orders N`` (docs/reliability.md, "Years of orders: compaction").
"""

from __future__ import annotations

import pytest

from freqtrade_smartfolio.verify import longrun as long_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "UNI", "AAVE")


def _long_run(require_data, tmp_path_factory, name: str, **fields):
    """A long run of the 10 coins from 2024-03-04 at a data day per wall minute, 0.5 pp band."""
    datadir = require_data([f"{coin}_USDT-5m.feather" for coin in COINS])
    settings = long_run.LongRunSettings(
        coins=COINS, speed=1440, start="2024-03-04T00:00", threshold=0.5, sample_secs=2, **fields
    )
    result = long_run.run_long(settings, tmp_path_factory.mktemp(name), datadir=datadir)
    print(long_run.format_summary(result, long_run.machine_info()))
    return result


@pytest.fixture(scope="module")
def run(require_data, tmp_path_factory):
    return _long_run(require_data, tmp_path_factory, "long_run", days=2)


def test_the_bot_ran_cleanly_and_rebalanced(run):
    assert run.exit_code in (0, 130), f"freqtrade did not stop cleanly (exit code {run.exit_code})"
    assert run.tracebacks == 0, f"Traceback in freqtrade's log, see {run.workdir}"
    assert run.simulated_days >= 2
    assert run.plans >= 2, "no rebalance after the initial allocation"  # initial + at least one threshold
    assert run.orders > len(COINS)
    assert run.rebalances >= 2
    assert len(run.loops) >= 90  # about one loop a second for two minutes


def test_loop_time_stays_flat(run):
    first, last = run.loop_median(0), run.loop_median(3)
    assert last <= 2 * first, f"median loop time grew from {first * 1000:.1f} to {last * 1000:.1f} ms"
    first, last = run.cpu_median(0), run.cpu_median(3)
    assert last <= 2 * first + 0.01, f"CPU per loop grew from {first * 1000:.1f} to {last * 1000:.1f} ms"


def test_memory_stays_flat(run):
    growth = run.rss_median(3) - run.rss_median(0)
    assert growth <= 25, f"freqtrade's RSS grew by {growth:.1f} MiB in two simulated days"


@pytest.fixture(scope="module")
def seeded(require_data, tmp_path_factory):
    return _long_run(
        require_data, tmp_path_factory, "long_run_seeded", days=0.5, seed_orders=600, compact_after_orders=20
    )


def test_seeded_history_is_compacted_on_the_first_loop_and_stays_small(seeded):
    assert seeded.exit_code in (0, 130), f"freqtrade did not stop cleanly (exit code {seeded.exit_code})"
    assert seeded.tracebacks == 0, f"Traceback in freqtrade's log, see {seeded.workdir}"
    assert seeded.seeded == 600
    assert seeded.compactions >= len(COINS), "every coin's trade holds 60 orders: each is compacted"
    held = [s.held for s in seeded.samples if s.held >= 0]
    assert held, "no sample read the database"
    # after the first loop the open trades hold a compacted order each and what the run added
    assert max(held) <= len(COINS) * 20, f"open trades hold {max(held)} orders after compaction"
    assert seeded.orders >= 600 + 2 * len(COINS)  # the history stays in the database, closed


def test_seeded_run_stays_flat(seeded):
    first, last = seeded.loop_median(0), seeded.loop_median(3)
    assert last <= 2 * first, f"median loop time grew from {first * 1000:.1f} to {last * 1000:.1f} ms"
    growth = seeded.rss_median(3) - seeded.rss_median(0)
    assert growth <= 25, f"freqtrade's RSS grew by {growth:.1f} MiB"
