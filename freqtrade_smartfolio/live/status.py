"""A running portfolio's state from the bot's REST API: per coin the target weight, the actual weight
(live prices), the deviation and the value; the time of the last and the next check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from freqtrade.exchange import timeframe_to_seconds

from freqtrade_smartfolio.live.connect import BotClient
from freqtrade_smartfolio.live.records import api_trades
from freqtrade_smartfolio.portfolio.vs_hold import VsHold, orders_from_trade_dicts, vs_hold


@dataclass(frozen=True)
class CoinStatus:
    coin: str
    target: float  # percent
    weight: float  # percent, at live prices
    amount: float
    price: float
    value: float
    note: str = ""  # why the coin does not trade now (no candle, delisting), '' when it trades

    @property
    def deviation(self) -> float:
        """Percentage points above (+) or below (-) target."""
        return self.weight - self.target


@dataclass(frozen=True)
class PortfolioStatus:
    state: str
    stake: str
    coins: tuple[CoinStatus, ...]  # the last one is the stake currency (cash)
    total: float
    timeframe: str
    last_check: datetime | None
    next_check: datetime | None
    # did rebalancing pay? the portfolio against holding its start coins, from its orders (None before
    # the initial allocation, or when the investment is not known)
    vs_hold: VsHold | None = None

    @property
    def max_deviation(self) -> float:
        return max(abs(c.deviation) for c in self.coins)


# freqtrade caches the rate /status calls current_rate for up to 300 s (its exit-rate cache) and the
# tickers /balance values coins with for 600 s; the close of a candle that closed more recently is fresher.
RATE_CACHE_SECONDS = 300


def _candle_status(
    client: BotClient, pair: str, timeframe: str
) -> tuple[float | None, datetime | None, float | None, tuple[datetime, float] | None]:
    """(target percent, open time of the last checked candle, investment, (close time, close) of the last
    closed candle) from the strategy's sf_* columns."""
    answer = client.pair_candles(
        pair, timeframe, limit=50, columns=["sf_weight", "sf_target", "sf_investment"]
    )
    columns = answer.get("columns", [])
    if "sf_target" not in columns or not answer.get("data"):
        return None, None, None, None
    rows = [dict(zip(columns, row, strict=False)) for row in answer["data"]]
    target = rows[-1].get("sf_target")
    investment = rows[-1].get("sf_investment")
    checked = [r for r in rows if r.get("sf_weight") is not None and not _is_nan(r["sf_weight"])]
    last = _parse_time(checked[-1]["date"]) if checked else None
    close = rows[-1].get("close")
    closed = None
    if isinstance(close, int | float) and close > 0:
        step = timedelta(seconds=timeframe_to_seconds(timeframe))
        closed = (_parse_time(rows[-1]["date"]) + step, float(close))
    return (
        float(target) if target is not None else None,
        last,
        float(investment) if investment is not None and not _is_nan(investment) else None,
        closed,
    )


def fresher_price(current_rate: float, closed: tuple[datetime, float] | None, now: datetime) -> float:
    """The last close when its candle closed less than freqtrade's rate cache ago (it is then at least
    as fresh as /status' current_rate; with the offline exchange's replay clock always), else the rate."""
    if closed is not None and (now - closed[0]).total_seconds() < RATE_CACHE_SECONDS:
        return closed[1]
    return current_rate or (closed[1] if closed else 0.0)


def portfolio_cash(free: float, investment: float | None, closed_profit: float, trades: list[dict]) -> float:
    """The portfolio's own cash, as the strategy counts it (``SmartPortfolio._cash``): the account's free
    stake, but no more than the investment plus realised profit less the stake in its trades (the account
    may hold more), less the entry fees freqtrade has not yet charged against it (it books them on exit)."""
    unpaid = sum(
        float(t.get("open_trade_value") or 0.0) - float(t.get("stake_amount") or 0.0)
        for t in trades
        if t.get("open_trade_value")
    )
    if investment is None:
        return max(free - unpaid, 0.0)
    realised = closed_profit + sum(float(t.get("realized_profit") or 0.0) for t in trades)
    in_trades = sum(float(t.get("stake_amount") or 0.0) for t in trades)
    return max(min(free, investment + realised - in_trades) - unpaid, 0.0)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


MARKET_LOCK_PREFIX = "smartfolio market:"  # adapter.strategy.MARKET_LOCK_PREFIX (no freqtrade import)


def market_notes(client: BotClient) -> dict[str, str]:
    """Pair -> why it does not trade, from the strategy's pair locks (see SmartPortfolio._mark_markets)."""
    locks = (client.locks() or {}).get("locks", [])
    return {
        lock["pair"]: lock["reason"][len(MARKET_LOCK_PREFIX) :].strip()
        for lock in locks
        if (lock.get("reason") or "").startswith(MARKET_LOCK_PREFIX) and lock.get("active", True)
    }


