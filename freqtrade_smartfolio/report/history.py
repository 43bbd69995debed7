"""The one input of the report: a portfolio's life as plain pandas objects, whatever produced it.

Adapters (:mod:`freqtrade_smartfolio.report.sources`) build a :class:`PortfolioHistory` from a
freqtrade backtest result, from the fast engine or from a bot's database; the page only reads this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.vs_hold import VsHold

TRADE_COLUMNS = ("time", "coin", "side", "amount", "price", "value", "fee", "reason", "kind")
KINDS = ("initial", "rebalance", "final")


@dataclass(frozen=True)
class Band:
    """The rebalance band: ``threshold`` a fraction (0.05 = 5 points, or 5% of the target if relative)."""

    threshold: float | None = None
    relative: bool = False

    def limits(self, target: float) -> tuple[float, float] | None:
        """Lowest and highest weight inside the band around ``target`` (None without a threshold)."""
        if self.threshold is None:
            return None
        width = target * self.threshold if self.relative else self.threshold
        return max(target - width, 0.0), min(target + width, 1.0)

    def describe(self) -> str:
        if self.threshold is None:
            return "none (scheduled rebalancing only)"
        if self.relative:
            return f"±{self.threshold:.2%} of each target (relative)"
        return f"±{self.threshold * 100:.2f} points (absolute)"


@dataclass(frozen=True)
class MarketEvent:
    """A coin that starts trading inside the window (``kind`` ``listing``, at its first candle) or
    whose candles end inside it (``end``, at the close of its last candle); ``text`` says so."""

    time: pd.Timestamp
    coin: str
    kind: str
    text: str


@dataclass(frozen=True)
class PortfolioHistory:
    """A portfolio's life, at the candle timeframe.

    ``equity`` and ``hold_equity``: value in the stake currency, UTC-indexed (buy-and-hold of the
    same starting weights; None when unknown). ``weights``: date x coin, fractions of the value (a
    ``cash`` column is optional). ``targets``: coin -> target fraction (``cash`` allowed).
    ``trades``: one row per fill with :data:`TRADE_COLUMNS`; ``kind`` is ``initial``, ``rebalance``
    or ``final`` and ``reason`` why it traded. ``strategy_stats``/``hold_stats``: as
    :func:`stats.summarize` (computed from the curves when not given). ``facts``: extra label ->
    text rows for the summary (period, source, checks). ``market_events``: listings and ends of
    candles inside the window, marked on the charts.
    """

    equity: pd.Series
    weights: pd.DataFrame
    targets: Mapping[str, float]
    trades: pd.DataFrame
    hold_equity: pd.Series | None = None
    band: Band = field(default_factory=Band)
    stake_currency: str = "USDT"
    title: str = "SmartPortfolio"
    strategy_stats: dict[str, Any] | None = None
    hold_stats: dict[str, Any] | None = None
    facts: dict[str, str] = field(default_factory=dict)
    market_events: tuple[MarketEvent, ...] = ()
    # did rebalancing pay? the portfolio at the end (before a final sale) against holding its start
    vs_hold: VsHold | None = None

    def __post_init__(self) -> None:
        for name in ("equity", "weights"):
            index = getattr(self, name).index
            if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
                raise ValueError(f"PortfolioHistory.{name} needs a tz-aware DatetimeIndex (UTC)")
        if len(self.equity) < 2:
            raise ValueError(f"PortfolioHistory.equity needs at least 2 points, got {len(self.equity)}")
        missing = [c for c in TRADE_COLUMNS if c not in self.trades.columns]
        if missing:
            raise ValueError(f"PortfolioHistory.trades lacks columns {missing}; expected {TRADE_COLUMNS}")
        unknown = set(self.trades["kind"]) - set(KINDS)
        if unknown:
            raise ValueError(f"PortfolioHistory.trades has unknown kinds {sorted(unknown)}; use {KINDS}")
        trades = self.trades.sort_values("time", kind="stable").reset_index(drop=True)
        object.__setattr__(self, "trades", trades)
        rebalance = trades[trades["kind"] == "rebalance"]
        if self.strategy_stats is None:
            object.__setattr__(
                self,
                "strategy_stats",
                stats.summarize(
                    self.equity,
                    fees=float(trades["fee"].sum()),
                    rebalances=rebalance["time"].nunique(),
                    traded_value=float(rebalance["value"].sum()),
                ),
            )
        if self.hold_stats is None and self.hold_equity is not None:
            initial = trades[trades["kind"] == "initial"]
            object.__setattr__(
                self, "hold_stats", stats.summarize(self.hold_equity, fees=float(initial["fee"].sum()))
            )

    @property
    def coins(self) -> list[str]:
        """The portfolio's coins (weights' columns without ``cash``)."""
        return [c for c in self.weights.columns if c != "cash"]

    @property
    def start(self) -> pd.Timestamp:
        return self.equity.index[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.equity.index[-1]

    @property
    def rebalances(self) -> pd.DataFrame:
        """One row per fill time of rebalance orders: ``time, reason, orders, traded, fees``."""
        fills = self.trades[self.trades["kind"] == "rebalance"]
        grouped = fills.groupby("time", sort=True)
        return pd.DataFrame(
            {
                "reason": grouped["reason"].first(),
                "orders": grouped.size(),
                "traded": grouped["value"].sum(),
                "fees": grouped["fee"].sum(),
            }
        ).reset_index()

    def cumulative_fees(self) -> pd.Series:
        """Fees paid so far, a step at each fill time, from 0 at the start to the end of the curve."""
        per_time = self.trades.groupby("time", sort=True)["fee"].sum().cumsum()
        start = pd.Series([0.0], index=[min(self.start, *per_time.index[:1])])
        curve = pd.concat([start, per_time])
        if curve.index[-1] < self.end:
            curve = pd.concat([curve, pd.Series([curve.iloc[-1]], index=[self.end])])
        return curve[~curve.index.duplicated(keep="last")]


def trades_frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A trades table with :data:`TRADE_COLUMNS` (``value`` filled in from amount x price if absent)."""
    frame = pd.DataFrame(rows).copy()
    if frame.empty:
        return pd.DataFrame(columns=list(TRADE_COLUMNS))
    if "value" not in frame.columns:
        frame["value"] = frame["amount"] * frame["price"]
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.loc[:, list(TRADE_COLUMNS)]


def finite(value: Any) -> bool:
    """True for a real number that is not nan/inf."""
    return isinstance(value, int | float) and math.isfinite(value)
