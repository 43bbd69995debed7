"""``freqtrade trade --dry-run`` as a subprocess with its own user folder, sqlite database and log:
used by the end-to-end tests and ``docs/live.md``.

    bot = DryRunBot(config, workdir).start()      # config from freqtrade_config.build_config
    bot.wait_for("the first trade", lambda: bot.client().status() or None, timeout=60)
    bot.stop()
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

from freqtrade_smartfolio.live.connect import BotClient, BotError, connection_from_config
from freqtrade_smartfolio.marketdata import REPO_ROOT

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_config(config: dict[str, Any], path: Path) -> Path:
    """Write a config readable by its owner only (it holds the REST API password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    return path


def freqtrade_trade_command(
    config_path: Path, db_path: Path, userdir: Path, log_path: Path, dry_run: bool = True
) -> list[str]:
    """``freqtrade trade`` with SmartPortfolio's strategy path and its own database, folder and log."""
    return [
        sys.executable,
        "-m",
        "freqtrade",
        "trade",
        "--config",
        str(config_path),
        *(["--dry-run"] if dry_run else []),
        "--db-url",
        f"sqlite:///{db_path}",
        "--userdir",
        str(userdir),
        "--strategy-path",
        str(REPO_ROOT / "user_data" / "strategies"),
        "--logfile",
        str(log_path),
    ]


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; the exit code (freqtrade cleans up and exits with 130
    on SIGTERM/SIGINT)."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def bot_environment() -> dict[str, str]:
    """The environment for freqtrade: this one without ``PYTEST_VERSION``, under which freqtrade skips
    its logging setup (no ``--logfile``, no ``log_config``): the bot logs as it does outside the tests."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}


class DryRunBot:
    """One dry-run bot: ``workdir`` gets ``config.json``, ``user_data/``, ``tradesv3.sqlite`` and
    ``freqtrade.log``. An api_server ``listen_port`` of 0 is replaced by a free port."""

    def __init__(self, config: dict[str, Any], workdir: str | Path) -> None:
        self.workdir = Path(workdir)
        self.config = json.loads(json.dumps(config))
        api = self.config.get("api_server")
        if api and api.get("enabled") and not api.get("listen_port"):
            api["listen_port"] = free_port(api.get("listen_ip_address", "127.0.0.1"))
        self.config_path = self.workdir / "config.json"
        self.userdir = self.workdir / "user_data"
        self.db_path = self.workdir / "tradesv3.sqlite"
        self.log_path = self.workdir / "freqtrade.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._client: BotClient | None = None

    def command(self) -> list[str]:
        return freqtrade_trade_command(self.config_path, self.db_path, self.userdir, self.log_path)

    def start(self, timeout: float = 60.0) -> Self:
        """Write the config, start freqtrade and wait until its REST API answers /ping."""
        self.userdir.mkdir(parents=True, exist_ok=True)
        write_config(self.config, self.config_path)
        # freqtrade's console output and log: owner-only, like the config (see logsafe.py)
        out_fd = os.open(self.workdir / "freqtrade.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(out_fd, "wb") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, env=bot_environment()
            )
        if self.config.get("api_server", {}).get("enabled"):
            self.wait_for("the REST API to answer /ping", self._pong, timeout=timeout, interval=0.5)
        return self

    def _pong(self) -> bool:
        quiet = logging.getLogger("ft_rest_client")
        level, quiet.level = quiet.level, logging.ERROR  # no "Connection error" while it starts
        try:
            return self.client().ping().get("status") == "pong"
        except BotError:
            return False
        finally:
            quiet.level = level

    def client(self) -> BotClient:
        if self._client is None:
            self._client = connection_from_config(self.config, self.config_path).client()
        return self._client

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of freqtrade's log (and of its console output if the log is missing)."""
        for path in (self.log_path, self.workdir / "freqtrade.out"):
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(freqtrade wrote no log)"

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
        """Poll ``check`` until it returns something other than None/False; on timeout or if freqtrade exits,
        raise TimeoutError naming ``what`` with the tail of freqtrade's log."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise TimeoutError(
                    f"freqtrade exited (code {self.process.returncode}) while waiting for {what}; "
                    f"its log ends with:\n{self.log_tail()}"
                )
            try:
                result = check()
            except BotError:  # the REST API restarting (/reload_config): try again
                result = None
            if result is not None and result is not False:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"gave up after {timeout:.0f}s waiting for {what}; freqtrade's log ends with:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(interval)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``: see :func:`stop_process`."""
        return stop_process(self.process, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
