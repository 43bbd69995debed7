"""``smartfolio records``: every rebalance (time, reason, coin, side, quantity, price, fee) of a bot,
from its REST API or its sqlite database, grouped per rebalance; ``--csv`` writes them to a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    try:
        if args.db is not None:
            orders = orders_from_db(args.db)
        else:
            orders = orders_from_api(api_trades(connection_from_args(args).client()))
    except BotError as err:
        print(f"smartfolio records: {err}", file=sys.stderr)
        return 1
    records = group_rebalances(orders, args.gap)
    print(format_records(records))
    if args.csv is not None:
        out = records.copy()
        out["time"] = out["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.to_csv(args.csv, index=False)
        print(f"{len(out)} orders in {records['rebalance'].nunique()} rebalances written to {args.csv}")
    return 0
