"""Adapters: a :class:`PortfolioHistory` from what the project produces.

* :func:`from_backtest_result` / :func:`from_backtest_run`: a ``freqtrade backtesting --export
  trades`` result zip and the candle files (holdings rebuilt from the orders by the ledger);
* :func:`from_engine`: the fast engine's :class:`EngineResult`;
* :func:`from_freqtrade_db`: a bot's sqlite database (freqtrade's ``trades`` and ``orders`` tables).
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_smartfolio.adapter.cash import COMPACTION_TAG
from freqtrade_smartfolio.adapter.records import load_backtest_result, orders_from_trades
from freqtrade_smartfolio.backtest import INITIAL_TAG, BacktestRun, summarize_run, window_prices
from freqtrade_smartfolio.config import ConfigError, parse_settings
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.portfolio import ledger
from freqtrade_smartfolio.portfolio.durations import format_minutes, parse_minutes
from freqtrade_smartfolio.portfolio.engine import EngineResult
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.portfolio.vs_hold import VsHold, vs_hold
from freqtrade_smartfolio.report.history import Band, MarketEvent, PortfolioHistory, trades_frame

FINAL_TAGS = ("force_exit",)


def classify(tag: str) -> tuple[str, str]:
    """(kind, reason) of an order tag such as ``'threshold: BTC 57.21% > 55.00% | sell BTC'``."""
    if tag == INITIAL_TAG:
        return "initial", INITIAL_TAG
    if tag in FINAL_TAGS:
        return "final", f"final sale ({tag})"
    return "rebalance", tag.rsplit(" | ", 1)[0] if tag else "(untagged)"


def trades_from_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """:data:`TRADE_COLUMNS` rows from :func:`orders_from_trades`'s orders (``tag`` -> kind, reason)."""
    kinds = [classify(str(tag)) for tag in orders["tag"]]
    frame = orders.assign(kind=[k for k, _ in kinds], reason=[r for _, r in kinds])
    return trades_frame(frame)


def targets_and_band(
    config: Mapping[str, Any] | None,
) -> tuple[dict[str, float], Band, dict[str, str]] | None:
    """Targets, band and describing facts from a freqtrade config's ``smartfolio`` section, or None."""
    if not config:
        return None
    try:
        settings = parse_settings(config)
    except (ConfigError, KeyError, TypeError):
        return None
    targets = dict(zip(settings.targets.coins, settings.targets.weights, strict=True))
    if settings.targets.cash:
        targets["cash"] = settings.targets.cash
    rebalance = settings.rebalance
    band = Band(
        None if rebalance.threshold_percent is None else rebalance.threshold_percent / 100, rebalance.relative
    )
    facts = {
        "Rebalance mode": rebalance.mode + (f", every {rebalance.interval}" if rebalance.interval else "")
    }
    return targets, band, facts


