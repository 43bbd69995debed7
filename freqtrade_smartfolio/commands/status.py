"""``smartfolio status``: a running bot's portfolio (target vs actual weight per coin, deviation, value,
last and next check), through its REST API."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.commands.invest import bot_failure
from freqtrade_smartfolio.config import SECTION
from freqtrade_smartfolio.live.connect import (
    BotError,
    add_connection_arguments,
    connection_from_args,
    read_config,
)
from freqtrade_smartfolio.live.status import format_status, portfolio_status

NAME = "status"
HELP = "Show a running bot's portfolio: target and actual weight per coin, deviation, value, checks."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        connection = connection_from_args(args)
        targets = None
        if connection.config_path is not None:
            config = read_config(connection.config_path)
            targets = (config.get(SECTION) or {}).get("portfolio")
            if not isinstance(targets, dict):
                raise UserError(
                    f"{connection.config_path} has no {SECTION}.portfolio, so it is not a SmartPortfolio "
                    "bot's config; pass the config 'smartfolio new' wrote, or --url to see the bot's coins"
                )
        status = portfolio_status(connection.client(), targets)
    except BotError as err:
        raise bot_failure(err) from None
    if args.json:
        data = asdict(status)
        for coin, row in zip(data["coins"], status.coins, strict=True):
            coin["deviation"] = row.deviation
        if status.vs_hold is not None:  # did rebalancing pay? the percentages too
            paid = data["vs_hold"]
            paid["vs_hold_percent"] = status.vs_hold.vs_hold
            paid["vs_stake_percent"] = status.vs_hold.vs_stake
            for entry, held in zip(paid["coins"], status.vs_hold.coins, strict=True):
                entry["gained"] = held.gained
                entry["gained_percent"] = held.gained_percent
        print(json.dumps(data, default=str, indent=2))
    else:
        print(format_status(status))
    return 0
