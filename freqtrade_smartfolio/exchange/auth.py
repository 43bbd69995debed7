"""Binance's authentication of signed requests, as the offline exchange checks it.

Authentication is Binance's: the ``X-MBX-APIKEY`` header names the account, ``signature`` is the
hex HMAC-SHA256 of the query string concatenated with the form body (``signature`` removed) under
the account's secret, ``timestamp`` must be within ``recvWindow`` (default 5000 ms, at most 60000)
of the server's clock and not more than 1000 ms ahead of it. Refusals carry Binance's codes:
-2014 (key missing or malformed), -2015 (unknown key), -1022 (bad signature), -1021 (timestamp),
-1102 (missing parameter), -1131 (recvWindow too large).
"""

from __future__ import annotations

import hashlib
import hmac

from freqtrade_smartfolio.exchange.accounts import KEY_RE, Account
from freqtrade_smartfolio.exchange.persistence import AccountStore
from freqtrade_smartfolio.exchange.wire import ApiError, Request

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
FUTURE_TOLERANCE_MS = 1000


def header(req: Request, name: str) -> str | None:
    """A request header, case-insensitively."""
    lower = name.lower()
    return next((v for k, v in req.headers.items() if k.lower() == lower), None)


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=...`` pair, and the signature (``None`` if absent)."""
    kept, signature = [], None
    for pair in raw.split("&") if raw else []:
        if pair.startswith("signature="):
            signature = pair[len("signature=") :]
        else:
            kept.append(pair)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    """Binance's signature: hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def authenticate(store: AccountStore, req: Request, now_ms: int) -> Account:
    """The account a signed request comes from, or an ``ApiError`` as Binance would answer."""
    key = header(req, "X-MBX-APIKEY")
    if not key or not KEY_RE.match(key):
        raise ApiError(401, -2014, "API-key format invalid.")
    account = store.account(key)
    if account is None:
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    query, sig_q = _strip_signature(req.raw_query)
    body, sig_b = _strip_signature(req.body.decode("utf-8", "replace"))
    signature = sig_q or sig_b
    if not signature:
        raise ApiError(
            400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    expected = sign(account.secret, query + body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    timestamp = req.integer("timestamp")
    if timestamp is None:
        raise ApiError(
            400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    window = req.integer("recvWindow", DEFAULT_RECV_WINDOW) or DEFAULT_RECV_WINDOW
    if window > MAX_RECV_WINDOW:
        raise ApiError(400, -1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    if timestamp >= now_ms + FUTURE_TOLERANCE_MS:
        raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return account
