"""Logging for the freqtrade processes the project configures: no secrets in the log, log owner-only.

With FreqUI connected, uvicorn's ``uvicorn.error`` logger writes one INFO line per websocket
connection, ``"WebSocket /api/v1/message/ws?token=<JWT>" [accepted]`` (freqtrade's api_server
``verbosity: error`` turns off the access log only), and freqtrade's log file is created with the
umask's mode (0644). :func:`log_config` is the ``log_config`` that
:func:`freqtrade_smartfolio.freqtrade_config.build_config` writes: freqtrade's default console handler,
the uvicorn loggers at WARNING, a filter that masks tokens and passwords in every record, and for
``--logfile`` a rotating file handler that creates its files with mode 0600.
"""

from __future__ import annotations

import logging
import os
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

REDACTED = "<redacted>"
# token=..., access_token=..., password=... in query strings and messages; JWTs wherever they appear
SECRET_PARAMS = re.compile(r"(?i)\b((?:access_|refresh_|ws_)?token|password|secret|api_?key)=([^&\s\"'<>]+)")
JWT = re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")
LOGFORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"  # freqtrade's
FILE_MAX_BYTES = 10 * 1024 * 1024  # as freqtrade's own --logfile handler
FILE_BACKUPS = 10


def redact(text: str) -> str:
    """``text`` with JWTs and the values of token/password/secret parameters masked."""
    return JWT.sub(REDACTED, SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text))


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message (formatted with its arguments) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted: leave it to the handler's error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class OwnerOnlyFileHandler(RotatingFileHandler):
    """freqtrade's rotating log file, created (and each rotated file) readable by its owner only.
    The folder is created when missing; with ``delay`` nothing is created until the first record."""

    def _open(self):
        path = Path(self.baseFilename)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(path, 0o600)  # a file left by an earlier run keeps its mode otherwise
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def log_config(logfile: str | Path | None = None) -> dict[str, Any]:
    """freqtrade's ``log_config``. freqtrade's ``--logfile PATH`` sets the ``file`` handler's file name
    and attaches it; ``logfile`` attaches it here (without either, the handler stays unused and,
    being delayed, creates nothing)."""
    handlers = ["console"] + (["file"] if logfile is not None else [])
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"basic": {"format": "%(message)s"}, "standard": {"format": LOGFORMAT}},
        "filters": {"secrets": {"()": f"{__name__}.RedactSecrets"}},
        "handlers": {
            "console": {
                "class": "freqtrade.loggers.ft_rich_handler.FtRichHandler",
                "formatter": "basic",
                "filters": ["secrets"],
            },
            "file": {
                "class": f"{__name__}.OwnerOnlyFileHandler",
                "formatter": "standard",
                "filename": str(logfile or Path("user_data") / "logs" / "freqtrade.log"),
                "maxBytes": FILE_MAX_BYTES,
                "backupCount": FILE_BACKUPS,
                "delay": True,
                "filters": ["secrets"],
            },
        },
        # uvicorn logs each websocket connection (with FreqUI's ?token=<JWT>) at INFO on uvicorn.error
        "loggers": {
            "uvicorn": {"level": "WARNING", "filters": ["secrets"]},
            "uvicorn.error": {"level": "WARNING", "filters": ["secrets"]},
            "uvicorn.access": {"level": "WARNING", "filters": ["secrets"]},
        },
        "root": {"handlers": handlers, "level": "INFO"},
    }
