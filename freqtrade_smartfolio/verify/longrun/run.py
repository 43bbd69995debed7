"""A long run: the offline exchange replaying real 5m candles and a dry-run bot against it, sampled until
the simulated days have passed (:func:`run_long`)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.live.dryrun import DryRunBot
from freqtrade_smartfolio.live.records import group_rebalances, orders_from_db
from freqtrade_smartfolio.marketdata import find_data_dir
from freqtrade_smartfolio.verify.longrun.model import DAY_MS, LongRunResult, LongRunSettings, Loop, Sample
from freqtrade_smartfolio.verify.longrun.probes import (
    PLAN,
    REPO,
    LoopReader,
    bot_config,
    code_version,
    count_compactions,
    count_held,
    count_in_logs,
    count_orders,
    cpu_seconds,
    rss_mb,
)


class ProfiledBot(DryRunBot):
    """The same bot under cProfile (``python -m cProfile -o freqtrade.prof -m freqtrade ...``): the profile is
    written when freqtrade exits. Loops are slower under the profiler; use it to see where time goes."""

    def command(self) -> list[str]:
        command = super().command()
        assert command[1:3] == ["-m", "freqtrade"]
        return [command[0], "-m", "cProfile", "-o", str(self.workdir / "freqtrade.prof"), *command[1:]]


def run_long(
    settings: LongRunSettings,
    workdir: Path,
    datadir: Path | None = None,
    progress: bool = False,
    profile: bool = False,
) -> LongRunResult:
    """Start the offline exchange and a dry-run bot, sample until ``settings.days`` of data have passed
    since the bot's first loop, stop both and collect the result."""
    workdir.mkdir(parents=True, exist_ok=True)
    if datadir is None:
        datadir = find_data_dir([f"{c}_USDT-5m.feather" for c in settings.coins])
    clock = Clock(replay_from_ms=parse_time(settings.start), speed=settings.speed)
    db_path = workdir / "tradesv3.sqlite"
    if not settings.reuse_db:
        for old in workdir.glob("tradesv3.sqlite*"):
            old.unlink()
    seeded = 0
    if settings.seed_orders and not settings.reuse_db:
        # freqtrade's persistence is global: seed in a fresh interpreter
        script = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from freqtrade_smartfolio.verify.longrun.model import LongRunSettings; "
            "from freqtrade_smartfolio.verify.longrun.seed import seed_database; "
            "s = json.loads(sys.argv[2]); s['coins'] = tuple(s['coins']); "
            "print(seed_database(sys.argv[3], LongRunSettings(**s), Path(sys.argv[4])))"
        )
        seeding = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(REPO),
                json.dumps(asdict(settings)),
                f"sqlite:///{db_path}",
                str(datadir),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        seeded = int(seeding.stdout.strip().splitlines()[-1])
    loops_log = workdir / "loops.log"
    loops_log.unlink(missing_ok=True)
    reader = LoopReader(loops_log, clock)
    samples: list[Sample] = []
    loops: list[Loop] = []
    started = time.time()
    version = code_version()
    with OfflineExchange(datadir, clock=clock) as exchange:
        bot = (ProfiledBot if profile else DryRunBot)(bot_config(settings, exchange.url, loops_log), workdir)
        try:
            bot.start(timeout=120)
            assert bot.process is not None
            first = bot.wait_for("freqtrade's first loop", lambda: reader.read() or None, 120, 0.2)
            loops.extend(first)
            first_wall = first[0].wall
            end_ms = first[0].sim_ms + settings.days * DAY_MS
            last_print = 0.0
            while True:
                time.sleep(settings.sample_secs)
                if not bot.running:
                    raise RuntimeError(f"freqtrade exited early; its log ends with:\n{bot.log_tail()}")
                new = reader.read()
                loops.extend(new)
                orders, trades, held = count_held(bot.db_path)
                if orders < 0 and samples:
                    orders, trades, held = samples[-1].orders, samples[-1].trades, samples[-1].held
                now = time.time()
                pid = bot.process.pid
                sample = Sample(
                    now, clock.to_data(1000 * now), rss_mb(pid), cpu_seconds(pid), orders, trades, new, held
                )
                samples.append(sample)
                if progress and now - last_print >= 60:
                    last_print = now
                    done = (sample.sim_ms - first[0].sim_ms) / DAY_MS
                    recent = [x.seconds for x in loops[-60:]]
                    print(
                        f"  {done:5.1f}/{settings.days:g} days  {now - started:6.0f}s  "
                        f"rss {sample.rss_mb:6.1f} MB  orders {orders:5d} (open trades {held:5d})  "
                        f"loop median {1000 * statistics.median(recent):6.1f} ms",
                        flush=True,
                    )
                if sample.sim_ms >= end_ms:
                    break
        finally:
            exit_code = bot.stop()
    loops.extend(reader.read())
    try:
        records = orders_from_db(bot.db_path)
        records = group_rebalances(records[records["time"].map(lambda t: t.timestamp()) >= started])
        rebalances = int(records["rebalance"].nunique())
    except Exception:  # report what can be read
        rebalances = -1
    orders, _ = count_orders(bot.db_path)
    return LongRunResult(
        settings=settings,
        workdir=workdir,
        samples=samples,
        loops=loops,
        plans=count_in_logs(workdir, PLAN.pattern),
        rebalances=rebalances,
        orders=orders,
        seeded=seeded,
        compactions=count_compactions(bot.db_path),
        code=version,
        tracebacks=count_in_logs(workdir, r"Traceback"),
        errors=count_in_logs(workdir, r" - ERROR - "),
        wall_seconds=time.time() - started,
        first_loop_wall=first_wall,
        exit_code=exit_code,
    )
