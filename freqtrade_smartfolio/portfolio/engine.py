"""A fast rebalancing engine that reproduces ``freqtrade backtesting`` with SmartPortfolio.

Pure numpy + the pure planning rules of :mod:`freqtrade_smartfolio.portfolio.plan` (no freqtrade
import). Two layers, vectorbt style: a kernel working on plain arrays (:func:`run_kernel`) and a
pandas wrapper (:func:`simulate`, :func:`buy_and_hold`, :func:`sweep`).

Speed comes from skipping the quiet bars: between two rebalances holdings and cash are constant, so
the kernel finds the next bar whose weights leave the band (or whose schedule is due) with one
vectorised pass over a block of bars; only the bars that trade run Python code (``plan.py``).

Modes (see docs/engine.md):

``"freqtrade"`` - what the strategy does inside freqtrade's backtester:
  * at bar ``r`` (freqtrade's ``current_time``) the plan is made from the close of bar ``r-1``
    rounded to the tick; orders fill at the open of bar ``r`` (rounded to the tick);
  * triggers as the strategy's ``_trigger``: LISTING (a coin whose candles start while others are
    held) > COMPLETION (a candle left a tradable part of a buy unfilled) > plan.py's
    :func:`check_trigger` (INITIAL, SCHEDULE when due, THRESHOLD), by a bit-identical vectorised scan
    over the bars where every coin has a candle, and bar by bar elsewhere; the schedule counts from
    the last SCHEDULE/INITIAL trigger;
  * a coin without a candle (``Market.valid``: not listed yet, halted, data ended) is valued at its
    last close and not traded; the plan steers by ``targets.tradable_targets``; it fills nothing at a
    bar where it has no row, and its trade is force-sold at the open of its own last candle;
  * pairs are processed in the order their trades were opened (then the others, whitelist order);
    a sell fills in full (unless freqtrade's own minimum would be left behind) when its price, on the
    trade's price precision, lies inside the candle (else it stays unfilled and is cancelled); a buy
    spends at most the cash the fills left and the strategy's view of it (sales earlier in the candle
    included), is deferred under the coin's minimum order and fitted to the lot
    (:func:`lots.fit_buy_to_lot`);
  * freqtrade's bookkeeping is mirrored: free stake = start + realised profit - stakes at the
    average entry price, open_rate and exit prices on the backtester's per-month price precision;
  * at the end every position is force-sold at the open of its pair's last bar (``final_balance``).
``"clean"`` - an ideal one-step rebalance decided and filled at the same close: each coin trades
  ``(target - weight) * value`` of cash with the fee inside the trade (bt's convention), no lots,
  no minimum orders, no deferral. ``bt_quantities=True`` reproduces bt's Newton search for the
  quantity bit for bit (bt stops within 1e-8 of the amount).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.lots import decimals_of, fit_buy_to_lot, round_to_tick, truncate_to_step
from freqtrade_smartfolio.portfolio.plan import (
    FEE_ITERATIONS,
    CoinRules,
    PortfolioState,
    RebalanceRule,
    TriggerKind,
    check_trigger,
    fund_buys,
)
from freqtrade_smartfolio.portfolio.targets import Targets, tradable_targets

Mode = Literal["freqtrade", "clean"]
NS_PER_MINUTE = 60_000_000_000
AMOUNT_RESERVE = 1.05  # freqtrade's default amount_reserve_percent (5%)
EXCESS_TOLERANCE = 1e-12  # as plan.out_of_band_reason
SELL_NUDGE = 1e-9  # SmartPortfolio nudges a sale's stake up so float error cannot drop one lot
BT_TOL = 1e-16  # bt.core.TOL
OHLC = ("open", "high", "low", "close")
FIRST_BLOCK = 32
MAX_BLOCK = 4096


# ------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True, eq=False)
class Market:
    """Aligned candles: ``open``/``close`` (and optionally ``high``/``low``) are (bars x coins) float
    arrays, ``dates`` int64 ns UTC.

    ``valid`` (bars x coins, optional) says where a coin has a candle: a coin listed, halted or ended
    inside the window has none there, and its prices are then its last close (forward fill; before
    its first candle, its first close, never used: it holds nothing then). None = every coin has a
    candle on every bar.
    """

    coins: tuple[str, ...]
    dates: np.ndarray
    open: np.ndarray
    close: np.ndarray
    timeframe_minutes: float
    price_ticks: np.ndarray | None = None  # freqtrade's backtest price precision per bar and coin
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.coins))
        for name in ("open", "close", "high", "low"):
            array = getattr(self, name)
            if array is None:
                continue
            if array.shape != shape:
                raise ValueError(f"Market.{name} has shape {array.shape}, expected {shape} (bars x coins)")
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise ValueError(f"Market.{name}: prices must be positive and finite (align the data first)")
        if self.valid is not None and self.valid.shape != shape:
            raise ValueError(f"Market.valid has shape {self.valid.shape}, expected {shape} (bars x coins)")
        if len(self.dates) < 2:
            raise ValueError("Market: need at least two bars")

    @functools.cached_property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="date").tz_localize("UTC")

    def select(self, coins: Sequence[str]) -> Market:
        """The same market restricted to (and ordered as) ``coins``."""
        idx = [self.coins.index(c) for c in coins]

        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else np.ascontiguousarray(array[:, idx])

        valid = pick(self.valid)
        return Market(
            tuple(coins),
            self.dates,
            np.ascontiguousarray(self.open[:, idx]),
            np.ascontiguousarray(self.close[:, idx]),
            self.timeframe_minutes,
            pick(self.price_ticks),
            pick(self.high),
            pick(self.low),
            None if valid is None or valid.all() else valid,
        )


PriceInput = Market | Mapping[str, pd.DataFrame]


def as_market(prices: PriceInput, coins: Sequence[str] | None = None) -> Market:
    """A :class:`Market` from a Market or a dict of date x coin DataFrames ``{'open':..., 'close':...}``
    (``'high'``/``'low'`` optional).

    Bars where some coins lack a price are kept (:func:`engine_market.align_candles`): a coin has a
    candle from its first to its last price; a gap inside that span is filled as freqtrade fills it
    (every price = the last close, still a candle); outside it the coin has none (``Market.valid``).
    Bars before the first or after the last price of any coin are dropped; a bar inside where no coin
    has a price is kept (nothing is planned on the bar after it, as in freqtrade).
    """
    if isinstance(prices, Market):
        return prices if coins is None or tuple(coins) == prices.coins else prices.select(coins)
    from freqtrade_smartfolio.portfolio.engine_market import align_candles

    close = prices["close"]
    open_ = prices.get("open", close)
    cols = list(coins) if coins is not None else list(close.columns)
    fields = {"open": open_[cols], "close": close[cols]}
    if "high" in prices and "low" in prices:
        fields |= {"high": prices["high"][cols], "low": prices["low"][cols]}
    frame = pd.concat(fields, axis=1)
    some = np.flatnonzero(frame.notna().to_numpy().any(axis=1))
    if len(some):  # bars before the first and after the last price of any coin go
        frame = frame.iloc[some[0] : some[-1] + 1]
    index = pd.DatetimeIndex(frame.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    dates = index.as_unit("ns").asi8.copy()
    steps = np.diff(dates)
    tf = float(np.min(steps[steps > 0]) / NS_PER_MINUTE) if len(steps) else 0.0
    aligned, valid = align_candles({name: frame[name].to_numpy(dtype=float) for name in fields})
    ticks = None
    if "high" in fields:
        # freqtrade's precision comes from each pair's own (filled) candles: NaN cells count for nothing
        ticks = np.column_stack(
            [
                backtest_price_ticks(
                    index,
                    [np.where(valid[:, k], aligned[col][:, k], np.nan) for col in OHLC],
                )
                for k in range(len(cols))
            ]
        )
    return Market(
        tuple(cols),
        dates,
        aligned["open"],
        aligned["close"],
        tf,
        ticks,
        aligned.get("high"),
        aligned.get("low"),
        None if valid.all() else valid,
    )


def _decimals(values: np.ndarray) -> np.ndarray:
    """Decimals up to the last non-zero digit at 14 significant digits (nan for whole numbers)."""
    unique, inverse = np.unique(values, return_inverse=True)
    counts = np.empty(len(unique))
    for k, value in enumerate(unique):
        text = np.format_float_positional(value, precision=14, unique=False, fractional=False, trim="-")
        tail = text.partition(".")[2]
        tail = tail.rstrip("0")
        counts[k] = len(tail) if tail else math.nan
    return counts[inverse]


def backtest_price_ticks(index: pd.DatetimeIndex, ohlc: Sequence[np.ndarray]) -> np.ndarray:
    """The price precision freqtrade's backtester gives a trade opened at each bar (its
    ``get_tick_size_over_time``: the most decimals any open/high/low/close shows in the calendar
    month, as a tick; nan where unknown, meaning the exchange's tick)."""
    counts = np.fmax.reduce([_decimals(np.asarray(col, dtype=float)) for col in ohlc])
    monthly = pd.Series(counts, index=index).resample("MS").max()
    ticks = 1 / 10**monthly
    return ticks.asof(index).to_numpy(dtype=float)


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def load_market(
    coins: Sequence[str],
    timeframe: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    datadir: Path | str | None = None,
) -> Market:
    """Candles of ``coins`` from the data folder for ``start <= date <= end`` (both inclusive, as
    freqtrade's ``--timerange``), on every candle time from the first to the last any coin has; a coin
    without a candle on a bar (not listed yet, halted, data ended) is marked in ``Market.valid``."""
    from freqtrade_smartfolio.marketdata import load_candles
    from freqtrade_smartfolio.portfolio.engine_market import regular_grid

    lo, hi = _utc(start), _utc(end)
    columns: dict[str, dict[str, pd.Series]] = {col: {} for col in OHLC}
    for coin in coins:
        frame = load_candles(coin, timeframe, Path(datadir) if datadir is not None else None)
        frame = frame[(frame["date"] >= lo) & (frame["date"] <= hi)].set_index("date")
        for col in OHLC:
            columns[col][coin] = frame[col]
    joined = {col: pd.concat(series, axis=1, join="outer").sort_index() for col, series in columns.items()}
    if joined["close"].notna().sum().sum() < 2:
        raise ValueError(
            f"load_market: no candle of {', '.join(coins)} on {timeframe} between {lo} and {hi} in "
            f"{datadir or 'the data folder'}: pick a window inside the data, or download it"
        )
    grid = regular_grid(pd.DatetimeIndex(joined["close"].index), timeframe)
    return as_market({col: frame.reindex(grid) for col, frame in joined.items()}, coins)


