"""The engine's public front: :func:`simulate`, :func:`buy_and_hold` and :func:`run_kernel` (arrays in,
:class:`KernelOutput` out), and :class:`EngineResult`, the pandas view of one run."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio import stats
from freqtrade_smartfolio.portfolio.engine import compiled, compiled_stats
from freqtrade_smartfolio.portfolio.engine.fills import FreqtradeKernel
from freqtrade_smartfolio.portfolio.engine.kernel import Kernel, KernelOutput
from freqtrade_smartfolio.portfolio.engine.market import Market, PriceInput, as_market
from freqtrade_smartfolio.portfolio.engine.rules import ExchangeRules, Mode
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.plan import CoinRules, RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets


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
    settings = Settings.resolve(market, targets, rule, rules, fee, investment, exchange, mode, bt_quantities)
    return run_settings(market, settings, record=record, hold=hold, prepared=prepared)


def run_settings(
    market: Market,
    settings: Settings,
    *,
    record: bool = True,
    hold: bool = False,
    prepared: Mapping[str, np.ndarray] | None = None,
    lazy: bool = False,
) -> KernelOutput:
    """Run resolved :class:`Settings` on ``market`` (``prepared``: :func:`rules.prepare_prices`).

    ``lazy``: a compiled run leaves its fills and events as columns built on first use
    (``KernelOutput.build_columns``; ``fills`` and ``events`` stay empty lists)."""
    kernel = FreqtradeKernel(market, settings, record, prepared) if settings.mode == "freqtrade" else None
    if kernel is not None:
        kernel.lazy = lazy
        return kernel.run_freqtrade(hold)
    clean = Kernel(market, settings, record, prepared)
    clean.lazy = lazy
    return clean.run_clean(hold)


class EngineResult:
    """One simulated run.

    ``equity``: value at each bar's close (freqtrade mode: the last bar holds ``final_value``, the
    cash after freqtrade's force exit at that bar's open); ``weights``: each coin's and the cash's
    weight at each close; ``rebalances``: one row per triggered plan (time the orders filled, kind,
    reason, whether buys were left for a completion); ``trades``: one row per fill;
    ``summary``: :func:`stats.summarize` plus ``final_value`` (after selling everything, with fees).

    ``summary`` and the equity values are computed when the run ends; the pandas objects (``equity``,
    ``weights``, ``rebalances``, ``trades``) are built from the kernel's arrays on first access and
    kept (docs/engine.md, "What simulate computes and what it defers").
    """

    def __init__(
        self,
        mode: str,
        summary: dict[str, Any],
        market: Market,
        out: KernelOutput,
        equity_values: np.ndarray,
        totals: np.ndarray,
        investment: float,
    ) -> None:
        self.mode = mode
        self.summary = summary
        self._market = market
        self._out = out
        self._equity_values = equity_values
        self._totals = totals
        self._investment = investment

    def __repr__(self) -> str:
        return f"EngineResult(mode={self.mode!r}, final_value={self.final_value!r})"

    def __getstate__(self) -> dict[str, Any]:
        self._out.build_columns()  # a deferred build holds the kernel: pickle the columns instead
        return self.__dict__.copy()

    @property
    def final_value(self) -> float:
        return float(self.summary["final_value"])

    @functools.cached_property
    def equity(self) -> pd.Series:
        # Market.index's values, dtype and name, read from the dates without a copy (Market.index
        # copies them twice); the Series keeps the values array too (nothing else writes to it)
        index = pd.DatetimeIndex(self._market.dates.view("M8[ns]"), dtype=_UTC_NS, name="date")
        return pd.Series(self._equity_values, index=index, name="equity", copy=False)

    @functools.cached_property
    def weights(self) -> pd.DataFrame:
        market, total = self._market, self._totals
        amounts, cash = _holdings_frame(market, self._out, self._investment)
        values = amounts * market.close
        weights = pd.DataFrame(values / total[:, None], index=market.index, columns=list(market.coins))
        weights["cash"] = cash / total
        return weights

    @functools.cached_property
    def _frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return _event_frames(self._market, self._out)

    @property
    def rebalances(self) -> pd.DataFrame:
        return self._frames[0]

    @property
    def trades(self) -> pd.DataFrame:
        return self._frames[1]

    @property
    def rebalance_times(self) -> list[pd.Timestamp]:
        """Times at which orders filled (the initial allocation included)."""
        return sorted(set(self.trades["time"]))


_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def _holdings_frame(market: Market, out: KernelOutput, investment: float) -> tuple[np.ndarray, np.ndarray]:
    """Holdings (bars x coins) and cash (bars) after each bar, forward-filled from the changes."""
    bars = len(market.dates)
    if out.arrays is not None:  # a clean run: its arrays (a lazy run leaves the lists empty)
        rows, held, held_cash = out.arrays
        amounts = np.vstack([np.zeros((1, len(market.coins))), held]) if len(rows) else None
        cash = np.concatenate([[investment], held_cash])
    else:
        rows = np.asarray(out.change_rows, dtype=np.int64)
        zero = np.zeros((1, len(market.coins)))
        amounts = np.vstack([zero, np.array(out.amounts)]) if out.amounts else None
        cash = np.asarray([investment, *out.cash])
    which = np.searchsorted(rows, np.arange(bars), side="right")  # 0 = before the first change
    if amounts is None:
        return np.zeros((bars, len(market.coins))), np.full(bars, investment)
    return amounts[which], cash[which]


def _event_frames(market: Market, out: KernelOutput) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rebalances and trades frames of a run."""
    index = market.index
    columns = out.columns if out.columns is not None else out.build_columns()
    if columns is not None:  # a compiled run: the columns are there already
        rows, coin_idx, sides, amounts_f = columns["row"], columns["coin"], columns["side"], columns["amount"]
        prices_f, fees_f, event_f = columns["price"], columns["fee"], columns["rebalance"]
        events: list[Any] = [columns["event_row"], columns["kind"], columns["reason"], columns["incomplete"]]
    else:
        fills = list(zip(*out.fills, strict=True)) if out.fills else [()] * 7
        rows, coin_idx, sides, amounts_f, prices_f, fees_f, event_f = (np.asarray(c) for c in fills)
        events = list(zip(*out.events, strict=True)) if out.events else [()] * 4
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
    rebalances = pd.DataFrame(
        {
            "time": index.take(np.asarray(events[0], dtype=np.int64)),
            "kind": np.asarray(events[1], dtype=object),
            "reason": np.asarray(events[2], dtype=object),
            "incomplete": np.asarray(events[3], dtype=bool),
        }
    )
    return rebalances, trades


