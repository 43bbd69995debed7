"""The report page: plotly figures of a :class:`PortfolioHistory` in one self-contained HTML file.

plotly.js is inlined once (about 4.8 MB), so the page works offline. Long curves are thinned for
plotting (one point per bin, plus the bars at and just before every rebalance and each bin's
deepest drawdown); rebalance markers, their hover text and the tables stay exact.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from plotly.offline import get_plotlyjs

from freqtrade_smartfolio import __version__
from freqtrade_smartfolio.report.figures import (  # re-exported: the report's API
    MAX_POINTS as MAX_POINTS,
)
from freqtrade_smartfolio.report.figures import fmt_amount, fmt_price
from freqtrade_smartfolio.report.figures import (
    keep_positions as keep_positions,
)
from freqtrade_smartfolio.report.figures import (
    overview_figure as overview_figure,
)
from freqtrade_smartfolio.report.figures import (
    rebalance_markers as rebalance_markers,
)
from freqtrade_smartfolio.report.figures import (
    weights_figure as weights_figure,
)
from freqtrade_smartfolio.report.history import PortfolioHistory, finite

MAX_TABLE_ROWS = 4000  # orders listed; beyond, the first and last half are shown
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


# ------------------------------------------------------------------------------------------ thinning


# ------------------------------------------------------------------------------------------ figures


# ------------------------------------------------------------------------------------------ tables


def _pct(x: Any, sign: bool = True) -> str:
    return (f"{x:+.2%}" if sign else f"{x:.2%}") if finite(x) else "–"


def _fixed(x: Any, digits: int = 2) -> str:
    return f"{x:,.{digits}f}" if finite(x) else "–"


def summary_rows(history: PortfolioHistory) -> list[tuple[str, str, str]]:
    """(label, SmartPortfolio, buy-and-hold) rows of the summary table."""
    s = history.strategy_stats or {}
    h = history.hold_stats or {}
    stake = history.stake_currency
    both = (
        ("Final value", lambda d: f"{_fixed(d.get('final_value'))} {stake}"),
        ("Total return", lambda d: _pct(d.get("total_return"))),
        ("CAGR", lambda d: _pct(d.get("cagr"))),
        ("Max drawdown", lambda d: _pct(d.get("max_drawdown"), sign=False)),
        ("Volatility (annual)", lambda d: _pct(d.get("volatility"), sign=False)),
        ("Sharpe", lambda d: _fixed(d.get("sharpe"))),
    )
    rows = [(label, fmt(s), fmt(h) if h else "–") for label, fmt in both]
    fills = history.trades
    rebalancing = fills[fills["kind"] == "rebalance"]
    rows += [
        ("Rebalances (fill times)", f"{rebalancing['time'].nunique()}", "0"),
        ("Orders", f"{len(fills)}", "–"),
        ("Fees paid", f"{fills['fee'].sum():,.2f} {stake}", "–"),
        ("Turnover", f"{_fixed(s.get('turnover'))}×", "–"),
    ]
    return rows


def vs_hold_panel(history: PortfolioHistory) -> str:
    """ "Did rebalancing pay?": the portfolio at the end against holding the coins it started with and
    against keeping the stake currency; per coin the amount held against holding's; the fees."""
    result = history.vs_hold
    if result is None:
        return '<div class="muted">Not available for this source (no initial allocation or no prices).</div>'
    stake = history.stake_currency
    verdict = "paid" if result.vs_hold > 0 else "did not pay"
    lines = [
        ("SmartPortfolio (rebalanced)", f"{result.value:,.2f} {stake}", _pct(result.vs_stake / 100)),
        ("Holding the start coins", f"{result.hold_value:,.2f} {stake}", _pct(result.hold_vs_stake / 100)),
        (f"Keeping {stake}", f"{result.investment:,.2f} {stake}", _pct(0.0)),
        ("Rebalanced vs holding", _pct(result.vs_hold / 100), f"rebalancing {verdict}"),
        ("Fees", f"{result.fees:,.2f} {stake}", f"{result.rebalance_fees:,.2f} in {result.rebalance_orders} "
         "rebalance orders"),
    ]  # fmt: skip
    coins = [
        (
            c.coin,
            fmt_amount(c.amount),
            fmt_amount(c.hold_amount),
            f"{c.gained:+.8g}",
            _pct(c.gained_percent / 100) if finite(c.gained_percent) else "new",
            f"{c.gained_value:+,.2f}",
        )
        for c in result.coins
    ]
    return "".join(
        [
            '<div class="cards" id="vs-hold">',
            _table(("", "Value at the end", "vs keeping " + stake), lines, "summary vs-hold"),
            _table(
                ("Coin", "Held", "Holding", "Gained", "Gained %", f"Gained value ({stake})"),
                coins,
                "summary vs-hold-coins",
            ),
            "</div>",
            '<div class="muted">From the orders: the start is the initial allocation; holding keeps its '
            "coins and the cash it left. Values at the last close, before any final sale.</div>",
        ]
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str, row_cls: Sequence[str] = ()) -> str:
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>\n")
    classes = list(row_cls)
    for i, row in enumerate(rows):
        attr = f' class="{classes[i]}"' if i < len(classes) else ""
        out.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>\n")
    out.append("</tbody></table>")
    return "".join(out)


