"""The signed wallet, fee and account-status endpoints ccxt and freqtrade call once API keys are set
(``/api/v3/account/commission``, ``/sapi/v1/...``): fees from the market rules, no transfers, no
margin, Binance's delisting schedule."""

from __future__ import annotations

from typing import Any

from freqtrade_smartfolio.exchange.accounts import ZERO, fmt
from freqtrade_smartfolio.exchange.private import commission_rates
from freqtrade_smartfolio.exchange.wire import Request, Venue


def account_commission(api: Venue, req: Request) -> Any:
    """``GET /api/v3/account/commission``."""
    coin = api._coin(req.require("symbol"))
    maker, taker = commission_rates(api, coin)
    zero = "0.00000000"
    return {
        "symbol": api.feed.store.rules(coin).exchange_id,
        "standardCommission": {"maker": maker, "taker": taker, "buyer": zero, "seller": zero},
        "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": zero,
        },
    }


def trade_fee(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/asset/tradeFee``: one symbol or all."""
    symbol = req.get("symbol")
    coins = [api._coin(symbol)] if symbol else list(api.feed.store.coins)
    out = []
    for coin in coins:
        rules = api.feed.store.rules(coin)
        out.append(
            {
                "symbol": rules.exchange_id,
                "makerCommission": f"{rules.maker_fee:g}",
                "takerCommission": f"{rules.taker_fee:g}",
            }
        )
    return out


def capital_config(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/capital/config/getall``: every asset with the account's balance; no networks
    can withdraw or deposit (there is nowhere to send coins)."""
    assert req.account is not None, "signed route without an authenticated account"
    acc = api.accounts.account(req.account.key)
    assert acc is not None
    assets = sorted({*api.feed.store.coins, api.feed.store.quote, *acc.free})
    out = []
    for asset in assets:
        out.append(
            {
                "coin": asset,
                "name": asset,
                "depositAllEnable": False,
                "withdrawAllEnable": False,
                "free": fmt(acc.free.get(asset, ZERO)),
                "locked": fmt(acc.locked.get(asset, ZERO)),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    {
                        "network": "OFFLINE",
                        "coin": asset,
                        "name": "offline exchange (no transfers)",
                        "isDefault": True,
                        "depositEnable": False,
                        "withdrawEnable": False,
                        "withdrawFee": "0",
                        "withdrawMin": "0",
                        "withdrawMax": "0",
                        "withdrawIntegerMultiple": "0.00000001",
                        "minConfirm": 1,
                        "unLockConfirm": 0,
                        "sameAddress": False,
                        "busy": False,
                    }
                ],
            }
        )
    return out


def delist_schedule(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/spot/delist-schedule``: the announced delistings still to come,
    ``[{"delistTime": <ms>, "symbols": ["SOLUSDT"]}]`` (empty unless configured, see :mod:`.delisting`)."""
    return api.delistings.answer()


def margin_pairs(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/margin/allPairs`` and ``.../isolated/allPairs`` (ccxt's load_markets asks with
    keys set): no margin trading here."""
    return []


def account_status(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/account/status``."""
    return {"data": "Normal"}


def api_restrictions(api: Venue, req: Request) -> Any:
    """``GET /sapi/v1/account/apiRestrictions``: spot trading only."""
    return {
        "ipRestrict": True,
        "createTime": 0,
        "enableReading": True,
        "enableSpotAndMarginTrading": True,
        "enableWithdrawals": False,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enablePortfolioMarginTrading": False,
    }
