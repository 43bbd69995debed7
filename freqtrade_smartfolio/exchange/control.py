"""The offline exchange's own control endpoints (not Binance's): ``/offline/status`` (the clock),
``/offline/faults``, ``/offline/delistings`` and ``/offline/accounts``. :data:`~.app.ROUTES` points
at them; :class:`~.app.OfflineExchangeServer` answers them to loopback clients only."""

from __future__ import annotations

import json
from typing import Any

from freqtrade_smartfolio.exchange.delisting import parse_delist_map
from freqtrade_smartfolio.exchange.faults import Fault, FaultError
from freqtrade_smartfolio.exchange.wire import ApiError, Request, Venue


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"null")
    except ValueError as err:
        raise ApiError(400, -1100, f"body is not JSON: {err}") from err


def offline_status(api: Venue, req: Request) -> Any:
    """Not Binance: the clock of the offline exchange."""
    clock = api.feed.clock
    data_now = clock.data_now()
    return {
        "clock": clock.describe(),
        "replay": clock.replay,
        "speed": clock.speed,
        "dataTime": None if not clock.replay else int(data_now),
        "serverTime": clock.now(),
        "symbols": len(api.feed.store.coins),
        "datadir": str(api.feed.store.datadir),
    }


def offline_faults(api: Venue, req: Request) -> Any:
    """Not Binance: ``GET`` lists the faults, ``POST`` adds one (JSON object) or several (list),
    ``DELETE`` removes one (``?id=``) or all."""
    if req.method == "GET":
        return [f.to_json() for f in api.faults.list()]
    if req.method == "DELETE":
        fid = req.integer("id")
        if fid is None:
            api.faults.clear()
        else:
            api.faults.remove(fid)
        return [f.to_json() for f in api.faults.list()]
    data = _json_body(req)
    try:
        added = [
            api.faults.add(Fault.from_json(item)) for item in (data if isinstance(data, list) else [data])
        ]
    except FaultError as err:
        raise ApiError(400, -1100, f"bad fault: {err}") from err
    return [f.to_json() for f in added]


def offline_delistings(api: Venue, req: Request) -> Any:
    """Not Binance: the delisting schedule (see :mod:`.delisting`). ``GET`` lists it, ``POST``
    ``{"SOL": "2024-02-29T00:00@2024-02-27T12:00"}`` announces (or moves) delistings,
    ``DELETE ?coin=SOL`` calls one off."""
    if req.method == "POST":
        try:
            for item in parse_delist_map(_json_body(req), "body"):
                api.delistings.put(item)
        except ValueError as err:
            raise ApiError(400, -1100, str(err)) from err
    elif req.method == "DELETE":
        api.delistings.remove(req.require("coin"))
    return [
        {
            "coin": d.coin,
            "delistTime": d.at_ms,
            "announced": d.announced_ms,
            "closed": api.delistings.closed(d.coin),
        }
        for d in api.delistings.items()
    ]


def offline_accounts(api: Venue, req: Request) -> Any:
    """Not Binance: ``GET`` lists accounts (key and total balances, never the secret); ``POST``
    ``{"balances": {"USDT": 1000}, "key": .., "secret": ..}`` creates one and returns its
    credentials (key and secret generated when omitted)."""
    if req.method == "GET":
        return [
            {"key": key, "balances": {a: str(v) for a, v in api.accounts.balances(key).items()}}
            for key in list(api.accounts.accounts)
        ]
    data = _json_body(req)
    if not isinstance(data, dict):
        raise ApiError(400, -1100, 'expected a JSON object {"balances": {...}, "key": .., "secret": ..}')
    try:
        creds = api.accounts.create(data.get("balances", {}), data.get("key"), data.get("secret"))
    except ValueError as err:
        raise ApiError(400, -1100, str(err)) from err
    return {"key": creds.key, "secret": creds.secret}
