"""Orders on the exchange's grids: lot (amount step) and tick (price step), and the minimum order.

Pure float/decimal arithmetic, shared by the strategy and the fast engine. Amounts are truncated the
way freqtrade and ccxt do it (``amount_to_precision`` with TRUNCATE on the decimal representation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

# A stake handed to freqtrade is nudged up by this fraction so that freqtrade's ``stake / rate`` cannot
# fall a float ulp short of the lot the stake was sized for (it truncates to the lot).
STAKE_NUDGE = 1e-9


AMOUNT_RESERVE = 1.05  # freqtrade's default amount_reserve_percent (5%)


def stoploss_reserve(stoploss: float) -> float:
    """The factor freqtrade's ``get_min_pair_stake_amount`` puts on a market's minimum cost: room for
    the 5% amount reserve and the stoploss, between 1 and 1.5."""
    reserve = AMOUNT_RESERVE / (1 - abs(stoploss)) if abs(stoploss) != 1 else 1.5
    return max(min(reserve, 1.5), 1)


def min_order_value(min_cost: float | None, min_amount: float | None, price: float, stoploss: float) -> float:
    """The smallest stake freqtrade places on a market with these limits at ``price``: its
    ``Exchange.get_min_pair_stake_amount`` with the default 5% amount reserve (the strategy's minimum
    order, config.exchange_min_order, uses the -10% stoploss its backtester assumes for position
    adjustments; the engine passes the stoploss of each kind of order)."""
    limits = []
    if min_cost:
        limits.append(min_cost * stoploss_reserve(stoploss))
    if min_amount:
        limits.append(min_amount * price * AMOUNT_RESERVE)
    return max(limits) if limits else 0.0


def decimals_of(step: float) -> int:
    """Decimal places of a power-of-ten step such as 0.001 (0 for steps >= 1 or no step)."""
    if not step or step <= 0:
        return 0
    return max(0, math.ceil(-math.log10(step) - 1e-9))


def round_to_tick(values: np.ndarray, tick: float) -> np.ndarray:
    """Prices on the tick grid, as the nearest floats to the decimal values."""
    if not tick or tick <= 0:
        return values
    return np.round(np.round(values / tick) * tick, decimals_of(tick))


def truncate_to_step(amount: float, step: float, decimals: int | None = None) -> float:
    """``amount`` truncated to the lot ``step`` as freqtrade/ccxt do it: on the decimal repr of the
    float (``Decimal(str(amount))``), returned as the float nearest to the decimal result. A step of 0
    (no lot) leaves the amount as it is."""
    if not step or step <= 0:
        return amount
    q = amount / step
    k = math.floor(q)
    if abs(q - round(q)) <= 1e-9 * (1.0 + abs(q)):  # float noise at a lot boundary: use the decimals
        k = int((Decimal(str(amount)) / Decimal(str(step))).to_integral_value(rounding="ROUND_FLOOR"))
    return round(k * step, decimals_of(step) if decimals is None else decimals)


def floor_to_step(amount: float, step: float) -> float:
    """``amount`` down to the lot ``step``, as freqtrade books a position (the rest is dust); a step of
    0 (no lot) leaves the amount as it is. A ``1e-9`` lot of slack keeps a float that is a lot boundary
    up to noise on that boundary. The planner and the funding plan use this; :func:`truncate_to_step`
    is the decimal-exact variant freqtrade applies to an order's amount."""
    if not step or step <= 0:
        return amount
    return math.floor(amount / step + 1e-9) * step


@dataclass(frozen=True)
class LotFit:
    """A buy fitted to the lot: ``amount`` coins (0 when skipped), the ``stake`` to hand freqtrade for
    exactly that amount, and why it was rounded up or skipped ('' when neither)."""

    amount: float
    stake: float
    note: str = ""


def fit_buy_to_lot(
    stake: float, price: float, step: float, min_order: float, cash: float, fee: float, coin: str = ""
) -> LotFit:
    """The buy of ``stake`` at ``price`` as the exchange will fill it: truncated to the lot, and still
    at least ``min_order`` in value. A buy that truncation pushes under the minimum is rounded up one
    lot when ``cash`` pays for it (fee included); otherwise it is skipped, with the reason."""
    if stake <= 0 or price <= 0:
        return LotFit(0.0, 0.0, f"buy {coin}: nothing to buy ({stake:.2f})")
    amount = truncate_to_step(stake / price, step)
    if amount * price >= min_order and amount > 0:
        return LotFit(amount, stake)
    up = truncate_to_step(amount + step, step) if step > 0 else amount
    if step > 0 and up * price >= min_order and up * price * (1 + fee) <= cash:
        return LotFit(
            up,
            _stake_for(up, price, step),
            f"buy {coin} rounded up one lot to {up:.8g} ({up * price:.2f}) to meet the minimum order "
            f"of {min_order:.2f}",
        )
    return LotFit(
        0.0,
        0.0,
        f"skipped buy {coin} ~{stake:.2f}: {amount:.8g} after the lot of {step:g} is "
        f"{amount * price:.2f}, below the minimum order of {min_order:.2f}, and one more lot "
        f"({up * price * (1 + fee):.2f} with the fee) is more than the cash {cash:.2f}",
    )


def _stake_for(amount: float, price: float, step: float) -> float:
    """A stake whose ``stake / price`` truncates to ``amount`` lots, not a float ulp fewer."""
    exact = amount * price
    nudged = exact * (1 + STAKE_NUDGE)
    return nudged if truncate_to_step(nudged / price, step) == amount else exact
