"""``smartfolio records``: every rebalance (time, reason, coin, side, quantity, price, fee) of a bot,
from its REST API or its sqlite database, grouped per rebalance; ``--csv`` writes them to a file."""

from __future__ import annotations

import argparse
import math
import sqlite3
from pathlib import Path

import pandas as pd

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.commands._checks import check_database, sql_reason
from freqtrade_smartfolio.commands.invest import bot_failure
from freqtrade_smartfolio.live.connect import BotError, add_connection_arguments, connection_from_args
from freqtrade_smartfolio.live.records import (
    api_trades,
    format_records,
    group_rebalances,
    orders_from_api,
    orders_from_db,
)

NAME = "records"
HELP = "List every rebalance of a bot (REST API or --db sqlite file), grouped; --csv FILE to export."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument(
        "--db", type=Path, default=None, help="read freqtrade's sqlite database instead of the REST API"
    )
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write the rows as CSV")
    parser.add_argument(
        "--gap",
        type=float,
        default=30.0,
        help="seconds between orders that start a new rebalance (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.gap) and args.gap >= 0):
        raise UserError(f"--gap: {args.gap:g} is not a number of seconds (0 or more); e.g. --gap 30")
    if args.csv is not None and args.csv.is_dir():
        raise UserError(f"--csv: {args.csv} is a folder; give a file name, e.g. {args.csv / 'records.csv'}")
    if args.db is not None:
        try:
            orders = orders_from_db(check_database(args.db, "--db"))
        except (BotError, sqlite3.DatabaseError, pd.errors.DatabaseError) as err:  # not freqtrade's tables
            raise UserError(f"--db: {sql_reason(err)}; give the bot's tradesv3.sqlite") from None
    else:
        try:
            orders = orders_from_api(api_trades(connection_from_args(args).client()))
        except BotError as err:
            raise bot_failure(err) from None
    records = group_rebalances(orders, args.gap)
    print(format_records(records))
    if args.csv is not None:
        out = records.copy()
        out["time"] = out["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            out.to_csv(args.csv, index=False)
        except OSError as err:
            raise UserError(
                f"--csv: cannot write {args.csv} ({err.strerror or err}); choose another file"
            ) from None
        print(f"{len(out)} orders in {records['rebalance'].nunique()} rebalances written to {args.csv}")
    return 0