@dataclass(frozen=True)
class ExchangeRules:
    """What the exchange's market says about one coin: tick size, and the limits freqtrade checks."""

    tick: float = 0.0
    min_cost: float = 0.0
    min_amount: float = 0.0


# ------------------------------------------------------------------------------------------ helpers


def price_to_precision(price: float, tick: float) -> float:
    """freqtrade's ``price_to_precision`` (ROUND, TICK_SIZE): half-up on the decimal repr."""
    if not tick or tick <= 0 or math.isnan(tick):
        return price
    decimals = decimals_of(tick)
    if round(price, decimals) == price:
        return price
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(str(price)).quantize(quantum, rounding="ROUND_HALF_UP"))


def on_grid(amount: float, step: float, decimals: int | None = None) -> float:
    """A sum of lot-sized amounts back on the lot grid (freqtrade adds order amounts as decimals)."""
    if not step or step <= 0:
        return amount
    return round(round(amount / step) * step, decimals_of(step) if decimals is None else decimals)


def min_stake(rules: ExchangeRules, price: float, stoploss: float) -> float:
    """freqtrade's ``Exchange.get_min_pair_stake_amount`` (5% amount reserve) for a market."""
    stoploss_reserve = AMOUNT_RESERVE / (1 - abs(stoploss)) if abs(stoploss) != 1 else 1.5
    stoploss_reserve = max(min(stoploss_reserve, 1.5), 1)
    limits = []
    if rules.min_cost:
        limits.append(rules.min_cost * stoploss_reserve)
    if rules.min_amount:
        limits.append(rules.min_amount * price * AMOUNT_RESERVE)
    return max(limits) if limits else 0.0


def bt_quantity(amount: float, price: float, fee: float) -> float:
    """bt's ``Security.allocate`` quantity for ``amount`` of cash (commission ``|q| * p * fee``,
    ``integer_positions=False``): its Newton search, stopped as bt stops it."""
    q = amount / price
    if q == 0:
        return 0.0
    full = q * price + abs(q) * price * fee
    while abs(full - amount) > 1e-8 + BT_TOL * abs(amount) and q != 0:
        q = q - (full - amount) / price
        full = q * price + abs(q) * price * fee
    return q


