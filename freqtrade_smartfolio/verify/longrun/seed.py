"""Years of orders before the start: a freqtrade database whose open trades already hold many closed
orders (``--seed-orders``), written through freqtrade's own models."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freqtrade_smartfolio.exchange.feed import parse_time
from freqtrade_smartfolio.verify.longrun.model import LongRunSettings

if TYPE_CHECKING:
    from freqtrade.persistence import Order, Trade


def start_prices(coins: tuple[str, ...], start: str, datadir: Path) -> dict[str, float]:
    """Each coin's last 5m close before ``start``."""
    import pandas as pd

    when = pd.Timestamp(parse_time(start), unit="ms", tz="UTC")
    prices = {}
    for coin in coins:
        frame = pd.read_feather(datadir / f"{coin}_USDT-5m.feather")
        prices[coin] = float(frame.loc[frame["date"] < when, "close"].iloc[-1])
    return prices


def seed_database(db_url: str, settings: LongRunSettings, datadir: Path, exchange_id: str = "binance") -> int:
    """Fill an empty freqtrade database with the portfolio's open trades, already holding
    ``settings.seed_orders`` closed orders between them, through freqtrade's own models: each trade
    starts with its initial buy at the last close before ``start`` and then alternates sales and buys of
    5% of the position at that price (sales 0.2% higher: realised profit about zero, the cash unchanged).
    The bot then starts on trades that look as if they had traded for a long time. Run it in a fresh
    interpreter (it initialises freqtrade's global database session)."""
    from datetime import timedelta

    from freqtrade.persistence import Trade, init_db

    from freqtrade_smartfolio.exchange.markets import market_rules

    init_db(db_url)
    prices = start_prices(settings.coins, settings.start, datadir)
    per_trade = max(1, settings.seed_orders // len(settings.coins))
    fee = 0.001
    first = datetime.now(UTC) - timedelta(seconds=per_trade + 60)
    count = 0
    for coin in settings.coins:
        rules = market_rules(coin, datadir, timeframe=None)
        price = prices[coin]
        step = rules.step_size

        def lots(value: float, step: float = step, price: float = price) -> float:
            return round(int(value / price / step) * step, 10)

        amount = lots(settings.investment / len(settings.coins) * 0.995)
        swing = max(lots(settings.investment / len(settings.coins) * 0.05), step)
        pair = f"{coin}/USDT"
        trade = open_trade(
            coin, amount, price, first, step=step, tick=rules.tick_size, fee=fee, exchange_id=exchange_id
        )
        trade.adjust_stop_loss(price, -1.0, initial=True)
        for i in range(per_trade):
            side = "buy" if i % 2 == 0 else "sell"
            size = amount if i == 0 else swing
            # sales a little above the buys, so that their realised profit pays the fees (about zero)
            fill = price if side == "buy" else price * (1 + fee) / (1 - fee)
            tag = "initial allocation" if i == 0 else f"seeded: history | {side} {coin}"
            when = first + timedelta(seconds=i)
            trade.orders.append(closed_order(pair, f"seeded_{coin}_{i}", side, size, fill, when, tag))
            count += 1
        trade.recalc_trade_from_orders()
        Trade.session.add(trade)
    Trade.commit()
    return count


def open_trade(
    coin: str,
    amount: float,
    price: float,
    when: datetime,
    *,
    step: float,
    tick: float,
    fee: float = 0.001,
    exchange_id: str = "binance",
    fee_close_currency: str | None = "USDT",
) -> Trade:
    """SmartPortfolio's open spot trade of ``coin`` against USDT, from its initial allocation of ``amount``
    at ``price``, before its orders are added (the database is freqtrade's global session)."""
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import Trade

    more: dict[str, Any] = {} if fee_close_currency is None else {"fee_close_currency": fee_close_currency}
    return Trade(
        pair=f"{coin}/USDT",
        base_currency=coin,
        stake_currency="USDT",
        stake_amount=amount * price,
        amount=0,
        is_open=True,
        amount_requested=amount,
        fee_open=fee,
        fee_close=fee,
        fee_open_currency="USDT",
        **more,
        open_rate=price,
        open_rate_requested=price,
        open_date=when,
        exchange=exchange_id,
        strategy="SmartPortfolio",
        enter_tag="initial allocation",
        timeframe=1,
        leverage=1.0,
        is_short=False,
        trading_mode=TradingMode.SPOT,
        amount_precision=step,
        price_precision=tick,
        precision_mode=4,  # ccxt TICK_SIZE
        precision_mode_price=4,
        contract_size=1.0,
    )


def closed_order(
    pair: str, order_id: str, side: str, amount: float, price: float, when: datetime, tag: str
) -> Order:
    """A filled market order ``order_id`` as freqtrade books one from ccxt, tagged ``tag``."""
    from freqtrade.persistence import Order

    stamp = int(when.timestamp() * 1000)
    order = Order.parse_from_ccxt_object(
        {
            "id": order_id,
            "symbol": pair,
            "status": "closed",
            "type": "market",
            "side": side,
            "price": price,
            "average": price,
            "amount": amount,
            "filled": amount,
            "remaining": 0.0,
            "cost": amount * price,
            "timestamp": stamp,
            "lastTradeTimestamp": stamp,
        },
        pair,
        side,
    )
    order.ft_order_tag = tag
    return order
