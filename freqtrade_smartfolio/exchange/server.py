"""The offline exchange in one object: :class:`OfflineExchange` (feed, accounts, faults, delistings and
the server in a background thread), and the ccxt / freqtrade configs that point at it.

The parts: :mod:`.public` (market-data endpoints), :mod:`.private` and :mod:`.wallet` (signed
endpoints, authenticated by :mod:`.auth`), :mod:`.control` (``/offline/*``), :mod:`.app` (routing,
faults, authentication, FastAPI on uvicorn); :mod:`.feed` the replayed market.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Self

from freqtrade_smartfolio.exchange.accounts import Credentials, parse_account_spec
from freqtrade_smartfolio.exchange.app import OfflineExchangeServer
from freqtrade_smartfolio.exchange.delisting import Delisting, DelistSchedule, parse_delisting
from freqtrade_smartfolio.exchange.faults import FaultSet
from freqtrade_smartfolio.exchange.feed import CandleStore, Clock, Feed, parse_time
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.public import Api

logger = logging.getLogger(__name__)

#: ccxt's binance ``urls['api']`` keys and the path each one points to on api.binance.com & co.
CCXT_API_PATHS: dict[str, str] = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}


def ccxt_config(url: str) -> dict[str, Any]:
    """The ``ccxt_config`` (and ``ccxt_async_config``) that points ccxt's binance at ``url``."""
    base = url.rstrip("/")
    return {
        "urls": {"api": {key: base + path for key, path in CCXT_API_PATHS.items()}},
        "options": {"fetchMarkets": {"types": ["spot"]}, "defaultType": "spot"},
    }


def exchange_config(
    url: str, pairs: list[str] | None = None, credentials: Credentials | None = None
) -> dict[str, Any]:
    """A complete freqtrade ``exchange`` block for the offline exchange at ``url`` (with an
    offline account's ``credentials`` for live mode)."""
    cfg = ccxt_config(url)
    return {
        "name": "binance",
        "key": credentials.key if credentials else "",
        "secret": credentials.secret if credentials else "",
        "ccxt_config": cfg,
        "ccxt_async_config": json.loads(json.dumps(cfg)),
        "only_from_ccxt": True,  # download-data: no data.binance.vision archive (unreachable offline)
        "enable_ws": False,  # no websocket stream: freqtrade polls /api/v3/klines
        "pair_whitelist": list(pairs or []),
        "pair_blacklist": [],
    }


class OfflineExchange:
    """The offline exchange in a background thread: ``with OfflineExchange(datadir) as ex: ex.url``.

    ``replay_from`` (ISO time, datetime or epoch ms) switches from the historical clock to the
    replay clock running ``speed`` times faster than real time. ``port=0`` picks a free port.
    ``accounts`` (``{"USDT": 1000}`` balances, ``"KEY:SECRET:USDT=1000"`` specs or
    :class:`~.account.Credentials`-less dicts with key/secret/balances) open the private API;
    ``state_file`` persists accounts, orders and trades across restarts. ``delistings``
    (``"SOL=2024-02-29T00:00[@ANNOUNCED]"`` specs or :class:`~.delisting.Delisting`) fill Binance's
    delisting schedule. ``ex.accounts`` is the :class:`~.persistence.AccountStore`, ``ex.faults`` the
    :class:`~.faults.FaultSet`, ``ex.delistings`` the :class:`~.delisting.DelistSchedule`.
    """

    def __init__(
        self,
        datadir: Path | str | None = None,
        port: int = 0,
        replay_from: str | int | None = None,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        accounts: list[str | dict[str, Any]] | None = None,
        state_file: Path | str | None = None,
        delistings: list[str | Delisting] | None = None,
    ) -> None:
        if datadir is None:
            from freqtrade_smartfolio.marketdata import find_data_dir

            datadir = find_data_dir()
        if clock is None:
            clock = Clock(
                replay_from_ms=None if replay_from is None else parse_time(replay_from), speed=speed
            )
        self.feed = Feed(CandleStore(datadir), clock)
        self.accounts = AccountStore(self.feed, state_file)
        self.faults = FaultSet()
        self.credentials: list[Credentials] = [self.add_account(spec) for spec in accounts or []]
        self.delistings = DelistSchedule(
            self.feed, [d if isinstance(d, Delisting) else parse_delisting(d) for d in delistings or []]
        )
        self.api = Api(self.feed, self.accounts, self.faults, self.delistings)
        self.host, self._requested_port = host, int(port)
        self._server: OfflineExchangeServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OfflineExchange is not running; call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_account(self, spec: str | dict[str, Any] | None = None) -> Credentials:
        """Open an account: ``"KEY:SECRET:USDT=1000,BTC=0.1"`` (empty KEY/SECRET are generated),
        ``{"key": .., "secret": .., "balances": {..}}`` or ``{"USDT": 1000}``; returns its credentials."""
        if spec is None:
            return self.accounts.create({})
        if isinstance(spec, str):
            key, secret, balances = parse_account_spec(spec)
            return self.accounts.create(balances, key or None, secret or None)
        if "balances" in spec or "key" in spec or "secret" in spec:
            return self.accounts.create(spec.get("balances", {}), spec.get("key"), spec.get("secret"))
        return self.accounts.create(spec)

    def ccxt_config(self, credentials: Credentials | None = None) -> dict[str, Any]:
        """ccxt's binance options for this server (with ``apiKey``/``secret`` of ``credentials``)."""
        cfg = ccxt_config(self.url)
        if credentials is not None:
            cfg.update(apiKey=credentials.key, secret=credentials.secret)
        return cfg

    def exchange_config(
        self, pairs: list[str] | None = None, credentials: Credentials | None = None
    ) -> dict[str, Any]:
        return exchange_config(self.url, pairs, credentials)

    def make_server(self) -> OfflineExchangeServer:
        try:
            self._server = OfflineExchangeServer((self.host, self._requested_port), self.api)
        except OSError as err:
            raise OSError(
                f"Cannot listen on {self.host}:{self._requested_port} ({err}); "
                "pick another --port, or 0 for a free one"
            ) from err
        return self._server

    def start(self, warm: bool = True) -> Self:
        """Listen and serve in a daemon thread; ``warm`` precomputes exchangeInfo in the background."""
        server = self.make_server()
        self._thread = threading.Thread(target=server.serve_forever, name="offline-exchange", daemon=True)
        self._thread.start()
        if warm:
            threading.Thread(
                target=self.api.all_symbol_info, name="offline-exchange-warmup", daemon=True
            ).start()
        logger.info("offline exchange on %s (%s)", self.url, self.feed.clock.describe())
        return self

    def serve_forever(self) -> None:
        """Listen and serve in this thread until interrupted."""
        server = self._server or self.make_server()
        threading.Thread(target=self.api.all_symbol_info, name="offline-exchange-warmup", daemon=True).start()
        try:
            server.serve_forever()
        finally:
            server.server_close()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if server is not None:
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
