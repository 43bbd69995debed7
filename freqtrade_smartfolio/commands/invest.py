"""``smartfolio invest``: add capital to a running bot (``--amount 500``), or change its settings at
runtime (``--set rebalance.threshold=3``); validated before the config is written and reloaded."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from freqtrade_smartfolio.cli import ExternalError, UserError
from freqtrade_smartfolio.config import SECTION, ConfigError
from freqtrade_smartfolio.live.connect import (
    BotError,
    Connection,
    add_connection_arguments,
    connection_from_args,
    read_config,
)
from freqtrade_smartfolio.live.manage import apply, change_settings, invest_config, parse_assignment

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


UNCHANGED = "nothing changed: the bot keeps its settings"


def bot_failure(err: BotError, suffix: str = "") -> UserError | ExternalError:
    """A BotError as the command's error: the user's (2) or the bot's/the network's (1)."""
    return (UserError if err.user_fault else ExternalError)(f"{err}{suffix}")


def smartfolio_config(connection: Connection) -> Path:
    """The bot's config file, which must hold a ``smartfolio`` section (UserError otherwise)."""
    if connection.config_path is None:
        raise UserError(f"--config is required: the change is written to the bot's config file; {UNCHANGED}")
    if SECTION not in read_config(connection.config_path):
        raise UserError(
            f"{connection.config_path} has no '{SECTION}' section, so it is not a SmartPortfolio bot's "
            f"config; pass the config 'smartfolio new' wrote for the bot; {UNCHANGED}"
        )
    return connection.config_path


def run(args: argparse.Namespace) -> int:
    if args.amount is None and not args.assignments:
        raise UserError("give --amount AMOUNT and/or --set KEY=VALUE, e.g. --amount 500")
    if args.amount is not None and not (math.isfinite(args.amount) and args.amount > 0):
        raise UserError(
            f"--amount: {args.amount:g} is not a positive amount; give the stake currency to add, "
            f"e.g. --amount 500 (to take money out, stop the bot); {UNCHANGED}"
        )
    try:
        for text in args.assignments:
            parse_assignment(text)
        connection = connection_from_args(args)
        path = smartfolio_config(connection)
        fields = {}
        config = None
        if args.amount is not None:
            config, change = invest_config(path, args.amount)
            fields.update(change.fields)
        if args.assignments:
            config, change = change_settings(path, args.assignments, base=config)
            fields.update(change.fields)
        assert config is not None
        client = None if args.no_reload else connection.client()
        if client is not None:
            client.show_config()  # the bot answers and accepts the login before anything is written
    except ConfigError as err:
        raise UserError(f"{err}; {UNCHANGED}") from None
    except BotError as err:
        raise bot_failure(err, f"; {UNCHANGED}") from None
    try:
        apply(client, path, config)
    except BotError as err:
        raise ExternalError(
            f"{path} was written but the bot did not take it up ({err}); restart the bot to apply it"
        ) from None
    for name, (old, new) in fields.items():
        print(f"{name}: {old} -> {new}")
    print("config written" + ("" if args.no_reload else "; bot reloaded it (/reload_config)"))
    return 0
