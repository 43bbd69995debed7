"""Rebalance records (time, coin, side, quantity, price, fee, reason) from freqtrade's results.

Reads the files freqtrade writes (a backtest result zip) without importing freqtrade.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd


def latest_backtest_result(results_dir: str | Path) -> Path:
    """The newest ``backtest-result-*.zip`` in freqtrade's ``backtest_results`` folder."""
    folder = Path(results_dir)
    zips = sorted(folder.glob("backtest-result-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise FileNotFoundError(
            f"No backtest result in {folder}; run `freqtrade backtesting --export trades` first"
        )
    return zips[-1]


def load_backtest_result(path: str | Path, strategy: str = "SmartPortfolio") -> dict[str, Any]:
    """The strategy's section of a backtest result zip (trades, balances, ...)."""
    with zipfile.ZipFile(path) as archive:
        name = next(
            n
            for n in archive.namelist()
            if n.endswith(".json") and not n.endswith("_config.json") and "meta" not in n
        )
        data = json.loads(archive.read(name))
    try:
        return data["strategy"][strategy]
    except KeyError:
        found = ", ".join(data.get("strategy", {})) or "none"
        raise KeyError(f"strategy {strategy!r} not in {path} (found: {found})") from None


def orders_from_trades(trades: list[dict[str, Any]], stake_currency: str = "USDT") -> pd.DataFrame:
    """One row per filled order of freqtrade's exported trades, oldest first."""
    rows = []
    for trade in trades:
        coin = trade["pair"].split("/")[0]
        fee_rate = {True: trade["fee_open"], False: trade["fee_close"]}
        for order in trade["orders"]:
            if not order.get("order_filled_timestamp") or not order.get("amount"):
                continue
            price = float(order["safe_price"])
            amount = float(order["amount"])
            rows.append(
                {
                    "time": pd.Timestamp(order["order_filled_timestamp"], unit="ms", tz="UTC"),
                    "coin": coin,
                    "side": order["ft_order_side"],
                    "amount": amount,
                    "price": price,
                    "value": amount * price,
                    "fee": amount * price * float(fee_rate[bool(order["ft_is_entry"])]),
                    "tag": order.get("ft_order_tag") or "",
                }
            )
    frame = pd.DataFrame(rows, columns=["time", "coin", "side", "amount", "price", "value", "fee", "tag"])
    return frame.sort_values("time", kind="stable").reset_index(drop=True)
