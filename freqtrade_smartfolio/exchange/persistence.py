"""The offline exchange's account state file: every change written atomically, owner-only (it holds
the fake secrets), so that a restarted exchange, and the bot, find the same accounts and orders."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.exchange.accounts import Account, Credentials, Fill, Order, dec
from freqtrade_smartfolio.exchange.feed import Feed
from freqtrade_smartfolio.exchange.matching import Matching

STATE_VERSION = 1


class AccountStore(Matching):
    """Accounts by API key, their orders and trades; the matching engine over a :class:`Feed`; the
    state in the JSON file ``path`` (if any), loaded at the start and written after every change."""

    def __init__(self, feed: Feed, path: Path | str | None = None) -> None:
        super().__init__(feed)
        self.path = Path(path) if path is not None else None
        if self.path is not None and self.path.is_file():
            self.load(self.path)

    # ---- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def order_json(o: Order) -> dict[str, Any]:
            data = asdict(o)
            data["fills"] = [
                {**asdict(f), "price": str(f.price), "qty": str(f.qty), "commission": str(f.commission)}
                for f in o.fills
            ]
            for name in ("orig_qty", "price", "orig_quote_qty", "executed_qty", "cum_quote", "locked"):
                data[name] = str(data[name])
            return data

        with self.lock:
            return {
                "version": STATE_VERSION,
                "next_order": self._next_order,
                "next_trade": self._next_trade,
                "accounts": [
                    {
                        "key": a.key,
                        "secret": a.secret,
                        "uid": a.uid,
                        "update_time": a.update_time,
                        "free": {k: str(v) for k, v in a.free.items()},
                        "locked": {k: str(v) for k, v in a.locked.items()},
                    }
                    for a in self.accounts.values()
                ],
                "orders": [order_json(o) for o in self.orders.values()],
            }

    def save(self) -> None:
        """Write the state to ``path`` (atomically, owner-only: it holds the fake secrets)."""
        if self.path is None:
            return
        data = json.dumps(self.to_json(), indent=1)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(data)
        os.replace(tmp, self.path)

    def load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except ValueError as err:
            raise ValueError(f"account state {path} is not JSON ({err}); delete it to start afresh") from err
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"account state {path} has version {data.get('version')!r}, expected {STATE_VERSION}"
            )
        with self.lock:
            self._next_order, self._next_trade = int(data["next_order"]), int(data["next_trade"])
            for a in data["accounts"]:
                self.accounts[a["key"]] = Account(
                    a["key"],
                    a["secret"],
                    {k: dec(v) for k, v in a["free"].items()},
                    {k: dec(v) for k, v in a["locked"].items()},
                    uid=int(a["uid"]),
                    update_time=int(a["update_time"]),
                )
            trades: list[tuple[str, Fill, Order]] = []
            for o in data["orders"]:
                fills = [
                    Fill(
                        dec(f["price"]),
                        dec(f["qty"]),
                        dec(f["commission"]),
                        f["asset"],
                        f["trade_id"],
                        f["maker"],
                        f["time"],
                    )
                    for f in o.pop("fills")
                ]
                for name in ("orig_qty", "price", "orig_quote_qty", "executed_qty", "cum_quote", "locked"):
                    o[name] = dec(o[name])
                order = Order(**o, fills=fills)
                self.orders[order.order_id] = order
                trades += [(order.key, f, order) for f in fills]
            self.trades = sorted(trades, key=lambda t: t[1].trade_id)

    def load_accounts_file(self, path: Path | str) -> list[Credentials]:
        """Create the accounts of a JSON file ``[{"key": .., "secret": .., "balances": {..}}, ...]``
        (or ``{"accounts": [...]}``); existing keys keep their state."""
        data = json.loads(Path(path).read_text())
        items = data.get("accounts", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of accounts or {{'accounts': [...]}}")
        return [self.create(i.get("balances", {}), i.get("key"), i.get("secret")) for i in items]
