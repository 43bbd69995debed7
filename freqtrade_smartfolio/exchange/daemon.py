"""What ``smartfolio exchange serve|start|stop|status`` do: check the options, serve in the foreground,
spawn the server in the background (pidfile, log, ping until it answers), stop it, tell its status.
The command line itself is :mod:`.cli`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
DEFAULT_RUN_DIR = Path("user_data") / "offline-exchange"
PIDFILE, LOGFILE, STATEFILE = "server.pid", "server.log", "server.json"


def check_options(args: argparse.Namespace) -> None:
    """Refuse bad ``serve``/``start`` options before anything is started or written: UserError naming
    the option and the fix; ExternalError when the address is taken."""
    from freqtrade_smartfolio.cli import ExternalError, UserError
    from freqtrade_smartfolio.exchange.accounts import parse_account_spec
    from freqtrade_smartfolio.exchange.delisting import parse_delist_map, parse_delisting
    from freqtrade_smartfolio.exchange.feed import CandleStore, parse_time
    from freqtrade_smartfolio.marketdata import MarketDataMissing, find_data_dir

    try:
        CandleStore(args.datadir if args.datadir is not None else find_data_dir())
    except (FileNotFoundError, MarketDataMissing) as err:
        raise UserError(f"--datadir: {err}") from None
    if args.replay_from is not None:
        try:
            parse_time(args.replay_from)
        except ValueError as err:
            raise UserError(f"--replay-from: {err}") from None
    for spec in args.account:
        try:
            parse_account_spec(spec)
        except ValueError as err:
            raise UserError(f"--account: {err}; e.g. --account ::USDT=10000") from None
    for spec in args.delist:
        try:
            parse_delisting(spec)
        except ValueError as err:
            raise UserError(f"--delist: {err}") from None
    for option, path in (("--accounts-file", args.accounts_file), ("--account-state", args.account_state)):
        if path is None or (option == "--account-state" and not Path(path).exists()):
            continue
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"{option}: {path} not found; give an existing JSON file") from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise UserError(
                f"{option}: {path} is not a readable JSON file ({err}); fix or remove it"
            ) from None
        if option == "--accounts-file" and not isinstance(data, list | dict):
            raise UserError(f'{option}: {path} must hold a list of accounts [{{"key": .., "balances": ..}}]')
        if option == "--accounts-file" and isinstance(data, dict) and "delist" in data:
            try:
                parse_delist_map(data["delist"], str(path))
            except ValueError as err:
                raise UserError(f"{option}: {err}") from None
    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UserError(
            f"--host: {args.host!r} is not an address of this machine ({err}); e.g. 127.0.0.1"
        ) from None
    if args.port == 0:
        return
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise ExternalError(
                f"cannot listen on {args.host}:{args.port} ({err.strerror or err}); "
                "pick another --port, or 0 for a free one"
            ) from None


def _snippet(url: str) -> str:
    from freqtrade_smartfolio.exchange.server import exchange_config

    block = exchange_config(url, ["BTC/USDT", "ETH/USDT"])
    return '"exchange": ' + json.dumps(block, indent=2)


def serve(args: argparse.Namespace) -> int:
    from freqtrade_smartfolio.cli import ExternalError, UserError
    from freqtrade_smartfolio.exchange.delisting import parse_delist_map
    from freqtrade_smartfolio.exchange.server import OfflineExchange

    check_options(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ex = OfflineExchange(
            args.datadir,
            port=args.port,
            replay_from=args.replay_from,
            speed=args.speed,
            host=args.host,
            accounts=args.account,
            state_file=args.account_state,
            delistings=args.delist,
        )
        if args.accounts_file is not None:
            ex.credentials += ex.accounts.load_accounts_file(args.accounts_file)
            data = json.loads(Path(args.accounts_file).read_text())
            if isinstance(data, dict) and "delist" in data:
                for item in parse_delist_map(data["delist"], str(args.accounts_file)):
                    ex.delistings.put(item)
    except (OSError, ValueError) as err:
        raise UserError(str(err)) from None
    try:
        ex.make_server()
    except OSError as err:
        raise ExternalError(str(err)) from None

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    if args.state_file:
        args.state_file.write_text(json.dumps({"pid": os.getpid(), "url": ex.url, "port": ex.port}))
    print(f"offline exchange on {ex.url} ({ex.feed.clock.describe()}); Ctrl-C stops it", flush=True)
    for creds in ex.credentials:  # fake keys, valid on this server only
        balances = ", ".join(f"{a}={v:g}" for a, v in ex.accounts.balances(creds.key).items()) or "empty"
        print(f"account key={creds.key} secret={creds.secret} ({balances})", flush=True)
    for item in ex.delistings.items():
        print(
            f"delisting {item.coin} at {_iso(item.at_ms)}"
            + (f", announced from {_iso(item.announced_ms)}" if item.announced_ms is not None else ""),
            flush=True,
        )
    try:
        ex.serve_forever()
    except KeyboardInterrupt:
        print("offline exchange stopped", flush=True)
    return 0


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return f"{datetime.fromtimestamp(ms / 1000, tz=UTC):%Y-%m-%d %H:%M} UTC"


def _read_pidfile(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / PIDFILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    """True when ``pid`` runs and is an offline exchange server (guards against reused pids)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        with contextlib.suppress(OSError):
            return b"freqtrade_smartfolio.exchange" in cmdline.read_bytes()
    return True


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when the server at ``url`` answers ``/api/v3/ping``."""
    try:
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(args: argparse.Namespace) -> int:
    from freqtrade_smartfolio.cli import ExternalError, UserError

    run_dir: Path = args.run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(
            f"--run-dir: {run_dir} is a file, not a folder; give a folder for the pidfile and log"
        )
    info = _read_pidfile(run_dir)
    if info and _alive(int(info["pid"])):
        raise ExternalError(
            f"already running (pid {info['pid']}) at {info['url']}; run `smartfolio exchange stop` first"
        )
    check_options(args)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"--run-dir: cannot create {run_dir} ({err.strerror or err}); give another folder"
        ) from None
    state = run_dir / STATEFILE
    state.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "freqtrade_smartfolio.exchange",
        "serve",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--speed",
        str(args.speed),
        "--log-level",
        args.log_level,
        "--state-file",
        str(state.resolve()),
    ]
    if args.datadir is not None:
        cmd += ["--datadir", str(Path(args.datadir).resolve())]
    if args.replay_from is not None:
        cmd += ["--replay-from", args.replay_from]
    for spec in args.account:
        cmd += ["--account", spec]
    for spec in args.delist:
        cmd += ["--delist", spec]
    if args.accounts_file is not None:
        cmd += ["--accounts-file", str(Path(args.accounts_file).resolve())]
    if args.account_state is not None:
        cmd += ["--account-state", str(Path(args.account_state).resolve())]
    log_path = run_dir / LOGFILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + args.timeout
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            why = next((line for line in reversed(tail) if "error" in line.lower()), tail[-1] if tail else "")
            raise ExternalError(
                f"the server exited with code {proc.returncode} ({why.strip()}); log {log_path}"
            )
        if url is None and state.is_file():
            with contextlib.suppress(ValueError):
                url = json.loads(state.read_text())["url"]
        if url and ping(url):
            break
        time.sleep(0.1)
    else:
        proc.terminate()
        raise ExternalError(
            f"the server did not answer within {args.timeout:g}s; see its log {log_path} "
            "or give it longer with --timeout"
        )
    (run_dir / PIDFILE).write_text(json.dumps({"pid": proc.pid, "url": url, "log": str(log_path.resolve())}))
    print(f"offline exchange running at {url} (pid {proc.pid}, log {log_path})")
    print("Put this in the freqtrade config (adjust pair_whitelist):")
    print(_snippet(url))
    return 0


def stop(args: argparse.Namespace) -> int:
    info = _read_pidfile(args.run_dir)
    if not info:
        print(f"not running (no pidfile in {args.run_dir})")
        return 0
    pid = int(info["pid"])
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    for name in (PIDFILE, STATEFILE):
        (args.run_dir / name).unlink(missing_ok=True)
    print(f"stopped (pid {pid})")
    return 0


def status(args: argparse.Namespace) -> int:
    info = _read_pidfile(args.run_dir)
    if not info or not _alive(int(info["pid"])):
        print(f"not running (run dir {args.run_dir})")
        return 1
    answering = ping(info["url"])
    detail = ""
    with (
        contextlib.suppress(urllib.error.URLError, OSError, ValueError),
        urllib.request.urlopen(f"{info['url']}/offline/status", timeout=2) as resp,
    ):
        detail = json.loads(resp.read()).get("clock", "")
    print(
        f"running (pid {info['pid']}) at {info['url']}; "
        f"{'answering' if answering else 'NOT answering'}; {detail}; log {info.get('log')}"
    )
    return 0 if answering else 1
