"""A long run's outputs: CSVs of the samples and loops, the raw JSON (to redo the outputs), the summary
and the comparison of several runs (markdown). The plots are benchmarks/long_run.py's (matplotlib)."""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from freqtrade_smartfolio.verify.longrun.model import (
    DAY_MS,
    LongRunResult,
    LongRunSettings,
    Loop,
    Sample,
    _median,
)


def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_csvs(result: LongRunResult, out: Path) -> tuple[Path, Path]:
    """``samples.csv`` (one row per sample, with the loops since the previous one) and ``loops.csv``."""
    t0 = result.first_loop_wall
    samples_csv, loops_csv = out / "samples.csv", out / "loops.csv"
    with open(samples_csv, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "wall_s",
                "sim_time",
                "sim_days",
                "rss_mb",
                "cpu_s",
                "orders",
                "trades",
                "loops",
                "loop_median_ms",
                "loop_max_ms",
                "cpu_ms_per_loop",
            ]
        )
        cpu = {id(sample): value for sample, value in result.cpu_per_loop()}
        start_ms = result.loops[0].sim_ms
        for s in result.samples:
            secs = [x.seconds for x in s.loops]
            writer.writerow(
                [
                    f"{s.wall - t0:.1f}",
                    iso(s.sim_ms),
                    f"{(s.sim_ms - start_ms) / DAY_MS:.4f}",
                    f"{s.rss_mb:.1f}",
                    f"{s.cpu_s:.2f}",
                    s.orders,
                    s.trades,
                    len(secs),
                    f"{1000 * statistics.median(secs):.2f}" if secs else "",
                    f"{1000 * max(secs):.2f}" if secs else "",
                    f"{1000 * cpu[id(s)]:.2f}" if id(s) in cpu else "",
                ]
            )
    orders_at = [(s.wall, s.orders) for s in result.samples]
    with open(loops_csv, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["wall_s", "sim_time", "loop_ms", "orders"])
        i = 0
        for x in result.loops:
            while i + 1 < len(orders_at) and orders_at[i + 1][0] <= x.wall:
                i += 1
            orders = orders_at[i][1] if orders_at and orders_at[i][0] <= x.wall else 0
            writer.writerow([f"{x.wall - t0:.3f}", iso(x.sim_ms), f"{1000 * x.seconds:.3f}", orders])
    return samples_csv, loops_csv


def format_comparison(results: list[LongRunResult], machine: dict[str, str]) -> str:
    """One row per run (markdown) and each figure's ratio to the first run's."""
    rows = [(r, r.summary()) for r in results]
    base = rows[0][1]
    lines = [
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"load average now {machine['load_avg']}",
        "",
        "| orders of history | compaction after | trades compacted | first loop (s) | loop median (ms) "
        "| ratio | CPU per loop (ms) | ratio | slowest loop per candle (ms) | RSS median (MiB) "
        "| RSS first->last quarter (MiB) | orders held (median/max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result, s in rows:
        check = _median([x for x in (result.check_loop_median(q) for q in range(4)) if not math.isnan(x)])
        history = f"{s['seeded']:,}"
        if result.settings.reuse_db:
            at_start = result.samples[0].orders if result.samples else 0
            history = f"{at_start:,} (restart on a compacted DB)"
        lines.append(
            f"| {history} | {s['compact_after_orders'] or 'never'} | {s['compactions']} "
            f"| {s['first_loop_s']} | {s['loop_ms_all']} | {s['loop_ms_all'] / base['loop_ms_all']:.2f} "
            f"| {s['cpu_ms_per_loop_all']} | {s['cpu_ms_per_loop_all'] / base['cpu_ms_per_loop_all']:.2f} "
            f"| {1000 * check:.0f} | {s['rss_mb_all']} | {s['rss_mb_q1']} -> {s['rss_mb_q4']} "
            f"| {s['held_median']:g} / {s['held_max']} |"
        )
    return "\n".join(lines)


def save_raw(result: LongRunResult, path: Path) -> Path:
    """Everything measured, as JSON (``--from-raw`` redoes the outputs from it)."""
    data = asdict(result)
    data["settings"]["coins"] = list(result.settings.coins)
    data["workdir"] = str(result.workdir)
    path.write_text(json.dumps(data))
    return path


def load_raw(path: Path) -> LongRunResult:
    data = json.loads(path.read_text())
    raw = data.pop("settings")
    samples = [Sample(**{**s, "loops": [Loop(**x) for x in s["loops"]]}) for s in data.pop("samples")]
    loops = [Loop(**x) for x in data.pop("loops")]
    data["workdir"] = Path(data["workdir"])
    data.setdefault("seeded", 0)
    data.setdefault("compactions", 0)
    data.setdefault("code", "unknown")
    settings = LongRunSettings(**{**raw, "coins": tuple(raw["coins"])})
    return LongRunResult(settings=settings, samples=samples, loops=loops, **data)


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if "MemTotal" in line
        ),
        0,
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram_gib": f"{mem / 1024**2:.1f}",
        "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def format_summary(result: LongRunResult, machine: dict[str, str]) -> str:
    s = result.summary()
    st = result.settings
    return "\n".join(
        [
            f"long run: {len(st.coins)} coins ({' '.join(st.coins)}), proportional, "
            f"threshold {st.threshold:g} pp, from {st.start}, speed {st.speed} (one served 1m candle = "
            f"{st.candles_per_check} real 5m candles, one check per wall minute), "
            f"process_throttle_secs {st.throttle_secs}",
            f"simulated {s['simulated_days']} days in {s['wall_seconds'] / 60:.1f} min wall; "
            f"{s['loops']} loops, {s['checks']} served candles",
            f"orders {s['orders']} ({s['seeded']} seeded before the start, {s['orders_after_q1']} after the "
            "first quarter), "
            f"rebalance plans {s['plans']}, rebalances (records) {s['rebalances']}",
            f"loop time median, first vs last quarter: {s['loop_ms_q1']} ms -> {s['loop_ms_q4']} ms "
            f"(x{s['loop_ratio']})",
            f"slowest loop per candle, median: {s['check_loop_ms_q1']} ms -> {s['check_loop_ms_q4']} ms "
            f"(x{s['check_loop_ratio']})",
            f"CPU per loop median, first vs last quarter: {s['cpu_ms_per_loop_q1']} ms -> "
            f"{s['cpu_ms_per_loop_q4']} ms (x{s['cpu_ratio']})",
            f"RSS median, first vs last quarter: {s['rss_mb_q1']} MiB -> {s['rss_mb_q4']} MiB "
            f"(x{s['rss_ratio']}, {s['rss_growth_mb']:+} MiB); "
            f"at the first loop {s['rss_mb_first_loop']} MiB, peak {s['rss_mb_peak']} MiB",
            f"compaction: after {st.compact_after_orders or 'never'} orders; {s['compactions']} trades "
            f"compacted; orders held by the open trades: median {s['held_median']}, max {s['held_max']}; "
            f"first loop {s['first_loop_s']} s",
            f"whole run: loop median {s['loop_ms_all']} ms, "
            f"CPU per loop median {s['cpu_ms_per_loop_all']} ms, "
            f"RSS median {s['rss_mb_all']} MiB",
            f"tracebacks {s['tracebacks']}, ERROR lines {s['errors']}, freqtrade exit code {s['exit_code']}",
            f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
            f"load average at the end {machine['load_avg']}",
            f"code at the start: {result.code}",
        ]
    )
