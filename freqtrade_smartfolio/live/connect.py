"""Connect to a running bot's REST API with ``freqtrade_client``: from the bot's config file
(``api_server`` section) or from ``--url --username --password``. The password is never printed."""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from freqtrade_client import FtRestClient

PASSWORD_ENV = "SMARTFOLIO_API_PASSWORD"

# freqtrade_client logs "Connection error - could not connect" itself; BotError says it (with the fix).
# A NullHandler keeps that warning off stderr when nothing configured logging (it still propagates).
logging.getLogger("ft_rest_client").addHandler(logging.NullHandler())


class BotError(RuntimeError):
    """The bot's REST API could not be reached or refused a request; the message says what to do.
    ``user_fault``: the input was wrong (config file, address, login), not the bot or the network."""

    def __init__(self, message: str, *, user_fault: bool = False) -> None:
        super().__init__(message)
        self.user_fault = user_fault


@dataclass(frozen=True)
class Connection:
    """Where the bot's REST API listens and how to log in (``password`` is hidden from repr)."""

    url: str
    username: str
    password: str = field(repr=False)
    config_path: Path | None = None

    def client(self, timeout: float = 10.0) -> BotClient:
        return BotClient(self, timeout=timeout)


def read_config(path: str | Path) -> dict[str, Any]:
    """A freqtrade config file as a dict (plain JSON; freqtrade's comments are not supported here)."""
    file = Path(path)
    try:
        config = json.loads(file.read_text())
    except FileNotFoundError:
        raise BotError(
            f"config file {file} not found; pass the bot's config with --config", user_fault=True
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BotError(
            f"config file {file} is not valid JSON ({err}); fix the file", user_fault=True
        ) from None
    except OSError as err:
        raise BotError(
            f"config file {file} cannot be read ({err.strerror or err}); pass the bot's config file",
            user_fault=True,
        ) from None
    if not isinstance(config, dict):
        raise BotError(
            f"config file {file} holds a JSON {type(config).__name__}, not a freqtrade config object; "
            "pass the bot's config.json",
            user_fault=True,
        )
    return config


def connection_from_config(config: dict[str, Any], config_path: Path | None = None) -> Connection:
    """The REST API address and login from a config's ``api_server`` section."""
    api = config.get("api_server") or {}
    if not isinstance(api, dict) or not api.get("enabled"):
        raise BotError(
            f"api_server is not enabled in {config_path or 'the config'}; set api_server.enabled to true "
            "(build_config(..., api_server=True) writes a safe section) and restart the bot",
            user_fault=True,
        )
    host = api.get("listen_ip_address", "127.0.0.1")
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    port = api.get("listen_port", 8080)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise BotError(
            f"api_server.listen_port {port!r} in {config_path or 'the config'} is not a port; "
            "give a whole number from 1 to 65535, e.g. 8080",
            user_fault=True,
        )
    return Connection(
        url=f"http://{host}:{port}",
        username=str(api.get("username", "")),
        password=str(api.get("password", "")),
        config_path=config_path,
    )


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` or ``--url/--username/--password`` (password also from $SMARTFOLIO_API_PASSWORD)."""
    group = parser.add_argument_group("bot connection (the config's api_server, or the flags)")
    group.add_argument("-c", "--config", type=Path, default=None, help="the running bot's config file")
    group.add_argument("--url", default=None, help="REST API address, e.g. http://127.0.0.1:8080")
    group.add_argument("--username", default=None, help="REST API username")
    group.add_argument(
        "--password",
        default=None,
        help=f"REST API password (prefer ${PASSWORD_ENV}: flags show up in the process list)",
    )


def connection_from_args(args: argparse.Namespace) -> Connection:
    """The connection the command-line asks for: flags override the config's api_server section."""
    base: Connection | None = None
    if args.config is not None:
        base = connection_from_config(read_config(args.config), args.config)
    url = args.url or (base.url if base else None)
    if not url:
        raise BotError(
            "no bot to talk to: pass --config <the bot's config.json> or --url http://HOST:PORT",
            user_fault=True,
        )
    check_url(url)
    return Connection(
        url=url.rstrip("/"),
        username=args.username or (base.username if base else ""),
        password=args.password or os.environ.get(PASSWORD_ENV) or (base.password if base else ""),
        config_path=base.config_path if base else None,
    )


def check_url(url: str) -> None:
    """Refuse a REST API address that is not ``http(s)://HOST[:PORT]`` (BotError, the user's fault)."""
    why = ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError as err:
        valid, why = False, f" ({err})"
    if not valid:
        raise BotError(
            f"--url {url!r} is not a REST API address{why}; give http://HOST:PORT, e.g. http://127.0.0.1:8080",
            user_fault=True,
        )


class BotClient:
    """``FtRestClient`` with errors turned into :class:`BotError` (freqtrade_client returns None on
    connection errors and the error body on HTTP errors)."""

    def __init__(self, connection: Connection, timeout: float = 10.0) -> None:
        self.connection = connection
        self.rest = FtRestClient(connection.url, connection.username, connection.password, timeout=timeout)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``FtRestClient.<method>(*args)``, raising BotError with a fix instead of returning None."""
        try:
            answer = getattr(self.rest, method)(*args, **kwargs)
        except Exception as err:  # requests raises on timeouts and non-JSON bodies
            raise BotError(f"{method}: no valid answer from {self.connection.url} ({err})") from None
        if answer is None:
            raise BotError(
                f"cannot reach the bot's REST API at {self.connection.url}; is the bot running with "
                "api_server enabled, and is the address right?"
            )
        if isinstance(answer, dict) and set(answer) == {"detail"}:
            detail = answer["detail"]
            if detail in ("Unauthorized", "Not authenticated"):
                raise BotError(
                    f"{self.connection.url} refused the login for user {self.connection.username!r}; "
                    "check --username/--password or the config's api_server section",
                    user_fault=True,
                )
            raise BotError(f"{method}: the bot answered {detail!r}")
        return answer

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)
