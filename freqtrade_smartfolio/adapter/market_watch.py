"""Which of the portfolio's markets trade right now, and what changed: listings, halts, delistings.

A coin trades on a candle when that candle closed with a price. One that does not (no candle yet,
halted, delisted, its data ended) keeps what it holds, valued at its last price, and is not traded;
its target goes to the coins that trade (:func:`portfolio.targets.tradable_targets`). Each change is
said once: in the log, and live through freqtrade's messaging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from freqtrade_smartfolio.portfolio.plan import Trigger, TriggerKind

_DELISTING_NOTE = re.compile(r"^delisting (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")


@dataclass
class MarketWatch:
    """Per pair: whether it traded on the last candle checked, whether it ever did, its delisting
    (a pair announced for delisting is sold, and never bought again nor brought in as a listing)."""

    pairs: tuple[str, ...]
    trading: np.ndarray | None = None  # the last candle's mask (None before the first check)
    holding: np.ndarray | None = None  # which coins were held at the last check
    seen: set[str] = field(default_factory=set)
    delisting: dict[str, datetime] = field(default_factory=dict)

    def update(
        self, candle: datetime, tradable: np.ndarray, held: np.ndarray, last_prices: np.ndarray
    ) -> tuple[list[str], Trigger | None]:
        """Messages for what changed at ``candle``, and a LISTING trigger when a coin that trades now
        and holds nothing did not trade on the candle before (it is brought in at its target) while
        the portfolio holds other coins."""
        before = self.trading if self.trading is not None else np.zeros(len(self.pairs), dtype=bool)
        messages: list[str] = []
        listed: list[str] = []
        when = f"{candle:%Y-%m-%d %H:%M}"
        for i, pair in enumerate(self.pairs):
            coin = pair.split("/")[0]
            leaving = pair in self.delisting
            if tradable[i] and not before[i]:
                if leaving:
                    pass  # being delisted: neither brought in nor announced as trading
                elif pair not in self.seen and self.trading is not None:
                    messages.append(f"{coin} trades from the candle of {when}: brought in at its target.")
                elif pair in self.seen:
                    messages.append(f"{coin} trades again from the candle of {when}.")
                if held[i] <= 0 and not leaving:
                    listed.append(coin)
                self.seen.add(pair)
            elif not tradable[i] and (before[i] or self.trading is None):
                if leaving and held[i] <= 0:
                    messages.append(f"{coin} has no candle at {when}: delisted, not traded any more.")
                elif held[i] > 0:
                    messages.append(
                        f"{coin} has no candle at {when} (halted, delisted or its data ended): held at its "
                        f"last price {last_prices[i]:.8g} and not traded; the other coins are rebalanced "
                        "among themselves until it trades again."
                    )
                else:
                    messages.append(
                        f"{coin} has no candle at {when} (not listed yet, or halted): its target goes to the "
                        "coins that trade, pro rata, until it trades."
                    )
        first = self.trading is None
        self.trading = np.asarray(tradable, dtype=bool).copy()
        self.holding = np.asarray(held) > 0
        trigger = None
        if listed and not first and float(np.sum(held)) > 0:
            trigger = Trigger(TriggerKind.LISTING, f"{', '.join(listed)} trades from {when}")
        elif listed and first and float(np.sum(held)) > 0:
            # after a (re)start: a coin that trades but is not held is brought in as well
            trigger = Trigger(TriggerKind.LISTING, f"{', '.join(listed)} not held")
        return messages, trigger

    def status(self, pair: str) -> str:
        """'' when the pair trades, else why not (for ``smartfolio status``)."""
        if pair in self.delisting:
            return f"delisting {self.delisting[pair]:%Y-%m-%d %H:%M} UTC: sold, not bought again"
        if self.trading is None:
            return ""
        i = self.pairs.index(pair)
        if self.trading[i]:
            return ""
        if self.holding is not None and self.holding[i]:
            return "no candle: held, not traded"  # also after a restart, before it was ever seen
        return "no candle: not traded" if pair in self.seen else "not trading yet"

    def restore_delisting(self, pair: str, note: str) -> bool:
        """After a restart: take a delisting back from the note of the pair's market lock (what
        :meth:`status` wrote), so a delisted coin is not bought again; True when ``note`` was one."""
        match = _DELISTING_NOTE.match(note)
        if match is None or pair not in self.pairs:
            return False
        self.delisting[pair] = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        return True
