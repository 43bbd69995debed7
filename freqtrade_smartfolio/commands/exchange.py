"""``smartfolio exchange serve|start|stop|status``: the offline Binance exchange."""

from __future__ import annotations

from freqtrade_smartfolio.exchange.cli import HELP, add_arguments, run

NAME = "exchange"

__all__ = ["HELP", "NAME", "add_arguments", "run"]
