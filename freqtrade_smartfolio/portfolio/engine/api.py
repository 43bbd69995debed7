"""The engine's public front: :func:`simulate`, :func:`buy_and_hold` and :func:`run_kernel` (arrays in,
:class:`KernelOutput` out), and :class:`EngineResult`, the pandas view of one run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_smartfolio.portfolio import stats
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
) -> KernelOutput:
    """Run resolved :class:`Settings` on ``market`` (``prepared``: :func:`rules.prepare_prices`)."""
    if settings.mode == "freqtrade":
        return FreqtradeKernel(market, settings, record, prepared).run_freqtrade(hold)
    return Kernel(market, settings, record, prepared).run_clean(hold)


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
    amounts = np.vstack([np.zeros((1, len(market.coins))), np.array(out.amounts)]) if out.amounts else None
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
    columns = out.columns
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
    settings = Settings.resolve(market, targets, rule, rules, fee, investment, exchange, mode, bt_quantities)
    out = run_settings(market, settings)
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
    hold = RebalanceRule(threshold=0.5)
    settings = Settings.resolve(market, targets, hold, rules, fee, investment, exchange, mode)
    out = run_settings(market, settings, hold=True)
    return _result(market, out, investment, mode)
