"""``smartfolio set KEY=VALUE ...``: change a running bot's smartfolio settings at runtime
(threshold, interval, take-profit, stop-loss, ...), validated before the config is written and reloaded."""

from __future__ import annotations

import argparse

from freqtrade_smartfolio.commands import invest
from freqtrade_smartfolio.live.connect import add_connection_arguments

NAME = "set"
HELP = "Change a running bot's smartfolio settings, e.g. rebalance.threshold=3 take_profit=50."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument(
        "assignments",
        nargs="+",
        metavar="KEY=VALUE",
        help="e.g. rebalance.threshold=3 rebalance.interval=1d take_profit=50 (null removes a key)",
    )
    parser.add_argument(
        "--no-reload", action="store_true", help="write the config, do not call /reload_config"
    )


def run(args: argparse.Namespace) -> int:
    args.amount = None
    return invest.run(args)