def market_events(
    known: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> tuple[MarketEvent, ...]:
    """Coins of ``known`` (closes, outer join) that start trading after ``start`` (a listing: at their
    first candle) or whose candles end before ``end`` (at the close of their last candle), by time."""
    events = []
    for coin in known.columns:
        dates = known[coin].dropna().index
        dates = dates[(dates >= start) & (dates < end)]
        if len(dates) == 0:
            continue
        first, last = dates[0], dates[-1]
        if first > start:
            text = f"{coin} starts trading at {first:%Y-%m-%d %H:%M} UTC (listing): no candle before"
            events.append(MarketEvent(first, coin, "listing", text))
        if last < end - step:
            text = (
                f"{coin}'s candles end after {last:%Y-%m-%d %H:%M} UTC: valued at its last close from then on"
            )
            events.append(MarketEvent(last + step, coin, "end", text))
    return tuple(sorted(events, key=lambda e: (e.time, e.coin)))


def _market_facts(events: tuple[MarketEvent, ...]) -> dict[str, str]:
    return {"Markets": "; ".join(e.text for e in events)} if events else {}


def weights_from_book(book: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Each coin's and the cash's weight from :func:`ledger.rebuild`'s holdings."""
    coins = list(closes.columns)
    weights = (book[coins] * closes).div(book["value"], axis=0)
    weights["cash"] = book["cash"] / book["value"]
    return weights


def _initial_targets(orders: pd.DataFrame, coins: list[str], start_cash: float) -> dict[str, float]:
    """Weights right after the initial allocation (when the config is not known)."""
    first = ledger.weights_after_fills(orders[orders["tag"] == INITIAL_TAG], coins, start_cash)
    if first.empty:
        return dict.fromkeys(coins, 1 / len(coins))
    return {c: float(first[c].iloc[0]) for c in coins}


def vs_hold_at_end(orders: pd.DataFrame, closes: pd.DataFrame, investment: float) -> VsHold | None:
    """Did rebalancing pay? The portfolio at the last close against holding its start (orders before
    any final sale)."""
    if closes.empty:
        return None
    last = closes.ffill().iloc[-1]
    return vs_hold(orders, {c: float(last[c]) for c in closes.columns}, investment)


def read_result_config(path: str | Path) -> dict[str, Any] | None:
    """The config freqtrade stored beside its result in the zip (None if absent)."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("_config.json")]
        return json.loads(archive.read(names[0])) if names else None


def from_backtest_run(
    run: BacktestRun,
    datadir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> PortfolioHistory:
    """The history of a finished backtest (config read from its result zip unless given)."""
    result = run.result
    timeframe = str(result["timeframe"])
    stake = str(result.get("stake_currency", "USDT"))
    if config is None and Path(run.result_path).is_file():
        config = read_result_config(run.result_path)
    report = summarize_run(run, datadir, timeframe)
    coins = sorted(set(run.orders["coin"]))
    # An outer join: a coin listed (or ending) inside the window must not cut the others' charts.
    step = pd.Timedelta(minutes=parse_minutes(timeframe, "timeframe"))
    known = load_closes(coins, timeframe, end=report.end, datadir=datadir, join="outer")
    closes = window_prices(known, report.start, report.end, step)
    events = market_events(known, report.start, report.end, step)
    # freqtrade's final sale at the end is left out; a force exit before it (candles ended) is a sale
    final_exit = (run.orders["tag"] == "force_exit") & (run.orders["time"] >= report.end)
    live = run.orders[~final_exit]
    weights = weights_from_book(ledger.rebuild(live, closes, report.investment), closes)
    parsed = targets_and_band(config)
    facts: dict[str, str] = {}
    if parsed is None:
        targets, band = _initial_targets(run.orders, coins, report.investment), Band()
    else:
        targets, band, facts = parsed
        weights = weights[[c for c in targets if c != "cash"] + ["cash"]]
    check = report.final_value / report.freqtrade_final_balance - 1
    return PortfolioHistory(
        vs_hold=vs_hold_at_end(live, closes, report.investment),
        equity=report.equity,
        hold_equity=report.hold_equity,
        weights=weights,
        targets=targets,
        band=band,
        trades=trades_from_orders(run.orders),
        stake_currency=stake,
        title=title or f"{result.get('strategy_name', 'SmartPortfolio')} backtest",
        facts={
            "Period": f"{report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC",
            "Timeframe": timeframe,
            "Investment": f"{report.investment:,.2f} {stake}",
            **facts,
            "Band": band.describe(),
            **_market_facts(events),
            "Source": f"freqtrade backtest {Path(run.result_path).name}",
            "Check": f"final value rebuilt from the orders {report.final_value:,.2f} vs freqtrade's "
            f"final balance {report.freqtrade_final_balance:,.2f} ({check:+.1e})",
        },
        market_events=events,
    )


def from_backtest_result(
    path: str | Path, datadir: Path, *, strategy: str = "SmartPortfolio", title: str | None = None
) -> PortfolioHistory:
    """The history of a ``backtest-result-*.zip`` (its orders valued on the candles in ``datadir``)."""
    path = Path(path)
    result = load_backtest_result(path, strategy)
    orders = orders_from_trades(result["trades"], str(result.get("stake_currency", "USDT")))
    if orders.empty:
        raise ValueError(f"{path} has no filled orders: nothing to report")
    run = BacktestRun(result, orders, path, "", 0.0)
    return from_backtest_run(run, datadir, config=read_result_config(path), title=title)


def from_engine(
    result: EngineResult,
    targets: Targets,
    rule: RebalanceRule | None = None,
    *,
    hold: EngineResult | None = None,
    stake_currency: str = "USDT",
    title: str = "SmartPortfolio (fast engine)",
) -> PortfolioHistory:
    """The history of a fast-engine run; ``hold`` is :func:`engine.buy_and_hold` on the same prices."""
    events = result.rebalances.reset_index(drop=True)
    event = result.trades["rebalance"].to_numpy(dtype=np.int64)
    known = (event >= 0) & (event < len(events))
    safe = np.where(known, event, 0)
    kinds = events["kind"].to_numpy(dtype=object)
    reasons = events["reason"].fillna("").astype(str).to_numpy(dtype=object)
    reasons = np.where(reasons == "", kinds, reasons)
    trades = result.trades.assign(
        kind=np.where(known, np.where(kinds[safe] == "initial", "initial", "rebalance"), "final")
        if len(events)
        else "final",
        reason=np.where(known, reasons[safe], "final sale") if len(events) else "final sale",
    )
    goals = dict(zip(targets.coins, targets.weights, strict=True))
    if targets.cash:
        goals["cash"] = targets.cash
    band = Band() if rule is None else Band(rule.threshold, rule.relative)
    summary = {k: v for k, v in result.summary.items()}
    return PortfolioHistory(
        equity=result.equity,
        hold_equity=None if hold is None else hold.equity,
        weights=result.weights,
        targets=goals,
        band=band,
        trades=trades_frame(trades),
        stake_currency=stake_currency,
        title=title,
        strategy_stats=summary,
        hold_stats=None if hold is None else dict(hold.summary),
        facts={
            "Period": f"{result.equity.index[0]:%Y-%m-%d %H:%M} → "
            f"{result.equity.index[-1]:%Y-%m-%d %H:%M} UTC",
            "Band": band.describe(),
            "Source": f"fast engine, {result.mode} mode",
        },
    )


_DB_ORDERS = """
SELECT o.ft_pair AS pair, o.ft_order_side AS side, o.filled AS amount,
       COALESCE(o.average, o.price, o.ft_price) AS price,
       COALESCE(o.order_filled_date, o.order_update_date, o.order_date) AS time,
       o.ft_order_tag AS tag, o.ft_order_side = CASE WHEN t.is_short THEN 'sell' ELSE 'buy' END AS is_entry,
       t.fee_open, t.fee_close, t.exit_reason, t.stake_currency, t.timeframe
FROM orders o JOIN trades t ON o.ft_trade_id = t.id
WHERE o.ft_is_open = 0 AND o.filled > 0 AND COALESCE(o.ft_order_tag, '') != :compaction
ORDER BY time, o.id
"""


def orders_from_db(path: str | Path) -> tuple[pd.DataFrame, str | None]:
    """Filled orders of a freqtrade database in :func:`orders_from_trades`'s layout, and the timeframe."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        # a compaction's two bookkeeping orders (adapter/compaction.py) are no fills
        raw = pd.read_sql_query(_DB_ORDERS, db, params={"compaction": COMPACTION_TAG})
    if raw.empty:
        return pd.DataFrame(columns=["time", "coin", "side", "amount", "price", "value", "fee", "tag"]), None
    fee_rate = raw["fee_open"].where(raw["is_entry"] == 1, raw["fee_close"]).fillna(0.0)
    tag = raw["tag"].fillna("")
    tag = tag.where(tag != "", raw["exit_reason"].where(raw["is_entry"] == 0).fillna(""))
    orders = pd.DataFrame(
        {
            "time": pd.to_datetime(raw["time"], utc=True, format="mixed"),
            "coin": raw["pair"].str.split("/").str[0],
            "side": raw["side"],
            "amount": raw["amount"].astype(float),
            "price": raw["price"].astype(float),
        }
    )
    orders["value"] = orders["amount"] * orders["price"]
    orders["fee"] = orders["value"] * fee_rate
    orders["tag"] = tag
    timeframe = raw["timeframe"].dropna()
    return orders.sort_values("time", kind="stable").reset_index(drop=True), (
        format_minutes(int(timeframe.iloc[0])) if len(timeframe) else None
    )


def from_freqtrade_db(
    path: str | Path,
    datadir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    investment: float | None = None,
    timeframe: str | None = None,
    end: pd.Timestamp | None = None,
    title: str = "SmartPortfolio bot",
) -> PortfolioHistory:
    """The history of a running (or stopped) bot from its sqlite database and the candle files.

    The database holds no starting balance: ``investment`` (or the config's
    ``smartfolio.investment``) is the cash the bot started with. Open positions are valued at the
    last close before ``end`` (default: the end of the candle data).
    """
    orders, db_timeframe = orders_from_db(path)
    if orders.empty:
        raise ValueError(f"{path} has no filled orders: nothing to report")
    timeframe = timeframe or (config or {}).get("timeframe") or db_timeframe or "1h"
    section = (config or {}).get("smartfolio") or {}
    start_cash = float(investment if investment is not None else section.get("investment", 0) or 0)
    if start_cash <= 0:
        raise ValueError("from_freqtrade_db: give the starting balance (investment=...) or a config")
    coins = sorted(set(orders["coin"]))
    step = pd.Timedelta(minutes=parse_minutes(timeframe, "timeframe"))
    start = orders["time"].iloc[0].floor(step)
    known = load_closes(coins, timeframe, start=start, end=end, datadir=datadir, join="outer")
    if known.empty:
        raise ValueError(f"no {timeframe} candles for {', '.join(coins)} after {start} in {datadir}")
    stop = known.index[-1] + step
    closes = window_prices(known, start, stop, step)  # a halted or later-listed coin cuts nothing
    events = market_events(known, start, stop, step)
    book = ledger.rebuild(orders, closes, start_cash)
    hold = ledger.rebuild(orders[orders["tag"] == INITIAL_TAG], closes, start_cash)
    parsed = targets_and_band(config)
    facts: dict[str, str] = {}
    if parsed is None:
        targets, band = _initial_targets(orders, coins, start_cash), Band()
    else:
        targets, band, facts = parsed
    stake = str((config or {}).get("stake_currency", "USDT"))
    return PortfolioHistory(
        vs_hold=vs_hold_at_end(orders[~orders["tag"].isin(FINAL_TAGS)], closes, start_cash),
        equity=book["value"],
        hold_equity=hold["value"] if (orders["tag"] == INITIAL_TAG).any() else None,
        weights=weights_from_book(book, closes),
        targets=targets,
        band=band,
        trades=trades_from_orders(orders),
        stake_currency=stake,
        title=title,
        facts={
            "Period": f"{closes.index[0]:%Y-%m-%d %H:%M} → {closes.index[-1]:%Y-%m-%d %H:%M} UTC",
            "Timeframe": timeframe,
            "Investment": f"{start_cash:,.2f} {stake}",
            **facts,
            "Band": band.describe(),
            **_market_facts(events),
            "Source": f"freqtrade database {Path(path).name}",
        },
        market_events=events,
    )
