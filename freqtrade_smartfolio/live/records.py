"""Every rebalance of a running (or stopped) bot: time, reason, coin, side, quantity, price, fee, from
the REST API (``/status`` for open trades, ``/trades`` for closed ones, orders included) or straight
from freqtrade's sqlite database.

Read across the trades of each coin: a compaction (``adapter/compaction.py``) closes a coin's trade and
continues it in a new one with two bookkeeping orders, which are no fills and are left out here."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_smartfolio.adapter.cash import COMPACTION_TAG
from freqtrade_smartfolio.live.connect import BotClient, BotError
from freqtrade_smartfolio.portfolio.funding import HELD_TAG

COLUMNS = ["rebalance", "time", "reason", "coin", "side", "quantity", "price", "value", "fee", "tag"]
PAGE = 500  # freqtrade's /trades maximum


def reason_of(tag: str) -> str:
    """The trigger part of an order tag (``'threshold: BTC 57.21% > 55.00% | sell BTC'`` ->
    ``'threshold: BTC 57.21% > 55.00%'``); entry/exit tags such as ``force_exit`` stay as they are."""
    return tag.split(" | ")[0] if tag else "(untagged)"


def api_trades(client: BotClient) -> list[dict[str, Any]]:
    """All trades with their orders: the open ones from /status, the closed ones from /trades
    (which lists closed trades only) in pages of 500."""
    trades: list[dict[str, Any]] = list(client.status())
    closed: list[dict[str, Any]] = []
    while True:
        page = client.trades(limit=PAGE, offset=len(closed))
        batch = page.get("trades", [])
        closed.extend(batch)
        if len(batch) < PAGE or len(closed) >= int(page.get("total_trades", 0)):
            return closed + trades


def orders_from_api(trades: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per filled order of /trades' answer."""
    rows = []
    for trade in trades:
        coin = trade["pair"].split("/")[0]
        for order in trade.get("orders", []):
            filled = order.get("filled") or order.get("amount") or 0.0
            if order.get("order_filled_timestamp") is None or not filled:
                continue
            entry = bool(order.get("ft_is_entry", order.get("ft_order_side") == "buy"))
            # a trade opened from held coins has a 0 entry fee rate in freqtrade's books; its later
            # buys pay the exchange's fee, which freqtrade keeps as the exit rate
            fee_rate = (trade.get("fee_open") if entry else None) or trade.get("fee_close") or 0.0
            price = float(order.get("safe_price") or order.get("average") or order.get("price") or 0.0)
            rows.append(
                {
                    "time": pd.Timestamp(order["order_filled_timestamp"], unit="ms", tz="UTC"),
                    "coin": coin,
                    "side": order.get("ft_order_side", "buy" if entry else "sell"),
                    "quantity": float(filled),
                    "price": price,
                    "fee": float(filled) * price * float(fee_rate),
                    "tag": order.get("ft_order_tag") or "",
                }
            )
    return _finish(rows)


def orders_from_db(db_path: str | Path) -> pd.DataFrame:
    """One row per filled order, read from freqtrade's sqlite database (works with the bot stopped).

    Partly filled orders count with what filled: a market order whose rest expired or an order
    cancelled after some fills ends ``expired``/``canceled``, not ``closed``, in freqtrade's table."""
    path = Path(db_path)
    if not path.is_file():
        raise BotError(f"database {path} not found; pass the bot's --db-url file (e.g. tradesv3.sqlite)")
    query = """
        SELECT t.pair, t.fee_open, t.fee_close,
               (o.ft_order_side = CASE WHEN t.is_short THEN 'sell' ELSE 'buy' END) AS is_entry,
               o.ft_order_side, o.ft_order_tag,
               o.order_filled_date, COALESCE(o.filled, o.amount) AS filled,
               COALESCE(o.average, o.price) AS price
        FROM orders o JOIN trades t ON o.ft_trade_id = t.id
        WHERE NOT o.ft_is_open AND o.order_filled_date IS NOT NULL AND COALESCE(o.filled, o.amount) > 0
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            records = db.execute(query).fetchall()
        except sqlite3.DatabaseError as err:
            raise BotError(f"{path} is not a freqtrade trades database ({err})") from None
    rows = []
    for pair, fee_open, fee_close, is_entry, side, tag, filled_date, filled, price in records:
        fee_rate = (fee_open if is_entry else None) or fee_close or 0.0  # see orders_from_api
        rows.append(
            {
                "time": pd.Timestamp(filled_date, tz="UTC"),
                "coin": pair.split("/")[0],
                "side": side,
                "quantity": float(filled or 0.0),
                "price": float(price or 0.0),
                "fee": float(filled or 0.0) * float(price or 0.0) * float(fee_rate),
                "tag": tag or "",
            }
        )
    return _finish(rows)


def _finish(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["time", "coin", "side", "quantity", "price", "fee", "tag"])
    frame = frame[frame["tag"] != COMPACTION_TAG].reset_index(drop=True)  # bookkeeping, no fill
    held = frame["tag"] == HELD_TAG  # coins taken over from the account (use_held_coins): no trade, no fee
    frame.loc[held, "side"] = "held"
    frame.loc[held, "fee"] = 0.0
    frame["value"] = frame["quantity"] * frame["price"]
    frame["reason"] = frame["tag"].map(reason_of)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def group_rebalances(orders: pd.DataFrame, gap_seconds: float = 30.0) -> pd.DataFrame:
    """Number the rebalances: a new one starts when the reason changes or orders are more than
    ``gap_seconds`` apart (one rebalance's sales and buys fill within a few seconds)."""
    frame = orders.copy()
    if frame.empty:
        frame["rebalance"] = pd.Series(dtype=int)
        return frame[COLUMNS]
    gap = frame["time"].diff().dt.total_seconds().fillna(0.0) > gap_seconds
    changed = frame["reason"] != frame["reason"].shift()
    frame["rebalance"] = (gap | changed).cumsum().astype(int)
    return frame[COLUMNS]


def format_records(records: pd.DataFrame, stake: str = "USDT") -> str:
    """The rebalances as text, one block per rebalance."""
    if records.empty:
        return "No filled orders yet."
    lines = []
    for number, group in records.groupby("rebalance", sort=True):
        first = group.iloc[0]
        if (group.side == "held").all():
            moved = f"taken over {group['value'].sum():,.2f} {stake}, no order"
        else:
            moved = (
                f"sold {group.loc[group.side == 'sell', 'value'].sum():,.2f}, "
                f"bought {group.loc[group.side == 'buy', 'value'].sum():,.2f} {stake}"
            )
        lines.append(f"#{number}  {first['time']:%Y-%m-%d %H:%M:%S} UTC  {first['reason']}  ({moved})")
        for row in group.itertuples():
            lines.append(
                f"    {row.side:<4} {row.coin:<6} {row.quantity:>16.8g} @ {row.price:<12.8g} "
                f"= {row.value:>12,.2f}  fee {row.fee:.4f}"
            )
    return "\n".join(lines)