def portfolio_status(client: BotClient, targets: dict[str, float] | None = None) -> PortfolioStatus:
    """Weights from /status (amount per open trade, valued at the fresher of its current rate and the last
    close: :func:`fresher_price`) and /balance (free stake, capped at the portfolio's own cash, see
    :func:`portfolio_cash`);
    targets from the strategy's ``sf_target`` column unless ``targets`` (coin -> percent) is given."""
    config = client.show_config()
    stake = config.get("stake_currency", "USDT")
    timeframe = config.get("timeframe", "1h")
    pairs = client.whitelist().get("whitelist", [])
    trades = {t["pair"]: t for t in client.status()}
    balance = client.balance()
    cash = next(
        (float(c.get("free", 0.0)) for c in balance.get("currencies", []) if c["currency"] == stake), 0.0
    )

    last_check = None
    investment = None
    found: dict[str, float] = {}
    closes: dict[str, tuple[datetime, float]] = {}
    for pair in pairs:
        target, checked, invested, closed = _candle_status(client, pair, timeframe)
        if closed is not None:
            closes[pair] = closed
        if target is not None:
            found[pair.split("/")[0]] = target
        if checked and (last_check is None or checked > last_check):
            last_check = checked
        investment = invested if invested is not None else investment
    closed_profit = float(client.profit().get("profit_closed_coin") or 0.0) if investment is not None else 0.0
    cash = portfolio_cash(cash, investment, closed_profit, list(trades.values()))
    goals = {k.upper(): float(v) for k, v in (targets or found).items() if k.upper() != stake}

    notes = market_notes(client)
    now = datetime.now(UTC)
    rows = []
    for pair in pairs:
        coin = pair.split("/")[0]
        trade = trades.get(pair, {})
        amount = float(trade.get("amount") or 0.0)
        price = fresher_price(float(trade.get("current_rate") or 0.0), closes.get(pair), now)
        rows.append((coin, goals.get(coin, math.nan), amount, price, amount * price, notes.get(pair, "")))
    total = sum(r[4] for r in rows) + cash
    cash_target = 100.0 - sum(goals.values()) if goals else math.nan
    rows.append((stake, cash_target, cash, 1.0, cash, ""))
    coins = tuple(
        CoinStatus(coin, target, 100.0 * value / total if total else 0.0, amount, price, value, note)
        for coin, target, amount, price, value, note in rows
    )
    comparison = None
    if investment is not None:
        # from every order of the portfolio (closed trades too), at the prices of the table above
        prices = {c.coin: c.price for c in coins[:-1] if c.price > 0}
        comparison = vs_hold(orders_from_trade_dicts(api_trades(client)), prices, investment)
    step = timedelta(seconds=timeframe_to_seconds(timeframe))
    # A candle is checked when it closes: the check of candle t ran at t + step; the next one runs
    # when the open candle closes.
    checked_at = last_check + step if last_check else None
    next_check = checked_at + step if checked_at else None
    return PortfolioStatus(
        config.get("state", "?"), stake, coins, total, timeframe, checked_at, next_check, comparison
    )


def format_status(status: PortfolioStatus) -> str:
    """The status as a table."""

    def when(value: datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "not yet"

    lines = [
        f"bot {status.state}, timeframe {status.timeframe}, portfolio {status.total:,.2f} {status.stake}",
        f"last check {when(status.last_check)}, next check {when(status.next_check)}",
        f"{'coin':<8}{'target %':>10}{'weight %':>10}{'dev pp':>9}{'amount':>18}{'price':>14}{'value':>14}",
    ]
    for c in status.coins:
        lines.append(
            f"{c.coin:<8}{c.target:>10.2f}{c.weight:>10.2f}{c.deviation:>+9.2f}{c.amount:>18.8g}"
            f"{c.price:>14.8g}{c.value:>14,.2f}" + (f"  {c.note}" if c.note else "")
        )
    lines += format_vs_hold(status.vs_hold, status.stake)
    return "\n".join(lines)


def format_vs_hold(result: VsHold | None, stake: str) -> list[str]:
    """ "Did rebalancing pay?": the portfolio against holding the coins it started with, per coin the
    amount held against holding's, and the fees."""
    if result is None:
        return ["did rebalancing pay? not yet (no initial allocation)"]
    lines = [
        "did rebalancing pay? (from the bot's orders, at the prices above)",
        f"  portfolio {result.value:,.2f} {stake} | holding the start coins {result.hold_value:,.2f} "
        f"({result.vs_hold:+.2f}%) | keeping {stake} {result.investment:,.2f} ({result.vs_stake:+.2f}%)",
        f"  fees {result.fees:,.2f} {stake}, {result.rebalance_fees:,.2f} of them in "
        f"{result.rebalance_orders} rebalance orders",
        f"  {'coin':<8}{'held':>18}{'holding':>18}{'gained':>18}{'gained %':>10}{'value':>14}",
    ]
    for c in result.coins:
        percent = f"{c.gained_percent:>+10.2f}" if math.isfinite(c.gained_percent) else f"{'new':>10}"
        lines.append(
            f"  {c.coin:<8}{c.amount:>18.8g}{c.hold_amount:>18.8g}{c.gained:>+18.8g}{percent}"
            f"{c.gained_value:>+14,.2f}"
        )
    return lines
