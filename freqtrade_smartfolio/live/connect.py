"""Connect to a running bot's REST API with ``freqtrade_client``: from the bot's config file
(``api_server`` section) or from ``--url --username --password``. The password is never printed."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freqtrade_client import FtRestClient

PASSWORD_ENV = "SMARTFOLIO_API_PASSWORD"


class BotError(RuntimeError):
    """The bot's REST API could not be reached or refused a request; the message says what to do."""


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
        return json.loads(file.read_text())
    except FileNotFoundError:
        raise BotError(f"config file {file} not found; pass the bot's config with --config") from None
    except json.JSONDecodeError as err:
        raise BotError(f"config file {file} is not valid JSON ({err}); fix the file") from None


def connection_from_config(config: dict[str, Any], config_path: Path | None = None) -> Connection:
    """The REST API address and login from a config's ``api_server`` section."""
    api = config.get("api_server") or {}
    if not api.get("enabled"):
        raise BotError(
            f"api_server is not enabled in {config_path or 'the config'}; set api_server.enabled to true "
            "(build_config(..., api_server=True) writes a safe section) and restart the bot"
        )
    host = api.get("listen_ip_address", "127.0.0.1")
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return Connection(
        url=f"http://{host}:{api.get('listen_port', 8080)}",
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
        raise BotError("no bot to talk to: pass --config <the bot's config.json> or --url http://HOST:PORT")
    return Connection(
        url=url.rstrip("/"),
        username=args.username or (base.username if base else ""),
        password=args.password or os.environ.get(PASSWORD_ENV) or (base.password if base else ""),
        config_path=base.config_path if base else None,
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
                    "check --username/--password or the config's api_server section"
                )
            raise BotError(f"{method}: the bot answered {detail!r}")
        return answer

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)
