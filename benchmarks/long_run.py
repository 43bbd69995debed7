"""Long run: ``freqtrade trade --dry-run`` with SmartPortfolio on the offline exchange for a simulated month
of real 5m candles, sampling the bot's memory, its loop time and the orders it has gathered
(docs/reliability.md, "Long run"; tests/test_long_run.py is the two-minute CI variant).

    .venv/bin/python benchmarks/long_run.py --days 30 --speed 1440 --out run/long_run_month   # ~31 min
    .venv/bin/python benchmarks/long_run.py --days 6 --seed-orders 10000 --out run/seed10k   # trades hold 10k
    .venv/bin/python benchmarks/long_run.py --compare run/*/raw.json --png runs.png          # against orders

Pace. freqtrade refreshes candles and the strategy plans once per closed candle of freqtrade's timeframe on
the *wall clock*, and freqtrade accepts no timeframe below 1m (nor a fractional ``process_throttle_secs``).
So the bot runs on 1m candles and the replay clock compresses the data: at ``--speed 1440`` every served 1m
candle aggregates one data day (288 real 5m candles), the strategy checks the portfolio once per wall minute
(once per data day) and freqtrade loops about once a second (``process_throttle_secs`` 1), each loop seeing
24 data minutes (~5 real 5m candles) of price movement; fills come at the replayed 5m prices.

Measures, without touching freqtrade's code:

* loop time: freqtrade's worker logs ``====`` when an iteration starts and ``Throttling ... last iteration
  took`` when it ends (debug level). The config's ``log_config`` sends only the ``freqtrade.worker`` logger's
  debug lines to ``loops.log`` with ``%(created)f`` stamps; a loop's time is the gap between the two lines
  (its ``process()`` call: candles, strategy, orders, database), to the microsecond.
* CPU per loop: user + system time of the process (``/proc/<pid>/stat``) per sample, over the loops in it
  (an idle loop mostly waits for ccxt's rate limiter, so CPU shows freqtrade's own work better).
* memory: ``VmRSS`` of the freqtrade process from ``/proc/<pid>/status``, every ``--sample-secs``.
* orders: ``SELECT COUNT(*) FROM orders`` on freqtrade's sqlite database (read-only), every sample.

``--seed-orders N`` starts the bot on trades that already hold N closed orders (:func:`seed_database`);
``--profile`` runs freqtrade under cProfile (``bot/freqtrade.prof``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.verify.longrun import (  # noqa: E402
    COINS,
    START,
    LongRunResult,
    LongRunSettings,
    format_comparison,
    format_summary,
    load_raw,
    machine_info,
    run_long,
    save_raw,
    write_csvs,
)
from freqtrade_smartfolio.verify.longrun.model import DAY_MS  # noqa: E402


def plot(result: LongRunResult, path: Path) -> Path:
    """RSS, loop time and CPU per loop against simulated time and against the orders gathered (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start_ms = result.loops[0].sim_ms
    samples = [s for s in result.samples if s.rss_mb > 0]

    def days(ms: float) -> float:
        return (ms - start_ms) / DAY_MS

    def orders_at(wall: float) -> int:
        before = [s.orders for s in samples if s.wall <= wall]
        return max(before[-1], 0) if before else 0

    loop_orders = [orders_at(x.wall) for x in result.loops]
    loop_ms = [1000 * x.seconds for x in result.loops]
    # Per served candle: the median loop and the slowest loop (the one that plans and trades).
    by_minute: dict[int, list[int]] = {}
    for k, x in enumerate(result.loops):
        by_minute.setdefault(int(x.wall // 60), []).append(k)
    minute_x = {
        "days": [statistics.median(days(result.loops[k].sim_ms) for k in ks) for ks in by_minute.values()],
        "orders": [max(loop_orders[k] for k in ks) for ks in by_minute.values()],
    }
    minute_median = [statistics.median(loop_ms[k] for k in ks) for ks in by_minute.values()]
    minute_max = [max(loop_ms[k] for k in ks) for ks in by_minute.values()]
    cpu = result.cpu_per_loop()
    rss_max = max((s.rss_mb for s in samples), default=1.0)
    cpu_max = max((1000 * c for _, c in cpu), default=1.0)

    fig, axes = plt.subplots(3, 2, figsize=(13, 11), constrained_layout=True)
    for col, (key, label) in enumerate([("days", "simulated days"), ("orders", "orders in the database")]):
        sample_x = [days(s.sim_ms) if key == "days" else max(s.orders, 0) for s in samples]
        loop_x = [days(x.sim_ms) for x in result.loops] if key == "days" else loop_orders
        cpu_x = [days(s.sim_ms) if key == "days" else max(s.orders, 0) for s, _ in cpu]
        ax = axes[0][col]
        style: dict[str, Any] = {"lw": 1.0} if key == "days" else {"lw": 0, "marker": ".", "ms": 3}
        ax.plot(sample_x, [s.rss_mb for s in samples], color="#2f80ed", **style)
        ax.set_ylabel("freqtrade RSS (MiB)")
        ax.set_ylim(0, rss_max * 1.15)
        ax = axes[1][col]
        ax.scatter(loop_x, loop_ms, s=3, color="#9b9b9b", alpha=0.35, label="every loop")
        ax.plot(minute_x[key], minute_median, color="#2f80ed", label="median loop per served candle", **style)
        ax.plot(
            minute_x[key],
            minute_max,
            color="#eb5757",
            label="slowest loop per candle (plans, trades)",
            **style,
        )
        ax.set_yscale("log")
        ax.set_ylabel("loop time (ms)")
        ax.legend(loc="upper left", fontsize=8)
        ax = axes[2][col]
        ax.plot(cpu_x, [1000 * c for _, c in cpu], color="#27ae60", **style)
        ax.set_ylabel(f"CPU per loop (ms, {result.settings.sample_secs:g} s windows)")
        ax.set_ylim(0, cpu_max * 1.15)
        for ax in axes[:, col]:
            ax.set_xlabel(label)
            ax.grid(alpha=0.3, which="both")
    st = result.settings
    fig.suptitle(
        f"SmartPortfolio dry-run, {len(st.coins)} coins, proportional {st.threshold:g} pp: "
        f"{result.simulated_days:.1f} simulated days of 5m data in {result.wall_seconds / 60:.0f} min, "
        f"{result.orders} orders",
        fontsize=11,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_runs(results: list[LongRunResult], path: Path) -> Path:
    """Several runs (e.g. seeded with 0, 3,000 and 10,000 orders) on one orders axis: median loop time,
    CPU per loop and RSS of each sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for result in results:
        st = result.settings
        label = f"{result.simulated_days:.0f} days, {st.seed_orders:,} orders seeded"
        samples = [s for s in result.samples if s.loops and s.orders >= 0]
        axes[0].plot(
            [s.orders for s in samples],
            [1000 * statistics.median(x.seconds for x in s.loops) for s in samples],
            ".",
            ms=3,
            label=label,
        )
        cpu = result.cpu_per_loop()
        axes[1].plot([s.orders for s, _ in cpu], [1000 * c for _, c in cpu], ".", ms=3, label=label)
        axes[2].plot([s.orders for s in samples], [s.rss_mb for s in samples], ".", ms=3, label=label)
    for ax, ylabel in zip(
        axes, ["median loop time (ms)", "CPU per loop (ms)", "freqtrade RSS (MiB)"], strict=True
    ):
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlabel("orders held by the open trades")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "The same bot with trades that hold more orders (5 s samples; symlog orders axis)", fontsize=11
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_seeded(results: list[LongRunResult], path: Path) -> Path:
    """Runs seeded with different histories (e.g. 0, 10,000 and 50,000 orders) with compaction on, against
    simulated time: median loop time and CPU per loop of each sample, RSS, and the orders the open trades
    hold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), constrained_layout=True)
    for result in results:
        st = result.settings
        label = f"{result.seeded:,} orders of history, compaction after {st.compact_after_orders or 'never'}"
        if st.reuse_db:
            at_start = result.samples[0].orders if result.samples else 0
            label = f"restart on a compacted database of {at_start:,} orders"
        t0 = result.loops[0].sim_ms if result.loops else 0.0

        def days(ms: float, t0: float = t0) -> float:
            return (ms - t0) / DAY_MS

        samples = [s for s in result.samples if s.loops]
        axes[0].plot(
            [days(s.sim_ms) for s in samples],
            [1000 * statistics.median(x.seconds for x in s.loops) for s in samples],
            ".-",
            ms=3,
            lw=0.6,
            label=label,
        )
        cpu = result.cpu_per_loop()
        axes[1].plot([days(s.sim_ms) for s, _ in cpu], [1000 * c for _, c in cpu], ".-", ms=3, lw=0.6)
        rss = [s for s in result.samples if s.rss_mb > 0]
        axes[2].plot([days(s.sim_ms) for s in rss], [s.rss_mb for s in rss], ".-", ms=3, lw=0.6)
        held = [s for s in result.samples if s.held >= 0]
        axes[3].plot([days(s.sim_ms) for s in held], [s.held for s in held], ".-", ms=3, lw=0.6)
    labels = [
        "median loop time (ms)",
        "CPU per loop (ms)",
        "freqtrade RSS (MiB)",
        "orders of the open trades",
    ]
    for ax, ylabel in zip(axes, labels, strict=True):
        ax.set_xlabel("simulated days since the first loop")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    machine = machine_info()
    fig.suptitle(
        "The same dry-run bot on trades seeded with years of orders, compacted on its first loop "
        f"(5 s samples; {machine['nproc']} CPUs {machine['cpu']})",
        fontsize=10,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30.0, help="simulated days after the first loop (30)")
    parser.add_argument("--coins", default=",".join(COINS), help="comma-separated coins with 5m data")
    parser.add_argument(
        "--speed", type=int, default=1440, help="data time per wall time (1440: a day a minute)"
    )
    parser.add_argument("--start", default=START, help=f"first data time, UTC ({START})")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="rebalance band, percentage points (0.5)"
    )
    parser.add_argument("--throttle", type=int, default=1, help="freqtrade's process_throttle_secs (1)")
    parser.add_argument(
        "--seed-orders", type=int, default=0, help="closed orders the trades hold before the start (0)"
    )
    parser.add_argument(
        "--compact",
        type=int,
        default=100,
        help="smartfolio.compact_after_orders (100, the strategy's default; 0: never compact)",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="start on the database a previous run left in OUT/bot (e.g. compacted) instead of a new one",
    )
    parser.add_argument("--sample-secs", type=float, default=5.0, help="seconds between samples (5)")
    parser.add_argument("--out", type=Path, default=REPO / "run" / "long_run", help="output folder")
    parser.add_argument("--png", type=Path, default=None, help="plot file (default OUT/long_run.png)")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        default=None,
        help="plot several raw.json against the orders (--png)",
    )
    parser.add_argument("--profile", action="store_true", help="run freqtrade under cProfile (slower)")
    parser.add_argument(
        "--from-raw", type=Path, default=None, help="redo CSVs, plot, summary from a raw.json"
    )
    args = parser.parse_args(argv)
    settings = LongRunSettings(
        days=args.days,
        coins=tuple(c.strip().upper() for c in args.coins.split(",") if c.strip()),
        speed=args.speed,
        start=args.start,
        threshold=args.threshold,
        throttle_secs=args.throttle,
        sample_secs=args.sample_secs,
        seed_orders=args.seed_orders,
        compact_after_orders=args.compact,
        reuse_db=args.reuse_db,
    )
    out = args.out.resolve()
    if args.compare:
        results = [load_raw(path) for path in args.compare]
        png = args.png or out / "runs.png"
        if any(r.settings.compact_after_orders for r in results):
            print(format_comparison(results, machine_info()))
            print(f"plot: {plot_seeded(results, png)}")
        else:
            print(f"plot: {plot_runs(results, png)}")
        return 0
    print(f"long run into {out}: {settings}", flush=True)
    if args.from_raw:
        result = load_raw(args.from_raw)
    else:
        result = run_long(settings, out / "bot", progress=True, profile=args.profile)
        save_raw(result, out / "raw.json")
    samples_csv, loops_csv = write_csvs(result, out)
    png = plot(result, (args.png or out / "long_run.png").resolve())
    text = format_summary(result, machine_info())
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"samples: {samples_csv}\nloops: {loops_csv}\nplot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
