"""Request latency of the offline exchange, this checkout against another git ref (e.g. the stdlib
server before the FastAPI port), and freqtrade's wall time for a ``download-data`` through it.

Each side runs in its own subprocess with ``PYTHONPATH`` at its checkout (the other ref is exported
with ``git archive`` into a temporary folder), starts ``OfflineExchange`` with one account, and times
requests over one kept-alive ``requests.Session`` (as ccxt keeps its connections) after warm-up:
median and 90th percentile in ms. Then ``freqtrade download-data`` of 5 pairs (1h, 30 days, so
several klines pages each) against a server of that side.

    .venv/bin/python benchmarks/bench_offline_exchange.py                       # against main
    .venv/bin/python benchmarks/bench_offline_exchange.py --against ed4a092 --requests 300
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine

REPO = Path(__file__).resolve().parent.parent
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "BNB/USDT"]


def measure(requests_n: int, warmup: int) -> dict[str, float]:
    """In the subprocess: latencies (median, p90 in ms) and start/stop and download-data times (s)."""
    import requests

    from freqtrade_smartfolio.exchange import OfflineExchange

    try:
        from freqtrade_smartfolio.exchange.auth import sign
    except ImportError:  # before the split of private.py
        from freqtrade_smartfolio.exchange.private import sign  # type: ignore[no-redef]

    out: dict[str, float] = {}
    started = time.perf_counter()
    with OfflineExchange(accounts=["::USDT=1000"]) as ex:
        requests.get(f"{ex.url}/api/v3/ping", timeout=10).raise_for_status()
    out["start, one request, stop (s)"] = time.perf_counter() - started

    with OfflineExchange(accounts=["::USDT=1000"]) as ex:
        creds = ex.credentials[0]
        ex.api.all_symbol_info()  # exchangeInfo warm, as after start-up

        def signed_account() -> tuple[str, dict[str, str]]:
            query = f"timestamp={ex.feed.clock.now()}&recvWindow=10000"
            return (
                f"/api/v3/account?{query}&signature={sign(creds.secret, query)}",
                {"X-MBX-APIKEY": creds.key},
            )

        cases = {
            "GET /api/v3/ping": lambda: ("/api/v3/ping", {}),
            "GET /api/v3/ticker/price?symbol=BTCUSDT": lambda: ("/api/v3/ticker/price?symbol=BTCUSDT", {}),
            "signed GET /api/v3/account": signed_account,
            "GET /api/v3/klines (500 x 1h)": lambda: (
                "/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=500",
                {},
            ),
            "GET /api/v3/exchangeInfo (137 symbols)": lambda: ("/api/v3/exchangeInfo", {}),
        }
        with requests.Session() as session:
            for name, build in cases.items():
                times = []
                for i in range(warmup + requests_n):
                    path, headers = build()
                    t0 = time.perf_counter()
                    resp = session.get(ex.url + path, headers=headers, timeout=10)
                    elapsed = time.perf_counter() - t0
                    resp.raise_for_status()
                    if i >= warmup:
                        times.append(elapsed * 1000)
                times.sort()
                out[f"{name} median (ms)"] = statistics.median(times)
                out[f"{name} p90 (ms)"] = times[int(0.9 * (len(times) - 1))]

        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.json"
            config.write_text(
                json.dumps(
                    {
                        "exchange": ex.exchange_config(PAIRS),
                        "stake_currency": "USDT",
                        "dry_run": True,
                        "datadir": str(Path(tmp) / "data"),
                        "user_data_dir": tmp,
                    }
                )
            )
            cmd = [sys.executable, "-m", "freqtrade", "download-data", "--config", str(config)]
            cmd += ["--timeframes", "1h", "--days", "30", "--data-format-ohlcv", "feather"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
            out["freqtrade download-data, 5 pairs x 30 days 1h (s)"] = time.perf_counter() - t0
    return out


def run_side(root: Path, args: argparse.Namespace) -> dict[str, float]:
    from freqtrade_smartfolio.marketdata import find_data_dir

    # the same candles for both sides (an exported ref has no ../shared/data beside it)
    env = {**os.environ, "PYTHONPATH": str(root), "SMARTFOLIO_DATADIR": str(find_data_dir())}
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if done.returncode:
        raise SystemExit(f"measuring {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", default="main", help="git ref to compare with (default: main)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.requests, args.warmup)))
        return
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    ref = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.against],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-exchange-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        other = run_side(Path(tmp), args)
    this = run_side(REPO, args)
    print(machine())
    print(f"{args.requests} requests per case after {args.warmup} warm-up, one kept-alive requests.Session\n")
    print(f"| measure | {args.against} ({ref}) | this checkout ({head.stdout.strip()}) |")
    print("|---|---|---|")
    for name in this:
        print(f"| {name} | {other.get(name, float('nan')):.3g} | {this[name]:.3g} |")


if __name__ == "__main__":
    main()
