"""Trades as the strategy hands them around: a read-only view instead of freqtrade's deep copy, and the
sales of positions outside the portfolio."""

from __future__ import annotations

from typing import Any

from freqtrade_smartfolio.adapter import funding
from freqtrade_smartfolio.portfolio.plan import PlannedOrder


class TradeView:
    """Read-only stand-in for a freqtrade trade, handed to the strategy instead of a deep copy.

    Reading any attribute reads the live trade; writing raises, which protects the trade better than
    a copy would, at no cost however many orders the trade has gathered.
    """

    __slots__ = ("_trade",)

    def __init__(self, trade: Any) -> None:
        object.__setattr__(self, "_trade", trade)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trade, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TradeView is read-only: cannot set {name!r} on {self._trade!r}")

    def __repr__(self) -> str:
        return f"TradeView({self._trade!r})"


def _view_copier(trade: Any):
    def copier(memo: dict | None = None) -> TradeView:
        return TradeView(trade)

    return copier


def protect_trade_cheaply(trade: Any) -> None:
    """Make ``copy.deepcopy(trade)`` return a :class:`TradeView` (Python's copy protocol looks the
    ``__deepcopy__`` hook up on the instance)."""
    if "__deepcopy__" not in vars(trade):
        trade.__deepcopy__ = _view_copier(trade)


def removed_coin_sales(open_trades: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, PlannedOrder]:
    """Full sales of open positions in coins no longer in the portfolio (after a config reload), or
    taken over from the account only to fund the investment (``use_held_coins``)."""
    return {
        pair: PlannedOrder(
            pair.split("/")[0],
            "sell",
            float(trade.amount),
            0.0,
            0.0,
            f"funding: sell held {pair.split('/')[0]}"
            if getattr(trade, "enter_tag", None) == funding.HELD_TAG
            else f"removed from the portfolio | sell {pair}",
        )
        for pair, trade in open_trades.items()
        if pair not in pairs and trade.amount > 0
    }
