# mypy: disable-error-code="misc"
"""The portfolio's cash as the strategy counts it: freqtrade's free stake less unpaid entry fees, capped
by the investment (live) and by the cash the fills left (:mod:`adapter.cash`); and buys fitted to it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from freqtrade.persistence import Trade

from freqtrade_smartfolio.portfolio.lots import fit_buy_to_lot

if TYPE_CHECKING:
    from freqtrade_smartfolio.adapter.strategy import SmartPortfolio

logger = logging.getLogger(__name__)

# Dry-run/live: the share of the cash (in fees, 2 x 0.1% on Binance) a buy leaves unspent.
LIVE_CASH_MARGIN_FEES = 2.0


def open_buy_stakes(trades: Any, fee: float) -> float:
    """Stake currency the open buy orders of ``trades`` hold (their unfilled part, fee included)."""
    held = 0.0
    for trade in trades:
        if not trade.has_open_orders:
            continue
        for order in trade.open_orders:
            if order.ft_order_side == trade.entry_side:
                unfilled = float(order.safe_amount or 0.0) - float(order.safe_filled or 0.0)
                held += max(unfilled, 0.0) * float(order.safe_price or 0.0) * (1 + fee)
    return held


class CashAccounting:
    """The cash a plan may count on and a buy may spend."""

    def _cash(self: SmartPortfolio, open_trades: dict[str, Any]) -> float:
        """Stake currency the portfolio holds: freqtrade's free stake, less the entry fees freqtrade
        has not yet charged against it (it realises them on exit)."""
        free = float(self.wallets.get_available_stake_amount()) if self.wallets else 0.0
        if not self.is_backtest:
            # Open buys commit stake that freqtrade adds to trade.stake_amount only once they fill:
            # live, the exchange already holds it back from the free balance; dry-run, it does not.
            committed = sum(self._open_orders(t)[1] for t in open_trades.values() if t.has_open_orders)
            if self.config.get("dry_run", True):
                free -= committed
            # Live, the account may hold more than the portfolio (in dry-run too, when held coins
            # fund part of the investment): its cash is the investment plus every profit realised,
            # less what sits in its trades (freqtrade's dry-run bookkeeping).
            realised = Trade.get_total_closed_profit() + sum(t.realized_profit for t in open_trades.values())
            in_trades = sum(t.stake_amount for t in open_trades.values())
            free = min(free, self.settings.investment + realised - in_trades - committed)
        # A trade's open value (its coins at the entry price, fee included) less its stake. A trade
        # whose first buy has not filled yet holds no coins: freqtrade sets its stake when it places
        # the buy, while its amount and open value stay 0 until a fill, so the difference is minus the
        # whole stake. The backtest counts that stake as cash (its plan ignores open orders); dry-run
        # and live count the open buy as done (its coins, see PortfolioView), so its stake is spent:
        # giving it back here counted it twice, and a plan made at a new candle while the first
        # entries were open saw the investment plus their stakes (tests/test_adapter_parts.py).
        unpaid_entry_fees = sum(
            t.open_trade_value - t.stake_amount
            for t in open_trades.values()
            if self.is_backtest or t.amount > 0
        )
        return max(free - unpaid_entry_fees, 0.0)

    def _spendable_cash(self: SmartPortfolio, open_trades: Any) -> float:
        """Cash a buy may spend now: the strategy's view of freqtrade's free stake, never more than the
        cash the fills really left (:mod:`adapter.cash`); live, less a margin for late fees."""
        trades = {t.pair: t for t in open_trades}
        if self.is_backtest:
            filled = self.filled_cash.cash(Trade.get_trades_proxy())
        else:  # closed trades (compaction makes one per coin every N orders) read once each
            # less what open buys have committed: the fills do not show it yet, and a plan made while
            # a first entry is still open must not spend it twice (a fresh-clone CI run caught it)
            filled = self.filled_cash.cash_live(trades.values())
            if not self.config.get("dry_run", True):  # dry-run: _cash takes them off the free stake
                filled -= open_buy_stakes(trades.values(), self.fee)
        cash = max(min(self._cash(trades), filled), 0.0)
        if not self.is_backtest:
            # Live fills are not the candle's: keep back two fees' worth of the cash for the fee a
            # sale pays in the stake currency, which freqtrade may book after the buys it funds
            # are sized, and for market-order slippage (test_live_faults caught 0.25 USDT over).
            cash *= 1 - LIVE_CASH_MARGIN_FEES * self.fee
        return cash

    def _fit_to_lot(self: SmartPortfolio, pair: str, stake: float, rate: float, cash: float) -> float | None:
        """The stake to hand freqtrade for a buy of ``stake`` at ``rate``, so that after freqtrade
        truncates it to the lot it still meets the minimum order (rounded up one lot when the cash
        pays for it); None, with the reason logged, when it cannot."""
        i = self.pairs.index(pair)
        rules = self.coin_rules[i]
        fit = fit_buy_to_lot(stake, rate, rules.step, rules.min_order, cash, self.fee, pair.split("/")[0])
        if fit.note:
            logger.info("Rebalance: %s.", fit.note)
        return fit.stake if fit.amount > 0 else None

    def _proceeds_of_coins_to_sell(
        self: SmartPortfolio, open_trades: dict[str, Any], candle: datetime
    ) -> float:
        """Cash the plan can count on from positions outside the portfolio (removed coins, held coins
        taken over to fund it): they are sold in full. Buys still wait for the sales' real cash."""
        proceeds = 0.0
        for pair, trade in open_trades.items():
            if pair in self.pairs or trade.amount <= 0:
                continue
            price = self._close_of(pair, candle) or float(trade.open_rate)
            proceeds += float(trade.amount) * price * (1 - self.fee)
        return proceeds

    def _close_of(self: SmartPortfolio, pair: str, candle: datetime) -> float | None:
        """Close of ``candle`` for a pair outside the price book's per-candle refresh (dry-run/live:
        read from freqtrade's candles first; None when freqtrade has none)."""
        if not self.is_backtest:
            frame = self.dp.get_pair_dataframe(pair, self.timeframe)
            if len(frame):
                self.prices.store(pair, frame)
        return self.prices.close_at(pair, candle)