def _result(market: Market, out: KernelOutput, investment: float, mode: Mode) -> EngineResult:
    n = len(market.coins)
    if out.arrays is not None:  # clean mode: the kernel's own arrays
        rows, held, cash = out.arrays
    else:
        rows = np.asarray(out.change_rows, dtype=np.int64)
        held = np.array(out.amounts, dtype=np.float64).reshape(len(out.amounts), n)
        cash = np.asarray(out.cash, dtype=np.float64)
    close = _float_array(market.close)
    # the value at each close, cash then each coin (bt's order): _totals of _holdings_frame, compiled
    total = compiled.equity_curve(close, rows, held, cash, float(investment))
    equity = total
    if mode == "freqtrade":
        equity = total.copy()
        equity[-1] = out.final_value
    summary = _summary(equity, market.dates, out)
    summary["final_value"] = out.final_value
    return EngineResult(mode, summary, market, out, equity, total, investment)


def _summary(equity: np.ndarray, dates: np.ndarray, out: KernelOutput) -> dict[str, Any]:
    """``stats.summarize_values(equity, dates, ...)`` with its reductions over the bars compiled
    (:func:`compiled_stats.curve_reductions`: one call; the same floats to the bit)."""
    dates = np.ascontiguousarray(dates, dtype=np.int64)
    reduced = compiled_stats.curve_reductions(equity)
    step = None
    if len(equity) >= 3:  # two returns or more: the median step between dates (stats.period_minutes)
        lo_step, hi_step = compiled_stats.date_steps(dates)
        step = float(np.int64(lo_step) / 6e10)  # one step on the grid: the median is it
        if lo_step != hi_step:
            step = float(compiled_stats.median_step_minutes(dates))
    mean_r, std_r, mean_equity, deepest = reduced.tolist()
    return stats.summary_from(
        equity[0],
        equity[-1],
        int(dates[-1]) - int(dates[0]),
        returns_mean=mean_r,
        returns_std=std_r,
        step_minutes=step,
        mean_equity=mean_equity,
        max_drawdown=deepest,
        fees=out.fees,
        rebalances=out.rebalances,
        traded_value=out.traded_value,
    )


def _market(prices: PriceInput, targets: Targets, mode: Mode) -> Market:
    """``as_market(prices, targets.coins)``; clean mode keeps close prices in ``to_numpy``'s layout."""
    return as_market(prices, targets.coins, column_major=mode == "clean")


def _float_array(array: np.ndarray) -> np.ndarray:
    """``array`` as it is when float64 and C- or F-contiguous (the compiled code takes either), else
    a C-ordered float64 copy."""
    if array.dtype == np.float64 and (array.flags.c_contiguous or array.flags.f_contiguous):
        return array
    return np.ascontiguousarray(array, dtype=np.float64)


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
    market = _market(prices, targets, mode)
    settings = Settings.resolve(market, targets, rule, rules, fee, investment, exchange, mode, bt_quantities)
    out = run_settings(market, settings, lazy=True)
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
    market = _market(prices, targets, mode)
    hold = RebalanceRule(threshold=0.5)
    settings = Settings.resolve(market, targets, hold, rules, fee, investment, exchange, mode)
    out = run_settings(market, settings, hold=True, lazy=True)
    return _result(market, out, investment, mode)
