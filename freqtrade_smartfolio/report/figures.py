"""The report's charts: plotly figures of a :class:`PortfolioHistory` (value against buy-and-hold with the
rebalance markers, each coin's weight with its target and band, drawdown), thinned for plotting: one point
per bin, plus the bars at and just before every rebalance and each bin's deepest drawdown."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.report.history import PortfolioHistory, finite

MAX_POINTS = 2000  # per curve; 5 years of 1h candles (~41k) become ~21h bins


MAX_HOVER_ORDERS = 12


MAX_MARKERS = 1500  # rebalance markers per chart; beyond, one marker per window sums its rebalances


STRATEGY_COLOR = "#1f77b4"


HOLD_COLOR = "#8c8c8c"


KIND_COLORS = {
    "threshold": "#ff7f0e",
    "completion": "#9467bd",
    "schedule": "#2ca02c",
    "grouped": "#ff7f0e",
}


COIN_COLORS = (
    "#f7931a", "#627eea", "#14b8a6", "#23292f", "#f3ba2f", "#e84142", "#8247e5", "#2a5ada",
    "#c2a633", "#0033ad", "#ff007a", "#16a34a", "#0ea5e9", "#a855f7", "#64748b", "#b45309",
)  # fmt: skip


HOVER_TIME = "%Y-%m-%d %H:%M"


def keep_positions(
    index: pd.DatetimeIndex,
    max_points: int,
    times: Iterable[pd.Timestamp] = (),
    extra: Sequence[int] | np.ndarray = (),
) -> np.ndarray:
    """Row positions to plot: every row if few, else the last of each bin, the first and last rows,
    the rows at and just before each of ``times`` and the ``extra`` positions."""
    n = len(index)
    if n <= max_points:
        return np.arange(n)
    step = math.ceil(n / max_points)
    keep = [np.arange(step - 1, n, step), np.array([0, n - 1]), np.asarray(extra, dtype=np.int64)]
    when = pd.DatetimeIndex(list(times))
    if len(when):
        at = index.searchsorted(when, side="right") - 1
        keep += [at, at - 1]
    positions = np.unique(np.concatenate(keep))
    return positions[(positions >= 0) & (positions < n)]


def bin_argmin(values: pd.Series, max_points: int) -> np.ndarray:
    """Position of the lowest value in each bin (so thinning keeps drawdown troughs)."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    step = math.ceil(n / max_points)
    frame = pd.DataFrame({"v": values.to_numpy(), "bin": np.arange(n) // step, "pos": np.arange(n)})
    return frame.loc[frame.groupby("bin")["v"].idxmin(), "pos"].to_numpy()


def thin(data: pd.Series | pd.DataFrame, max_points: int, times: Iterable[pd.Timestamp] = (), extra=()):
    """``data`` at :func:`keep_positions`."""
    return data.iloc[keep_positions(pd.DatetimeIndex(data.index), max_points, times, extra)]


def _x(index: pd.Index) -> np.ndarray:
    """Milliseconds since the epoch (UTC): plotly's date axes take them, and they travel as compact
    binary arrays instead of date strings."""
    return pd.DatetimeIndex(index).as_unit("ms").asi8.astype(np.float64)


def _f4(values: pd.Series) -> np.ndarray:
    """Single precision for fractions (weights, drawdown): plenty for a chart, half the bytes."""
    return values.to_numpy(dtype=np.float32)


def _line(
    series: pd.Series, name: str, color: str, width: float, hover: str, fraction: bool = False, **more: Any
) -> go.Scatter:
    """``series`` as a line (``fraction``: in single precision; ``more``: further go.Scatter properties,
    ``shape`` the line's)."""
    line = {"color": color, "width": width}
    if "shape" in more:
        line["shape"] = more.pop("shape")
    return go.Scatter(
        mode="lines",
        x=_x(series.index),
        y=_f4(series) if fraction else series.to_numpy(),
        name=name,
        line=line,
        hovertemplate=f"%{{x}}<br>{hover}<extra></extra>",
        **more,
    )


def _kind(reason: str) -> str:
    head = reason.split(":", 1)[0].strip().lower()
    return head if head in KIND_COLORS else "other"


def fmt_amount(x: float) -> str:
    return f"{x:.8g}"


def fmt_price(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 100 else f"{x:.6g}"


def rebalance_markers(history: PortfolioHistory, max_markers: int = MAX_MARKERS) -> pd.DataFrame:
    """One row per rebalance fill time: ``time, reason, kind, text`` (the hover text lists the orders).

    With more than ``max_markers`` fill times (a very active run), the times are grouped into
    ``max_markers`` equal windows, one marker each (kind ``grouped``) that sums its rebalances.
    """
    stake = history.stake_currency
    fills = history.trades[history.trades["kind"] == "rebalance"]
    columns = ["time", "reason", "kind", "text"]
    if fills["time"].nunique() > max_markers:
        edges = pd.date_range(history.start, history.end, periods=max_markers + 1)
        window = np.clip(edges.searchsorted(pd.DatetimeIndex(fills["time"]), side="right") - 1, 0, None)
        grouped = fills.groupby(window, sort=True)
        frame = pd.DataFrame(
            {
                "time": grouped["time"].min(),
                "last": grouped["time"].max(),
                "count": grouped["time"].nunique(),
                "orders": grouped.size(),
                "traded": grouped["value"].sum(),
                "fees": grouped["fee"].sum(),
            }
        )
        frame["reason"] = frame["count"].map(lambda n: f"{n} rebalances")
        frame["kind"] = "grouped"
        frame["text"] = [
            f"<b>{r.count} rebalances</b><br>{r.time:%Y-%m-%d %H:%M} → {r.last:%Y-%m-%d %H:%M} UTC<br>"
            f"{r.orders} orders, traded {r.traded:,.2f} {stake}, fees {r.fees:,.2f}"
            for r in frame.itertuples()
        ]
        return frame.loc[:, columns].reset_index(drop=True)
    rows = []
    for when, group in fills.groupby("time", sort=True):
        reason = str(group["reason"].iloc[0])
        lines = [f"<b>{when:%Y-%m-%d %H:%M} UTC</b>", html.escape(reason)]
        for order in group.head(MAX_HOVER_ORDERS).itertuples():
            lines.append(
                f"{order.side} {fmt_amount(order.amount)} {order.coin} @ {fmt_price(order.price)}"
                f" = {order.value:,.2f} {stake} (fee {order.fee:,.2f})"
            )
        if len(group) > MAX_HOVER_ORDERS:
            lines.append(f"… and {len(group) - MAX_HOVER_ORDERS} more orders")
        lines.append(f"traded {group['value'].sum():,.2f} {stake}, fees {group['fee'].sum():,.2f}")
        rows.append({"time": when, "reason": reason, "kind": _kind(reason), "text": "<br>".join(lines)})
    return pd.DataFrame(rows, columns=columns)


MARKET_COLORS = {"listing": "#2ca02c", "end": "#7f7f7f"}


def mark_market_events(fig: go.Figure, history: PortfolioHistory) -> go.Figure:
    """A dotted vertical line through every panel where a coin starts trading (listing) or its
    candles end, labelled at the top with the event's text on hover."""
    for event in history.market_events:
        x = float(_x(pd.DatetimeIndex([event.time]))[0])
        color = MARKET_COLORS.get(event.kind, "#7f7f7f")
        fig.add_vline(x=x, line={"color": color, "dash": "dot", "width": 1.2}, row="all", col=1)
        label = f"{event.coin} listed" if event.kind == "listing" else f"{event.coin} candles end"
        fig.add_annotation(
            x=x, y=1, xref="x", yref="paper", text=label, hovertext=html.escape(event.text),
            showarrow=False, xanchor="left", yanchor="top", font={"size": 10, "color": color},
        )  # fmt: skip
    return fig


def overview_figure(history: PortfolioHistory, max_points: int = MAX_POINTS) -> go.Figure:
    """Value vs buy-and-hold with the rebalance markers, drawdown, and cumulative fees."""
    stake = history.stake_currency
    markers = rebalance_markers(history)
    times = list(markers["time"])
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.58, 0.22, 0.20],
        subplot_titles=(
            f"Portfolio value ({stake})",
            "Drawdown from the running peak",
            f"Fees paid, cumulative ({stake})",
        ),
    )
    drawdown = stats.drawdown(history.equity)
    troughs = bin_argmin(drawdown, max_points)
    if history.hold_equity is not None:
        hold = thin(history.hold_equity, max_points, times)
        fig.add_trace(
            _line(hold, "Buy and hold (same start)", HOLD_COLOR, 1.5, "buy and hold %{y:,.2f}"), row=1, col=1
        )
    equity = thin(history.equity, max_points, times, troughs)
    fig.add_trace(_line(equity, "SmartPortfolio", STRATEGY_COLOR, 2, "portfolio %{y:,.2f}"), row=1, col=1)
    at = history.equity.reindex(pd.DatetimeIndex(times), method="ffill") if times else pd.Series(dtype=float)
    for kind, group in markers.groupby("kind", sort=False):
        fig.add_trace(
            go.Scatter(
                x=_x(pd.DatetimeIndex(group["time"])),
                y=at.reindex(pd.DatetimeIndex(group["time"])).to_numpy(),
                mode="markers",
                name=f"Rebalance: {kind} ({len(group)})",
                marker={
                    "color": KIND_COLORS.get(str(kind), "#d62728"),
                    "size": 8,
                    "symbol": "diamond",
                    "line": {"color": "white", "width": 1},
                },
                hovertext=list(group["text"]),
                hovertemplate="%{hovertext}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if history.hold_equity is not None:
        hold_dd = thin(stats.drawdown(history.hold_equity), max_points, times)
        fig.add_trace(
            _line(
                hold_dd,
                "Buy and hold drawdown",
                HOLD_COLOR,
                1,
                "buy and hold %{y:.2%}",
                fraction=True,
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    dd = thin(drawdown, max_points, times, troughs)
    fig.add_trace(
        _line(
            dd,
            "Drawdown",
            STRATEGY_COLOR,
            1,
            "drawdown %{y:.2%}",
            fraction=True,
            fill="tozeroy",
            fillcolor="rgba(31,119,180,0.25)",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fees = history.cumulative_fees()
    fig.add_trace(
        _line(
            fees, "Fees paid", "#d62728", 1.5, f"fees paid %{{y:,.2f}} {stake}", showlegend=False, shape="hv"
        ),
        row=3,
        col=1,
    )
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero", row=3, col=1)
    fig.update_xaxes(
        type="date", hoverformat=HOVER_TIME, showspikes=True, spikemode="across", spikethickness=1
    )
    fig.update_layout(
        template="plotly_white",
        height=760,
        margin={"l": 70, "r": 30, "t": 50, "b": 40},
        legend={"orientation": "h", "x": 0, "y": 1.08, "xanchor": "left", "yanchor": "bottom"},
        hovermode="closest",
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
    )
    return mark_market_events(fig, history)


def weights_figure(history: PortfolioHistory, max_points: int = MAX_POINTS) -> go.Figure:
    """One panel per coin: its weight, the target (dashed) and the band (shaded), with rebalances."""
    names = list(history.coins)
    if history.targets.get("cash", 0.0) > 0 and "cash" in history.weights.columns:
        names.append("cash")
    markers = rebalance_markers(history)
    times = pd.DatetimeIndex(markers["time"])
    if times.tz is None:  # an empty marker column carries no time zone
        times = times.tz_localize(history.weights.index.tz)
    grouped = bool((markers["kind"] == "grouped").any())
    titles = []
    for name in names:
        target = float(history.targets.get(name, math.nan))
        limits = history.band.limits(target) if finite(target) else None
        band = f", band {limits[0]:.2%} – {limits[1]:.2%}" if limits else ""
        titles.append(f"<b>{name}</b>  target {target:.2%}{band}")
    fig = make_subplots(
        rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.3 / max(len(names), 1),
        subplot_titles=titles,
    )  # fmt: skip
    held = history.weights
    if len(history.trades):  # before the initial allocation everything is cash: not worth a y-range
        held = held[held.index >= history.trades["time"].iloc[0]]
    weights = thin(held, max_points, times)
    after = held.reindex(times, method="ffill") if len(times) else held.iloc[:0]
    before = held.iloc[np.clip(held.index.searchsorted(times, side="left") - 1, 0, None)]
    for row, name in enumerate(names, start=1):
        color = COIN_COLORS[(row - 1) % len(COIN_COLORS)] if name != "cash" else "#444444"
        target = float(history.targets.get(name, math.nan))
        limits = history.band.limits(target) if finite(target) else None
        if limits:
            fig.add_hrect(
                y0=limits[0],
                y1=limits[1],
                fillcolor=color,
                opacity=0.13,
                line_width=0,
                layer="below",
                row=row,
                col=1,
                exclude_empty_subplots=False,
            )
        if finite(target):
            fig.add_hline(
                y=target,
                line={"color": color, "dash": "dash", "width": 1.2},
                row=row,
                col=1,
                exclude_empty_subplots=False,
            )
        low = min(float(held[name].min()), limits[0] if limits else math.inf)
        high = max(float(held[name].max()), limits[1] if limits else -math.inf)
        pad = 0.05 * (high - low) or 0.01
        fig.update_yaxes(range=[max(low - pad, -0.005), high + pad], row=row, col=1)
        fig.add_trace(
            _line(weights[name], name, color, 1.5, f"{name} %{{y:.2%}}", fraction=True), row=row, col=1
        )
        if len(times) and not grouped:  # grouped windows: the overview's markers say enough
            text = [
                f"{when:%Y-%m-%d %H:%M} UTC<br>{html.escape(reason)}<br>"
                f"{name}: {b:.2%} before → {a:.2%} after"
                for when, reason, b, a in zip(
                    times, markers["reason"], before[name].to_numpy(), after[name].to_numpy(), strict=True
                )
            ]
            fig.add_trace(
                go.Scatter(
                    x=_x(times),
                    y=_f4(after[name]),
                    mode="markers",
                    name=f"{name} rebalanced",
                    marker={"color": color, "size": 6, "symbol": "diamond"},
                    hovertext=text,
                    hovertemplate="%{hovertext}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    fig.update_xaxes(type="date", hoverformat=HOVER_TIME)
    fig.update_yaxes(tickformat=".1%")
    fig.update_layout(
        template="plotly_white",
        height=90 + 170 * len(names),
        margin={"l": 70, "r": 30, "t": 40, "b": 40},
        showlegend=False,
        hovermode="closest",
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
    )
    fig.update_annotations(font_size=13, x=0, xanchor="left")
    return mark_market_events(fig, history)