def orders_table(history: PortfolioHistory, max_rows: int = MAX_TABLE_ROWS) -> str:
    """Every fill (initial allocation, rebalances, final sale): time, reason, coin, side, quantity,
    price, value, fee. Beyond ``max_rows`` fills, the first and last ``max_rows / 2`` are listed."""
    trades = history.trades
    hidden = 0
    if len(trades) > max_rows:
        hidden = len(trades) - max_rows
        trades = pd.concat([trades.head(max_rows // 2), trades.tail(max_rows - max_rows // 2)])
    rows = [
        (
            f"{t.time:%Y-%m-%d %H:%M}",
            str(t.reason),
            str(t.coin),
            str(t.side),
            fmt_amount(t.amount),
            fmt_price(t.price),
            f"{t.value:,.2f}",
            f"{t.fee:,.4f}",
        )
        for t in trades.itertuples()
    ]
    classes = [f"fill {k}" for k in trades["kind"]]
    if hidden:
        rows.insert(max_rows // 2, (f"… {hidden:,} orders not listed …", "", "", "", "", "", "", ""))
        classes.insert(max_rows // 2, "gap")
    head = ("Time (UTC)", "Reason", "Coin", "Side", "Quantity", "Price", f"Value ({history.stake_currency})")
    return _table((*head, "Fee"), rows, "orders", classes)


# ------------------------------------------------------------------------------------------ page

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 auto;max-width:1280px;padding:16px 24px;color:#222}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 6px;border-bottom:1px solid #ddd}
.muted{color:#666;font-size:12px}.cards{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
table{border-collapse:collapse;font-size:12.5px}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th{background:#f5f5f5;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
table.facts{max-width:600px}table.facts td,table.facts th{text-align:left}
table.facts td:first-child{white-space:nowrap}table.orders td:nth-child(2){text-align:left;max-width:360px}
table.orders td:nth-child(3),table.orders td:nth-child(4){text-align:left}
tr.initial td,tr.final td{color:#777}tr.fill.rebalance td:nth-child(4){font-weight:600}
.scroll{max-height:560px;overflow:auto;border:1px solid #eee}
"""


def render_html(history: PortfolioHistory, max_points: int = MAX_POINTS) -> str:
    """The whole page as a string (plotly.js inlined)."""
    overview = overview_figure(history, max_points)
    weights = weights_figure(history, max_points)
    stake = history.stake_currency
    targets = ", ".join(f"{c} {w:.2%}" for c, w in history.targets.items())
    facts = [("Targets", targets), *history.facts.items()]
    n_rebalances = history.trades.loc[history.trades["kind"] == "rebalance", "time"].nunique()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(history.title)}</title>",
        f"<style>{CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{html.escape(history.title)}</h1>",
        f'<div class="muted">{html.escape(history.facts.get("Period", ""))} · {n_rebalances} rebalances · '
        f"values in {html.escape(stake)}</div>",
        '<h2>Summary</h2><div class="cards">',
        _table(("", "SmartPortfolio", "Buy and hold"), summary_rows(history), "summary"),
        _table(("Setting", "Value"), facts, "facts"),
        "</div>",
        "<h2>Did rebalancing pay?</h2>",
        vs_hold_panel(history),
        "<h2>Value, drawdown and fees</h2>",
        '<div class="muted">Diamonds mark rebalances; hover them for their orders. '
        "Drag to zoom, double-click to reset.</div>",
        overview.to_html(full_html=False, include_plotlyjs=False, div_id="overview", config=PLOTLY_CONFIG),
        "<h2>Weights, targets and bands</h2>",
        '<div class="muted">Each coin\'s share of the portfolio at every close; dashed: the target, '
        "shaded: the band a rebalance brings it back into.</div>",
        weights.to_html(full_html=False, include_plotlyjs=False, div_id="weights", config=PLOTLY_CONFIG),
        f"<h2>Orders ({len(history.trades)})</h2>",
        f'<div class="scroll">{orders_table(history)}</div>',
        f'<p class="muted">freqtrade-smartfolio {__version__} · generated {generated}</p>',
        "</body></html>",
    ]
    return "\n".join(parts)


def write_html(history: PortfolioHistory, path: str | Path, max_points: int = MAX_POINTS) -> Path:
    """Write the page to ``path`` (folders created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(history, max_points), encoding="utf-8")
    return path
