"""``smartfolio stop``: stop a running bot, selling everything to the stake currency (``--sell-all``)
or keeping the coins (``--keep-coins``)."""

from __future__ import annotations

import argparse
import math

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.commands.invest import bot_failure
from freqtrade_smartfolio.live.connect import BotError, add_connection_arguments, connection_from_args
from freqtrade_smartfolio.live.manage import stop_bot

NAME = "stop"
HELP = "Stop a running bot: --sell-all sells every coin first, --keep-coins leaves them (resumed on start)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--sell-all", action="store_true", help="sell every coin at market, then stop")
    how.add_argument(
        "--keep-coins", action="store_true", help="stop trading and keep the coins (open trades stay open)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the sales")


def run(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UserError(f"--timeout: {args.timeout:g} is not a number of seconds above 0; e.g. --timeout 60")
    try:
        for step in stop_bot(connection_from_args(args).client(), args.sell_all, args.timeout):
            print(step)
    except BotError as err:
        raise bot_failure(err) from None
    return 0
