"""``smartfolio invest``: add capital to a running bot (``--amount 500``), or change its settings at
runtime (``--set rebalance.threshold=3``); validated before the config is written and reloaded."""

from __future__ import annotations

import argparse
import sys

from freqtrade_smartfolio.config import ConfigError
from freqtrade_smartfolio.live.connect import BotError, add_connection_arguments, connection_from_args
from freqtrade_smartfolio.live.manage import apply, change_settings, invest_config

NAME = "invest"
HELP = "Add investment to a running bot (--amount) or change its smartfolio settings (--set KEY=VALUE)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--amount", type=float, default=None, help="stake currency to add, e.g. 500")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a smartfolio setting, e.g. rebalance.threshold=3, rebalance.interval=1d, "
        "take_profit=50 (repeatable; null removes a key)",
    )
    parser.add_argument(
        "--no-reload", action="store_true", help="write the config, do not call /reload_config"
    )


def run(args: argparse.Namespace) -> int:
    name = f"smartfolio {getattr(args, 'command', None) or NAME}"
    if args.amount is None and not args.assignments:
        print(f"{name}: give --amount and/or --set KEY=VALUE", file=sys.stderr)
        return 2
    try:
        connection = connection_from_args(args)
        if connection.config_path is None:
            raise BotError("--config is required: the change is written to the bot's config file")
        path = connection.config_path
        fields = {}
        config = None
        if args.amount is not None:
            config, change = invest_config(path, args.amount)
            fields.update(change.fields)
        if args.assignments:
            config, change = change_settings(path, args.assignments, base=config)
            fields.update(change.fields)
        assert config is not None
        apply(None if args.no_reload else connection.client(), path, config)
    except (BotError, ConfigError) as err:
        print(f"{name}: {err}\nNothing changed: the bot keeps its settings.", file=sys.stderr)
        return 1
    for name, (old, new) in fields.items():
        print(f"{name}: {old} -> {new}")
    print("config written" + ("" if args.no_reload else "; bot reloaded it (/reload_config)"))
    return 0
