"""Funding with coins already held (``use_held_coins``): freqtrade's side of the take-over.

The coins a :class:`~freqtrade_smartfolio.portfolio.funding.FundingPlan` takes over become freqtrade
trades without an exchange order: one closed, fee-free entry order each, tagged :data:`HELD_TAG`,
written in one database transaction (all or nothing, so a crash cannot take over half a portfolio).
From then on freqtrade sees an ordinary position; the coins themselves never moved.

Dry-run only: freqtrade's simulated wallet (``dry_run_wallet``) would count a taken-over coin twice,
once in the wallet and once in its trade, and charge the trade's value to the stake currency. So at
every start the wallet freqtrade reads is rewritten from the database: each taken-over amount moves
out of its coin and its value into the stake currency (see :func:`wallet_without_takeovers`). Live,
the exchange reports the real balances and nothing needs rewriting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from freqtrade.persistence import Order, Trade
from sqlalchemy import select

from freqtrade_smartfolio.portfolio.funding import HELD_TAG, FundingPlan

logger = logging.getLogger(__name__)

__all__ = ["HELD_TAG", "correct_dry_run_wallet", "record_takeover", "takeover_orders"]
ORDER_ID_PREFIX = "smartfolio-held-"


def takeover_orders() -> Sequence[Order]:
    """Every take-over order in freqtrade's database (open and closed trades)."""
    return Order.session.scalars(select(Order).filter(Order.ft_order_tag == HELD_TAG)).all()


def wallet_without_takeovers(
    wallet: Mapping[str, float], stake: str, takeovers: Sequence[tuple[str, float, float]]
) -> dict[str, float]:
    """``wallet`` (``dry_run_wallet``) with each take-over ``(coin, amount, value)`` moved out of its
    coin and its value into ``stake``: the trades now hold the coins, and freqtrade charges their
    value to the stake currency."""
    adjusted = {str(k): float(v) for k, v in wallet.items()}
    for coin, amount, value in takeovers:
        left = adjusted.get(coin, 0.0) - amount
        if left > 1e-12 * max(amount, 1.0):
            adjusted[coin] = left
        else:
            adjusted.pop(coin, None)
        adjusted[stake] = adjusted.get(stake, 0.0) + value
    return adjusted


def correct_dry_run_wallet(config: dict[str, Any], original: Mapping[str, float] | None, stake: str) -> None:
    """Rewrite ``config["dry_run_wallet"]`` in place (the dict freqtrade's Wallets reads) from the
    user's ``original`` wallet and the take-overs in the database. Idempotent."""
    wallet = config.get("dry_run_wallet")
    if not config.get("dry_run", True) or not isinstance(wallet, dict) or original is None:
        return
    takeovers = [
        (order.ft_pair.split("/")[0], float(order.filled or 0.0), float(order.cost or 0.0))
        for order in takeover_orders()
    ]
    adjusted = wallet_without_takeovers(original, stake, takeovers)
    if adjusted != wallet:
        wallet.clear()
        wallet.update(adjusted)
        logger.info("SmartPortfolio: dry-run wallet with the taken-over coins in their trades: %s", adjusted)


def record_takeover(
    plan: FundingPlan,
    *,
    stake: str,
    now: datetime,
    strategy: str,
    exchange: str,
    timeframe_minutes: int,
    fee: float,
    markets: Mapping[str, Mapping[str, Any]],
    precision_mode: int | None,
) -> list[Trade]:
    """One trade per take-over, committed together. ``markets`` maps pair to ccxt market."""
    trades = []
    stamp = int(now.timestamp() * 1000)
    for item in plan.takeovers:
        pair = f"{item.coin}/{stake}"
        precision = markets.get(pair, {}).get("precision", {})
        trade = Trade(
            pair=pair,
            base_currency=item.coin,
            stake_currency=stake,
            stake_amount=item.value,
            amount=0,
            is_open=True,
            amount_requested=item.amount,
            fee_open=0.0,  # taken over, not bought: no entry fee
            fee_open_cost=0.0,
            fee_open_currency=stake,  # marks the fee as known, so freqtrade never asks the exchange
            fee_close=fee,
            open_rate=item.price,
            open_rate_requested=item.price,
            open_date=now,
            exchange=exchange,
            strategy=strategy,
            enter_tag=HELD_TAG,
            timeframe=timeframe_minutes,
            leverage=1.0,
            is_short=False,
            amount_precision=precision.get("amount"),
            price_precision=precision.get("price"),
            precision_mode=precision_mode,
            precision_mode_price=precision_mode,
            contract_size=1.0,
        )
        order = Order(
            order_id=f"{ORDER_ID_PREFIX}{item.coin}-{stamp}",
            ft_order_side="buy",
            ft_pair=pair,
            ft_is_open=False,
            ft_amount=item.amount,
            ft_price=item.price,
            ft_order_tag=HELD_TAG,
            status="closed",
            symbol=pair,
            order_type="market",
            side="buy",
            price=item.price,
            average=item.price,
            amount=item.amount,
            filled=item.amount,
            remaining=0.0,
            cost=item.value,
            order_date=now,
            order_filled_date=now,
            order_update_date=now,
        )
        trade.orders.append(order)
        trade.recalc_trade_from_orders()
        Trade.session.add(trade)
        trades.append(trade)
    Trade.commit()
    return trades
