"""A fast rebalancing engine that reproduces ``freqtrade backtesting`` with SmartPortfolio.

numpy and loops compiled with numba, around the pure planning rules of
:mod:`freqtrade_smartfolio.portfolio.plan` (no freqtrade import). One module per job, around one
:class:`Settings` object:

* :mod:`.market` - :class:`Market` (aligned candle arrays), :func:`as_market`, :func:`load_market`,
  the price precision freqtrade derives from the candles;
* :mod:`.rules` - what freqtrade does to an order (:class:`ExchangeRules`, precision, minimum stake);
* :mod:`.planner` - :func:`fast_plan`, plan.py's orders without the plan objects;
* :mod:`.kernel` (trigger scan, clean mode) and :mod:`.fills` (freqtrade mode) - the loop, compiled
  in :mod:`.compiled` (clean mode, the band scan) and :mod:`.compiled_freqtrade` (freqtrade mode, with
  :mod:`.compiled_planner`, :mod:`.compiled_exact` and :mod:`.compiled_freqtrade_sweep`);
* :mod:`.api` - :func:`simulate`, :func:`buy_and_hold`, :func:`run_kernel`, :class:`EngineResult`;
* :mod:`.sweep` - many parameter sets in one compiled loop (numba threads), or through joblib
  (local processes, or a Dask/Ray cluster).

Modes (see docs/engine.md):

``"freqtrade"`` - what the strategy does inside freqtrade's backtester:
  * at bar ``r`` (freqtrade's ``current_time``) the plan is made from the close of bar ``r-1``
    rounded to the tick; orders fill at the open of bar ``r`` (rounded to the tick);
  * triggers as the strategy's ``_trigger``: LISTING (a coin whose candles start while others are
    held) > COMPLETION (a candle left a tradable part of a buy unfilled; a THRESHOLD rebalance instead
    when a coin is over its band again, plan.completion_trigger) > plan.py's
    :func:`check_trigger` (INITIAL, SCHEDULE when due, THRESHOLD), by a bit-identical compiled scan
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

from freqtrade_smartfolio.portfolio.engine.api import (
    EngineResult,
    _holdings_frame,
    buy_and_hold,
    run_kernel,
    run_settings,
    simulate,
)
from freqtrade_smartfolio.portfolio.engine.kernel import KernelOutput
from freqtrade_smartfolio.portfolio.engine.market import (
    NS_PER_MINUTE,
    OHLC,
    Market,
    PriceInput,
    align_candles,
    as_market,
    backtest_price_ticks,
    load_market,
    regular_grid,
)
from freqtrade_smartfolio.portfolio.engine.planner import fast_plan
from freqtrade_smartfolio.portfolio.engine.rules import (
    ExchangeRules,
    Mode,
    bt_quantity,
    default_rules,
    min_stake,
    on_grid,
    prepare_prices,
    price_to_precision,
)
from freqtrade_smartfolio.portfolio.engine.settings import Settings
from freqtrade_smartfolio.portfolio.engine.sweep import sweep
from freqtrade_smartfolio.portfolio.lots import round_to_tick, truncate_to_step

__all__ = [
    "NS_PER_MINUTE",
    "OHLC",
    "EngineResult",
    "ExchangeRules",
    "KernelOutput",
    "Market",
    "Mode",
    "PriceInput",
    "Settings",
    "_holdings_frame",
    "align_candles",
    "as_market",
    "backtest_price_ticks",
    "bt_quantity",
    "buy_and_hold",
    "default_rules",
    "fast_plan",
    "load_market",
    "min_stake",
    "on_grid",
    "prepare_prices",
    "price_to_precision",
    "regular_grid",
    "round_to_tick",
    "run_kernel",
    "run_settings",
    "simulate",
    "sweep",
    "truncate_to_step",
]
