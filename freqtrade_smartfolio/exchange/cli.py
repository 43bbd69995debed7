"""``serve`` / ``start`` / ``stop`` / ``status`` of the offline exchange (used by ``smartfolio exchange``
and ``python -m freqtrade_smartfolio.exchange``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from freqtrade_smartfolio.exchange.daemon import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RUN_DIR,
    check_options,
    serve,
    start,
    status,
    stop,
)

__all__ = ["HELP", "add_arguments", "check_options", "main", "run"]

HELP = "Run the offline exchange: a local Binance spot API serving the candle files (no internet needed)."


def _port(text: str) -> int:
    """``--port``: a whole number from 0 (a free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give 0..65535, e.g. 8765") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range; give 0..65535 (0 picks a free port)")
    return port


def _positive(text: str) -> float:
    """A number above zero (``--speed``, ``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; e.g. 1 or 60") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0, e.g. 1 or 60")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-actions ``serve``, ``start``, ``stop``, ``status`` and their flags."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    helps = {
        "serve": "run the server in the foreground (Ctrl-C stops it)",
        "start": "run the server in the background (pidfile and log under --run-dir)",
        "stop": "stop the background server",
        "status": "tell whether the background server runs, and where",
    }
    for name, text in helps.items():
        sub = actions.add_parser(name, help=text, description=text)
        sub.set_defaults(_action_name=name)
        if name in ("serve", "start"):
            sub.add_argument(
                "--datadir",
                type=Path,
                default=None,
                help="folder of <COIN>_USDT-<tf>.feather files (default: the project's data folder)",
            )
            sub.add_argument(
                "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
            )
            sub.add_argument(
                "--port",
                type=_port,
                default=DEFAULT_PORT,
                help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
            )
            sub.add_argument(
                "--replay-from",
                default=None,
                metavar="TIME",
                help="replay the data from this UTC time (e.g. 2024-03-01T00:00), re-stamped to now; "
                "default: historical clock at the end of the data",
            )
            sub.add_argument(
                "--speed",
                type=_positive,
                default=1.0,
                help="replay speed: data time per wall time (60 = one data hour per minute)",
            )
            sub.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
            sub.add_argument(
                "--account",
                action="append",
                default=[],
                metavar="KEY:SECRET:BALANCES",
                help="open a spot account for the private API, e.g. ::USDT=10000,BTC=0.1 (empty KEY/SECRET "
                "are generated and printed); repeatable. Fake keys only: they work on this server alone",
            )
            sub.add_argument(
                "--accounts-file",
                type=Path,
                default=None,
                help='JSON list of accounts [{"key": .., "secret": .., "balances": {"USDT": 10000}}], or '
                '{"accounts": [...], "delist": {"SOL": "2024-02-29T00:00"}}',
            )
            sub.add_argument(
                "--delist",
                action="append",
                default=[],
                metavar="COIN=TIME[@ANNOUNCED]",
                help="announce a delisting in Binance's schedule (/sapi/v1/spot/delist-schedule) from "
                "ANNOUNCED (default: from the start); from TIME the market is closed (no new candles, "
                "orders refused). Data times on the replay clock; repeatable",
            )
            sub.add_argument(
                "--account-state",
                type=Path,
                default=None,
                help="JSON file keeping accounts, orders and trades across restarts (read at start if it "
                "exists, written after every change, mode 0600)",
            )
        if name == "serve":
            sub.add_argument("--state-file", type=Path, default=None, help=argparse.SUPPRESS)
        if name != "serve":
            sub.add_argument(
                "--run-dir",
                type=Path,
                default=DEFAULT_RUN_DIR,
                help=f"folder for the pidfile and log (default {DEFAULT_RUN_DIR})",
            )
        if name == "start":
            sub.add_argument(
                "--timeout", type=_positive, default=30.0, help="seconds to wait for the server to answer"
            )


def run(args: argparse.Namespace) -> int:
    return {"serve": serve, "start": start, "stop": stop, "status": status}[args.action](args)


def main(argv: list[str] | None = None) -> int:
    from freqtrade_smartfolio.cli import Parser, report_error

    prog = "python -m freqtrade_smartfolio.exchange"
    parser = Parser(prog=prog, description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (Exception, KeyboardInterrupt) as err:
        return report_error(f"{prog} {args.action}", err, debug=bool(os.environ.get("SMARTFOLIO_DEBUG")))