# ------------------------------------------------------------------------------------------ fast plan


def _floor_to_step(amount: float, step: float) -> float:
    """plan._floor_to_step."""
    if step <= 0:
        return amount
    return math.floor(amount / step + 1e-9) * step


def fast_plan(
    amounts: np.ndarray,
    prices: np.ndarray,
    cash: float,
    goal: np.ndarray,
    target_cash: float,
    min_orders: Sequence[float],
    steps: Sequence[float],
    fee: float,
    buys_only: bool = False,
    tradable: np.ndarray | None = None,
) -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
    """The orders of :func:`plan.plan_rebalance`, bit for bit, without building the plan objects.

    ``tradable`` (optional mask): coins that do not trade are neither sold nor bought (their deltas
    are 0 inside the fee iteration, as plan.target_deltas). Returns ``(sells, buys)`` as
    ``(coin index, amount, value)``; tests/test_engine.py checks it against plan.py on random states
    (hypothesis).
    """
    values = amounts * prices
    total = float(values.sum()) + cash  # PortfolioState.total
    deltas = goal * total - values
    still = None if tradable is None or tradable.all() else ~np.asarray(tradable, dtype=bool)
    if still is not None:
        deltas[still] = 0.0
    for _ in range(FEE_ITERATIONS):
        deltas = goal * (total - fee * float(np.abs(deltas).sum())) - values
        if still is not None:
            deltas[still] = 0.0
    traded_estimate = float(np.abs(deltas).sum())
    d = deltas.tolist()
    held_all = amounts.tolist()
    p_all = prices.tolist()
    g_all = goal.tolist()
    sells: list[tuple[int, float, float]] = []
    for i, delta in enumerate(d):
        held = held_all[i]
        if buys_only or delta >= 0 or held <= 0:  # a completion only buys (plan.py)
            continue
        price, min_order, step = p_all[i], min_orders[i], steps[i]
        amount = held if g_all[i] == 0 else min(held, _floor_to_step(-delta / price, step))
        remainder = (held - amount) * price
        if 0 < remainder < min_order:
            amount = _floor_to_step(held - min_order / price, step)
            if amount <= 0:
                continue
        value = amount * price
        if value < min_order or amount <= 0:
            continue
        sells.append((i, amount, value))
    proceeds = sum(v for _, _, v in sells) * (1 - fee)
    cash_reserve = target_cash * max(total - fee * traded_estimate, 0.0)
    spendable = max(cash + proceeds - cash_reserve, 0.0)
    wanted = [(i, delta) for i, delta in enumerate(d) if delta > 0]
    scale, funded = fund_buys(wanted, min_orders, spendable, fee)
    spendable_total = cash + proceeds
    buys: list[tuple[int, float, float]] = []
    for i, want in wanted:
        stake = want * scale if funded is None or i in funded else 0.0
        if stake < min_orders[i]:
            continue
        stake = min(stake, spendable_total / (1 + fee))
        spendable_total -= stake * (1 + fee)
        buys.append((i, stake / p_all[i], stake))
    return sells, buys


# ------------------------------------------------------------------------------------------ kernel


@dataclass
class KernelOutput:
    """Raw kernel results (plain arrays/lists; the wrapper turns them into pandas)."""

    change_rows: list[int] = field(default_factory=list)  # bars after which holdings changed
    amounts: list[np.ndarray] = field(default_factory=list)  # holdings after those bars
    cash: list[float] = field(default_factory=list)  # real cash after those bars
    events: list[tuple[int, str, str, bool]] = field(default_factory=list)  # row, kind, reason, incomplete
    fills: list[tuple[int, int, str, float, float, float, int]] = field(
        default_factory=list
    )  # row, coin, side, amount, price, fee, event number
    final_value: float = 0.0
    fees: float = 0.0
    traded_value: float = 0.0  # rebalance orders only (not the initial buys, not the final sale)
    rebalances: int = 0  # events that traded, the initial allocation excluded


class _TradeBook:
    """freqtrade's view of the open trades, one slot per coin (plain floats: the fills are scalar)."""

    def __init__(self, n: int) -> None:
        self.amount = [0.0] * n  # trade.amount
        self.stake = [0.0] * n  # trade.stake_amount: cost basis at the average entry price
        self.avg = [0.0] * n  # average entry price, unrounded
        self.open_rate = [0.0] * n  # trade.open_rate: the average entry price on the price grid
        self.realized = [0.0] * n  # trade.realized_profit
        self.flow = [0.0] * n  # cash the trade's filled orders moved (adapter/cash.py's trade_cash_flow)
        self.opened: list[int] = []  # trades in the order they were opened


class _Kernel:
    """One run of one parameter set over prepared arrays."""

    def __init__(
        self,
        market: Market,
        targets: Targets,
        rule: RebalanceRule,
        rules: Sequence[CoinRules],
        fee: float,
        investment: float,
        exchange: Sequence[ExchangeRules],
        mode: Mode,
        bt_quantities: bool,
        record: bool,
        prepared: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.coins = market.coins
        self.n = len(market.coins)
        self.dates = market.dates
        self.tf_ns = round(market.timeframe_minutes * NS_PER_MINUTE)
        self.targets = targets
        self.rule = rule
        self.rules = tuple(rules)
        self.fee = float(fee)
        self.investment = float(investment)
        self.exchange = tuple(exchange)
        self.mode = mode
        self.bt_quantities = bt_quantities
        self.record = record
        self.steps = [r.step for r in self.rules]
        self.step_decimals = [decimals_of(step) for step in self.steps]
        self.min_orders = [r.min_order for r in self.rules]
        prep = prepared or prepare_prices(market, exchange, mode)
        self.open_r = prep["open"]
        self.close_r = prep["close"]
        self.high_r = prep.get("high")
        self.low_r = prep.get("low")
        self.mark = market.close
        self.price_ticks = market.price_ticks
        # Which coins have a candle on each bar (None: all of them, on every bar). A bar r is
        # "special" when a coin lacks the candle r-1 the plan is made from, or the set of coins with
        # a candle changed: the vectorised scan stops there and the bar is checked one by one.
        self.valid = None if mode == "clean" or market.valid is None else market.valid
        bars = len(self.dates)
        self.special = np.zeros(0, dtype=np.int64)
        self.last_rows = [bars - 1] * self.n  # each pair's last candle (freqtrade's data[pair][-1])
        self.prev_checked = np.zeros(0, dtype=np.int64)
        if self.valid is not None:
            valid = self.valid
            flags = np.zeros(bars, dtype=bool)
            flags[1:] = ~valid[:-1].all(axis=1)
            flags[2:] |= (valid[1:-1] != valid[:-2]).any(axis=1)
            self.special = np.flatnonzero(flags)
            self.last_rows = [
                int(np.flatnonzero(valid[:, i])[-1]) if valid[:, i].any() else -1 for i in range(self.n)
            ]
            # the last bar before each bar on which some coin had a candle (MarketWatch's last check)
            checked = valid.any(axis=1)
            marks = np.where(checked, np.arange(bars), -1)
            self.prev_checked = np.concatenate([[-1], np.maximum.accumulate(marks)[:-1]])
        self.trade_tick = np.zeros(self.n)  # price precision of each open trade (set at entry)
        # plan.out_of_band_reason: out when |weight - goal| - width > 1e-12 (cash included)
        self.goal = np.append(targets.array, targets.cash)
        self.width: np.ndarray | None = None
        if rule.threshold is not None:
            # relative bands scale with the target; a zero target (cash) keeps the absolute width
            relative_width = np.where(self.goal > 0, self.goal * rule.threshold, rule.threshold)
            self.width = relative_width if rule.relative else np.full(self.n + 1, rule.threshold)
        self.out = KernelOutput()
        self.last_gap = 0

    # ------------------------------------------------------------ trigger search (vectorised)
    def scan(self, first: int, amounts: np.ndarray, cash: float, last_tick: int | None, lag: int) -> int:
        """First bar ``r >= first`` whose plan (prices of bar ``r - lag``) triggers, or -1."""
        total_bars = len(self.dates)
        rule = self.rule
        if len(self.special):  # bars with coins that lack a candle are checked one by one
            at = int(np.searchsorted(self.special, first, side="left"))
            if at < len(self.special):
                total_bars = int(self.special[at])
                if total_bars <= first:
                    return first
        schedule_row = total_bars
        if rule.interval_minutes is not None:
            if last_tick is None:
                return first
            due = last_tick + rule.interval_minutes * NS_PER_MINUTE
            plan_times = self.dates + (self.tf_ns if lag else 0)
            # the strategy compares minutes as floats; the dates are whole minutes, so this is exact
            schedule_row = max(first, int(np.searchsorted(plan_times, due, side="left")) + lag)
        if self.width is None:
            if schedule_row < total_bars:
                return schedule_row
            return total_bars if total_bars < len(self.dates) else -1
        if not (amounts > 0).any():
            return first  # nothing held: the initial allocation is due now
        r = first
        block = max(FIRST_BLOCK, 2 * self.last_gap)  # quiet spells tend to be alike: guess from the last
        while r < min(total_bars, schedule_row):
            hi = min(total_bars, schedule_row, r + block)
            hits = np.flatnonzero(self.out_of_band(r, hi, amounts, cash, lag))
            if len(hits):
                self.last_gap = r + int(hits[0]) - first
                return r + int(hits[0])
            r = hi
            block = min(block * 4, MAX_BLOCK)
        if schedule_row < total_bars:
            return schedule_row
        return total_bars if total_bars < len(self.dates) else -1

    def out_of_band(self, lo: int, hi: int, amounts: np.ndarray, cash: float, lag: int) -> np.ndarray:
        """For bars ``lo..hi-1``: is any weight out of its band at the prices of bar ``r - lag``?

        freqtrade mode: plan.out_of_band_reason's test (cash included, 1e-12 tolerance, values
        summed left to right then cash). Clean mode: bt's RunIfOutOfBounds (relative deviation
        strictly above the threshold; cash only checked when it has a target; cash summed first).
        """
        goal, width = self.goal, self.width
        if width is None:
            return np.zeros(hi - lo, dtype=bool)
        if self.mode == "clean":
            # bt: capital + each child's value, in order (cash in column 0, then cumsum)
            buf = np.empty((hi - lo, self.n + 1))
            buf[:, 0] = cash
            values = np.multiply(self.close_r[lo:hi], amounts, out=buf[:, 1:])
            total = np.cumsum(buf, axis=1)[:, -1]
            w = values / total[:, None]
            threshold = float(self.rule.threshold or 0.0)
            if self.rule.relative:  # |dev| > t  <=>  dev > t or dev < -t (bt's test)
                out = (np.abs((w - goal[:-1]) / goal[:-1]) > threshold).any(axis=1)
            else:
                out = (np.abs(w - goal[:-1]) > threshold).any(axis=1)
            if self.targets.cash > 0:
                out |= np.abs(cash / total - goal[-1]) > threshold
            return out
        values = self.close_r[lo - lag : hi - lag] * amounts
        if self.mode == "freqtrade":
            # plan.py: sum(values) left to right, then + cash (cumsum is sequential: same rounding)
            total = np.cumsum(values, axis=1)[:, -1] + cash
            out = (np.abs(values / total[:, None] - goal[:-1]) - width[:-1] > EXCESS_TOLERANCE).any(axis=1)
            out |= np.abs(cash / total - goal[-1]) - width[-1] > EXCESS_TOLERANCE
            return out
        raise ValueError(f"unknown mode {self.mode!r}")

    # ------------------------------------------------------------ freqtrade mode
    def run_freqtrade(self, hold: bool = False) -> KernelOutput:
        n, fee, out = self.n, self.fee, self.out
        last = len(self.dates) - 1
        book = _TradeBook(n)
        amounts = np.zeros(n)  # the same holdings as book.amount, as an array for the scans
        cash = self.investment  # the real cash
        seen = self._strategy_cash(book)
        last_tick: int | None = None
        incomplete = False
        interval = self.rule.interval_minutes
        r = 1
        while r <= last:
            if not incomplete:
                if hold and book.opened:
                    break
                r = self.scan(r, amounts, seen, last_tick, lag=1)
                if r < 0:
                    break
            prices = self.close_r[r - 1]
            plan_time = int(self.dates[r - 1]) + self.tf_ns
            tradable: np.ndarray | None = None  # None: every coin has the candle r-1
            listing = ""
            if self.valid is not None:
                mask = self.valid[r - 1]
                if not mask.any():  # no coin has a candle: no plan, nothing updated
                    r += 1
                    continue
                listing = self._listing(r, mask, amounts)
                tradable = None if mask.all() else mask
            state = PortfolioState(self.coins, amounts.copy(), prices, seen)
            steer = self.targets
            if tradable is not None:  # the strategy's _steering_targets
                steer = tradable_targets(self.targets, tradable, state.values, state.total)
            special = tradable is not None or (len(self.special) > 0 and self._is_special(r))
            # SmartPortfolio._trigger: LISTING > COMPLETION > plan.check_trigger
            if listing and float(state.values.sum()) > 0:
                kind, reason = TriggerKind.LISTING, listing
            elif incomplete:
                kind, reason = TriggerKind.COMPLETION, "buys waiting for cash from sales"
            else:
                if self.record or special:  # plan.py's own verdict, with its human reason
                    since = None if last_tick is None else (plan_time - last_tick) / NS_PER_MINUTE
                    trigger = check_trigger(state, steer, self.rule, since)
                    if trigger is None:  # a quiet special bar (the scan never stops on a quiet one)
                        r += 1
                        continue
                    kind, reason = trigger.kind, trigger.reason
                elif float(state.values.sum()) <= 0:
                    kind, reason = TriggerKind.INITIAL, ""
                elif interval is not None and (
                    last_tick is None or (plan_time - last_tick) / NS_PER_MINUTE >= interval
                ):
                    kind, reason = TriggerKind.SCHEDULE, ""  # a due schedule comes before the band
                else:
                    kind, reason = TriggerKind.THRESHOLD, ""
                if kind in (TriggerKind.SCHEDULE, TriggerKind.INITIAL):
                    last_tick = plan_time
            sells, buys = fast_plan(
                amounts,
                prices,
                seen,
                steer.array,
                steer.cash,
                self.min_orders,
                self.steps,
                fee,
                buys_only=kind is TriggerKind.COMPLETION,
                tradable=tradable,
            )
            incomplete = False
            if sells or buys:
                orders = {i: ("sell", amount, value) for i, amount, value in sells}
                orders |= {i: ("buy", amount, value) for i, amount, value in buys}
                cash, incomplete = self._fill_freqtrade(r, kind, reason, orders, book, cash, r == last)
                amounts = np.array(book.amount)
                seen = self._strategy_cash(book)
            r += 1
        # freqtrade's handle_left_open: each open trade is force-sold at the open of its pair's own
        # last candle, at the trade's price precision (a price outside that candle does not fill)
        final = cash
        for i in book.opened:
            if book.amount[i] > 0:
                row = self.last_rows[i]
                price = price_to_precision(float(self.open_r[row, i]), self.trade_tick[i])
                if not self._fills(row, i, price):
                    continue
                gross = book.amount[i] * price
                final += gross * (1 - fee)
                out.fees += gross * fee
        out.final_value = final
        self._record_holdings(last, np.zeros(n), final)
        return out

    def _is_special(self, r: int) -> bool:
        at = int(np.searchsorted(self.special, r, side="left"))
        return at < len(self.special) and int(self.special[at]) == r

    def _listing(self, r: int, mask: np.ndarray, amounts: np.ndarray) -> str:
        """MarketWatch.update's LISTING reason at bar r ('' for none): a coin with the candle r-1 that
        had none at the last bar checked before, holds nothing, while the portfolio holds coins."""
        if self.valid is None:
            return ""
        before = int(self.prev_checked[r - 1])
        if before < 0 or float(np.sum(amounts)) <= 0:
            return ""
        new = mask & ~self.valid[before] & (amounts <= 0)
        if not new.any():
            return ""
        when = self.index_time(r - 1)
        return (
            f"{', '.join(c for c, b in zip(self.coins, new.tolist(), strict=True) if b)} trades from {when}"
        )

    def index_time(self, row: int) -> str:
        return pd.Timestamp(int(self.dates[row]), tz="UTC").strftime("%Y-%m-%d %H:%M")

    def _fills(self, row: int, i: int, price: float) -> bool:
        """freqtrade's ``_get_order_filled``: a price inside the candle's low-high range fills."""
        if self.low_r is None or self.high_r is None:
            return True
        return bool(self.low_r[row, i] <= price <= self.high_r[row, i])

    def _entry_tick(self, row: int, i: int) -> float:
        """Price precision freqtrade gives a trade opened at ``row``: from the data's decimals that
        month (backtesting's ``price_pair_prec``), else the exchange's tick."""
        if self.price_ticks is not None:
            tick = float(self.price_ticks[row, i])
            if not math.isnan(tick):
                return tick
        return self.exchange[i].tick

    def _free_stake(self, book: _TradeBook) -> float:
        """freqtrade's ``get_available_stake_amount`` in a dry-run backtest, same float operations
        (``Wallets._update_dry``: start + profit - stakes, sums in trade order)."""
        opened = book.opened
        profit = 0.0 + sum([book.realized[i] for i in opened])
        tied = sum([book.stake[i] for i in opened])
        free = self.investment + profit - tied
        return min((tied + free) * 1.0 - tied, free)

    def _filled_cash(self, book: _TradeBook) -> float:
        """adapter/cash.py's FilledCash: the investment plus each trade's filled orders' cash flow,
        summed trade by trade in the order the trades were opened."""
        total = self.investment
        for i in book.opened:
            total += book.flow[i]
        return total

    def _strategy_cash(self, book: _TradeBook, free: float | None = None) -> float:
        """SmartPortfolio._cash: free stake less the entry fees freqtrade has not charged yet
        (``open_trade_value - stake_amount``, open_rate rounded to the tick as freqtrade does)."""
        factor = 1 + self.fee
        amount, rate, stake = book.amount, book.open_rate, book.stake
        unpaid = sum([amount[i] * rate[i] * factor - stake[i] for i in book.opened])
        return max((self._free_stake(book) if free is None else free) - unpaid, 0.0)

    def _fill_freqtrade(
        self,
        r: int,
        kind: TriggerKind,
        reason: str,
        orders: Mapping[int, tuple[str, float, float]],
        book: _TradeBook,
        cash: float,
        last_row: bool,
    ) -> tuple[float, bool]:
        """Fill one candle's orders at its open, pair by pair in freqtrade's order; returns the cash
        and whether buys were left for a completion."""
        fee, out = self.fee, self.out
        price = self.open_r[r].tolist()
        initial = kind == TriggerKind.INITIAL
        event = len(out.events)
        incomplete = False
        traded = False
        amount, stake, avg, realized = book.amount, book.stake, book.avg, book.realized
        opened = book.opened
        sequence = [*opened, *(i for i in range(self.n) if i not in opened)]
        valid = self.valid
        for i in sequence:
            order = orders.get(i)
            if order is None:
                continue
            if valid is not None and not valid[r, i]:
                continue  # no candle at r for this pair: freqtrade's validate_row skips it
            side, planned_amount, size = order
            step, step_dec = self.steps[i], self.step_decimals[i]
            p = price[i]
            if side == "sell":
                if amount[i] <= 0:
                    continue
                q = truncate_to_step(min(planned_amount, amount[i]) * (1 + SELL_NUDGE), step, step_dec)
                if q <= 0:
                    continue
                remaining = (amount[i] - q) * p  # _check_adjust_trade_for_candle: at the candle's open
                floor = min_stake(self.exchange[i], p, -0.1)
                if floor and remaining != 0 and remaining < floor:
                    continue  # freqtrade refuses a partial exit leaving less than its minimum
                p = price_to_precision(p, self.trade_tick[i])  # freqtrade's _exit_trade
                if not self._fills(r, i, p):
                    # priced on the trade's tick from the day it opened, outside this candle: the
                    # order stays open, is cancelled on the pair's next candle (unfilledtimeout)
                    # before anything else, and the trade keeps its amount; the strategy plans from
                    # the holdings and no buy ever counted on the proceeds (filled cash)
                    continue
                gross = q * p
                realized[i] += gross * (1 - fee) - q * avg[i] * (1 + fee)
                stake[i] -= avg[i] * q
                amount[i] = on_grid(amount[i] - q, step, step_dec)
                cash += gross * (1 - fee)
                book.flow[i] += gross * (1 - fee)
            else:
                entry = amount[i] <= 0
                if entry and (last_row or (valid is not None and not valid[r - 1, i])):
                    continue  # no trade opens on the last candle, nor without the shifted signal
                available = self._free_stake(book)  # stake_available (the exchange's max is larger)
                seen = self._strategy_cash(book, available)  # SmartPortfolio._cash
                cash_now = max(min(seen, self._filled_cash(book)), 0.0)  # _spendable_cash
                min_order = self.min_orders[i]
                lot_cash = min(cash_now, available * (1 + fee))
                if entry:  # custom_stake_amount
                    wanted = min(size, available, cash_now / (1 + fee))
                else:  # adjust_trade_position
                    wanted = min(size, min(available, cash_now / (1 + fee)))
                    if size - wanted >= min_order or wanted < min_order:
                        incomplete = True  # what is left (or the whole deferred buy) is tradable later
                    if wanted < min_order:
                        continue
                fit = fit_buy_to_lot(wanted, p, step, min_order, lot_cash, fee)
                if fit.amount <= 0:
                    continue  # skipped: under the minimum after the lot, one more lot unaffordable
                amount_stake = fit.stake
                # freqtrade's validate_stake_amount
                floor = min_stake(self.exchange[i], p, 0.0 if not entry else -0.05)
                if not amount_stake > 0 or floor > available:
                    continue
                if amount_stake < floor:
                    if amount_stake * 1.3 < floor:
                        continue
                    amount_stake = floor
                amount_stake = min(amount_stake, available)
                q = truncate_to_step(amount_stake / p, step, step_dec)
                if q <= 0:
                    continue
                gross = q * p
                stake[i] += gross
                amount[i] = on_grid(amount[i] + q, step, step_dec)
                avg[i] = stake[i] / amount[i]
                if entry:
                    opened.append(i)
                    self.trade_tick[i] = self._entry_tick(r, i)
                book.open_rate[i] = price_to_precision(avg[i], self.trade_tick[i])
                cash -= gross * (1 + fee)
                book.flow[i] -= gross * (1 + fee)
            traded = True
            out.fees += gross * fee
            if not initial:
                out.traded_value += gross
            if self.record:
                out.fills.append((r, i, side, q, p, gross * fee, event))
        if traded and not initial:
            out.rebalances += 1
        if self.record:
            out.events.append((r, kind.value, reason, incomplete))
        if traded:
            self._record_holdings(r, np.array(amount), cash)
        return cash, incomplete

    def _record_holdings(self, row: int, amounts: np.ndarray, cash: float) -> None:
        out = self.out
        if out.change_rows and out.change_rows[-1] == row:
            out.amounts[-1] = amounts.copy()
            out.cash[-1] = cash
        else:
            out.change_rows.append(row)
            out.amounts.append(amounts.copy())
            out.cash.append(cash)

    # ------------------------------------------------------------ clean mode
    def run_clean(self, hold: bool = False) -> KernelOutput:
        n, fee, out, record = self.n, self.fee, self.out, self.record
        last = len(self.dates) - 1
        amounts = np.zeros(n)
        held = [0.0] * n
        cash = self.investment
        last_tick: int | None = None
        weights = self.targets.weights
        both = self.width is not None and self.rule.interval_minutes is not None
        r = 0
        while r <= last:
            if cash != self.investment or any(held):
                if hold:
                    break
                r = self.scan(r, amounts, cash, last_tick, lag=0)
                if r < 0:
                    break
                if self.width is None or (both and not self.out_of_band(r, r + 1, amounts, cash, 0)[0]):
                    kind = TriggerKind.SCHEDULE
                    last_tick = int(self.dates[r])
                else:
                    kind = TriggerKind.THRESHOLD
            else:
                kind = TriggerKind.INITIAL
                last_tick = int(self.dates[r])
            initial = kind == TriggerKind.INITIAL
            prices = self.close_r[r].tolist()
            # bt: value = capital + child values in order; weights from that value; base = value
            values = [held[i] * prices[i] for i in range(n)]
            base = cash
            for v in values:
                base += v
            event = len(out.events)
            for i in range(n):
                p = prices[i]
                amount = (weights[i] - (values[i] / base if base else 0.0)) * base
                if amount == 0:
                    continue
                if self.bt_quantities:
                    q = bt_quantity(amount, p, fee)
                else:
                    q = amount / (p * (1 + fee)) if amount > 0 else amount / (p * (1 - fee))
                commission = abs(q) * p * fee
                held[i] += q
                cash -= q * p + commission
                out.fees += commission
                if not initial:
                    out.traded_value += abs(q) * p
                if record:
                    out.fills.append((r, i, "buy" if q > 0 else "sell", abs(q), p, commission, event))
            amounts = np.array(held)
            if not initial:
                out.rebalances += 1
            if record:
                out.events.append((r, kind.value, "" if initial else kind.value, False))
            self._record_holdings(r, amounts, cash)
            r += 1
        gross = float(np.dot(amounts, self.close_r[last]))
        out.fees += gross * fee
        out.final_value = cash + gross * (1 - fee)
        return out


def prepare_prices(market: Market, exchange: Sequence[ExchangeRules], mode: Mode) -> dict[str, np.ndarray]:
    """Plan and fill prices: on the tick grid in freqtrade mode (high and low too, when the market has
    them: SmartPortfolio rounds the backtest candles so), the raw close in clean mode."""
    if mode == "clean":
        return {"open": market.close, "close": market.close}
    out: dict[str, np.ndarray] = {}
    for name in ("open", "close", "high", "low"):
        source = getattr(market, name)
        if source is None:
            continue
        rounded = np.empty_like(source)
        for i, rules in enumerate(exchange):
            rounded[:, i] = round_to_tick(source[:, i], rules.tick)
        out[name] = np.ascontiguousarray(rounded)
    return out


def default_rules(market: Market, exchange: Sequence[ExchangeRules]) -> tuple[CoinRules, ...]:
    """The strategy's CoinRules when none are given: its default minimum order (``min_trade``, 5 in
    the stake currency) or what the exchange's limits demand at the last close, whichever is larger
    (config.market_min_order); no lot step (ExchangeRules does not carry one)."""
    from freqtrade_smartfolio.config import DEFAULT_MIN_TRADE, exchange_min_order

    last = market.close[-1].tolist()
    return tuple(
        CoinRules(
            min_order=max(float(DEFAULT_MIN_TRADE), exchange_min_order(ex.min_cost, ex.min_amount, last[i])),
            step=0.0,
        )
        for i, ex in enumerate(exchange)
    )


def run_kernel(
    market: Market,
    targets: Targets,
    rule: RebalanceRule,
    rules: Sequence[CoinRules] | None = None,
    fee: float = 0.001,
    investment: float = 1000.0,
    *,
    exchange: Sequence[ExchangeRules] | None = None,
    mode: Mode = "freqtrade",
    bt_quantities: bool = False,
    record: bool = True,
    hold: bool = False,
    prepared: Mapping[str, np.ndarray] | None = None,
) -> KernelOutput:
    """Run one parameter set on arrays; see :func:`simulate` for the meaning of the arguments."""
    if targets.coins != market.coins:
        raise ValueError(f"market coins {market.coins} differ from target coins {targets.coins}")
    n = len(market.coins)
    exchange = tuple(exchange) if exchange is not None else (ExchangeRules(),) * n
    rules = tuple(rules) if rules is not None else default_rules(market, exchange)
    if len(rules) != n or len(exchange) != n:
        raise ValueError(f"need one CoinRules and one ExchangeRules per coin ({n})")
    if mode not in ("freqtrade", "clean"):
        raise ValueError(f"mode must be 'freqtrade' or 'clean', got {mode!r}")
    if mode == "clean" and market.valid is not None:
        lacking = np.flatnonzero(~np.asarray(market.valid, dtype=bool).all(axis=0)).tolist()
        missing = [market.coins[k] for k in lacking]
        raise ValueError(
            f"clean mode needs a candle of every coin on every bar; {', '.join(missing)} lack some "
            "(listed later or ended inside the window): pick a window where every coin trades, or use "
            "mode='freqtrade'"
        )
    if any(r.min_order < 0 or r.step < 0 for r in rules):
        raise ValueError("CoinRules: min_order and step must not be negative")
    kernel = _Kernel(
        market, targets, rule, rules, fee, investment, exchange, mode, bt_quantities, record, prepared
    )
    return kernel.run_freqtrade(hold) if mode == "freqtrade" else kernel.run_clean(hold)


# ------------------------------------------------------------------------------------------ wrapper


@dataclass(frozen=True)
class EngineResult:
    """One simulated run.

    ``equity``: value at each bar's close (freqtrade mode: the last bar holds ``final_value``, the
    cash after freqtrade's force exit at that bar's open); ``weights``: each coin's and the cash's
    weight at each close; ``rebalances``: one row per triggered plan (time the orders filled, kind,
    reason, whether buys were left for a completion); ``trades``: one row per fill;
    ``summary``: :func:`stats.summarize` plus ``final_value`` (after selling everything, with fees).
    """

    mode: str
    equity: pd.Series
    weights: pd.DataFrame
    rebalances: pd.DataFrame
    trades: pd.DataFrame
    summary: dict[str, Any]

    @property
    def final_value(self) -> float:
        return float(self.summary["final_value"])

    @property
    def rebalance_times(self) -> list[pd.Timestamp]:
        """Times at which orders filled (the initial allocation included)."""
        return sorted(set(self.trades["time"]))


def _holdings_frame(market: Market, out: KernelOutput, investment: float) -> tuple[np.ndarray, np.ndarray]:
    """Holdings (bars x coins) and cash (bars) after each bar, forward-filled from the changes."""
    bars = len(market.dates)
    rows = np.asarray(out.change_rows, dtype=np.int64)
    amounts = np.vstack([np.zeros(len(market.coins)), *out.amounts]) if out.amounts else None
    cash = np.asarray([investment, *out.cash])
    which = np.searchsorted(rows, np.arange(bars), side="right")  # 0 = before the first change
    if amounts is None:
        return np.zeros((bars, len(market.coins))), np.full(bars, investment)
    return amounts[which], cash[which]


def _result(market: Market, out: KernelOutput, investment: float, mode: Mode) -> EngineResult:
    index = market.index
    amounts, cash = _holdings_frame(market, out, investment)
    values = amounts * market.close
    total = cash.copy()
    for i in range(values.shape[1]):  # bt's order of summation: cash, then each coin
        total = total + values[:, i]
    equity = pd.Series(total, index=index, name="equity")
    if mode == "freqtrade":
        equity.iloc[-1] = out.final_value
    weights = pd.DataFrame(values / total[:, None], index=index, columns=list(market.coins))
    weights["cash"] = cash / total
    fills = list(zip(*out.fills, strict=True)) if out.fills else [()] * 7
    rows, coin_idx, sides, amounts_f, prices_f, fees_f, event_f = (np.asarray(c) for c in fills)
    coin_names = np.asarray(market.coins, dtype=object)
    trades = pd.DataFrame(
        {
            "time": index.take(rows.astype(np.int64)),
            "coin": coin_names[coin_idx.astype(np.int64)],
            "side": sides.astype(object),
            "amount": amounts_f.astype(float),
            "price": prices_f.astype(float),
            "value": amounts_f.astype(float) * prices_f.astype(float),
            "fee": fees_f.astype(float),
            "rebalance": event_f.astype(np.int64),
        }
    )
    events = list(zip(*out.events, strict=True)) if out.events else [()] * 4
    rebalances = pd.DataFrame(
        {
            "time": index.take(np.asarray(events[0], dtype=np.int64)),
            "kind": np.asarray(events[1], dtype=object),
            "reason": np.asarray(events[2], dtype=object),
            "incomplete": np.asarray(events[3], dtype=bool),
        }
    )
    summary = stats.summarize(equity, fees=out.fees, rebalances=out.rebalances, traded_value=out.traded_value)
    summary["final_value"] = out.final_value
    return EngineResult(mode, equity, weights, rebalances, trades, summary)


def simulate(
    prices: PriceInput,
    targets: Targets,
    rule: RebalanceRule,
    rules: Sequence[CoinRules] | None = None,
    fee: float = 0.001,
    investment: float = 1000.0,
    *,
    exchange: Sequence[ExchangeRules] | None = None,
    mode: Mode = "freqtrade",
    bt_quantities: bool = False,
) -> EngineResult:
    """Simulate SmartPortfolio on ``prices`` (a :class:`Market` or ``{'open': df, 'close': df}``).

    ``rules``: each coin's minimum order and lot step (``CoinRules``, as the strategy derives them);
    ``exchange``: each coin's tick and the exchange limits freqtrade itself checks
    (``ExchangeRules``). Without ``rules`` the strategy's defaults apply (:func:`default_rules`: a
    5 USDT minimum order, or the exchange's limits when ``exchange`` is given); without ``exchange``,
    no tick and no exchange limits. ``mode``: ``"freqtrade"`` or ``"clean"`` (module doc).
    """
    market = as_market(prices, targets.coins)
    out = run_kernel(
        market,
        targets,
        rule,
        rules,
        fee,
        investment,
        exchange=exchange,
        mode=mode,
        bt_quantities=bt_quantities,
    )
    return _result(market, out, investment, mode)


def buy_and_hold(
    prices: PriceInput,
    targets: Targets,
    rules: Sequence[CoinRules] | None = None,
    fee: float = 0.001,
    investment: float = 1000.0,
    *,
    exchange: Sequence[ExchangeRules] | None = None,
    mode: Mode = "freqtrade",
) -> EngineResult:
    """The same initial buys as :func:`simulate`, then hold; the final sale pays the same fee."""
    market = as_market(prices, targets.coins)
    rule = RebalanceRule(threshold=0.5)
    out = run_kernel(market, targets, rule, rules, fee, investment, exchange=exchange, mode=mode, hold=True)
    return _result(market, out, investment, mode)


# ------------------------------------------------------------------------------------------ sweep


_SWEEP: dict[str, Any] = {}  # what forked sweep workers share (set before the pool starts)


def _sweep_one(rule: RebalanceRule) -> dict[str, Any]:
    ctx = _SWEEP
    market: Market = ctx["market"]
    out = run_kernel(
        market,
        ctx["targets"],
        rule,
        ctx["rules"],
        ctx["fee"],
        ctx["investment"],
        exchange=ctx["exchange"],
        mode=ctx["mode"],
        record=False,
        prepared=ctx["prepared"],
    )
    amounts, cash = _holdings_frame(market, out, ctx["investment"])
    equity = cash + (amounts * market.close).sum(axis=1)
    if ctx["mode"] == "freqtrade":
        equity[-1] = out.final_value
    summary = stats.summarize(
        pd.Series(equity, index=market.index),
        fees=out.fees,
        rebalances=out.rebalances,
        traded_value=out.traded_value,
    )
    summary["final_value"] = out.final_value
    return summary


def sweep(
    prices: PriceInput,
    targets: Targets,
    thresholds: Iterable[float | None] = (None,),
    intervals: Iterable[int | None] = (None,),
    *,
    relative: bool = False,
    rules: Sequence[CoinRules] | None = None,
    fee: float = 0.001,
    investment: float = 1000.0,
    exchange: Sequence[ExchangeRules] | None = None,
    mode: Mode = "freqtrade",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Evaluate every (threshold, interval-in-minutes) pair; one row of statistics per pair.

    The prices are prepared once and shared; ``n_jobs > 1`` spreads the parameter sets over
    processes (fork). Pairs where both are None are skipped.
    """
    market = as_market(prices, targets.coins)
    n = len(market.coins)
    exchange = tuple(exchange) if exchange is not None else (ExchangeRules(),) * n
    prepared = prepare_prices(market, exchange, mode)
    params = [(t, i) for t in thresholds for i in intervals if t is not None or i is not None]
    rule_list = [RebalanceRule(threshold=t, relative=relative, interval_minutes=i) for t, i in params]
    _SWEEP.update(
        market=market,
        prepared=prepared,
        targets=targets,
        rules=rules,
        fee=fee,
        investment=investment,
        exchange=exchange,
        mode=mode,
    )
    try:
        if n_jobs > 1 and len(rule_list) > 1:
            import multiprocessing as mp

            # fork: the workers inherit the prepared arrays; only the rules and the results travel
            with mp.get_context("fork").Pool(n_jobs) as pool:
                rows = pool.map(_sweep_one, rule_list, chunksize=1)
        else:
            rows = [_sweep_one(rule) for rule in rule_list]
    finally:
        _SWEEP.clear()
    frame = pd.DataFrame(rows)
    frame.insert(0, "interval_minutes", [i for _, i in params])
    frame.insert(0, "threshold", [t for t, _ in params])
    return frame
