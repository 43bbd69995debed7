"""``smartfolio ui install`` on the real FreqUI 3.1.1 tarball (../shared/frequi), into a temporary folder
as freqtrade's ``ui/installed``; and the ``log_config`` of the configs the project builds: uvicorn's
websocket line with FreqUI's token never reaches a handler, secrets are masked, the log file is 0600."""

from __future__ import annotations

import logging
import logging.config
import os
import stat
import tarfile

import pytest

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.commands.ui import find_tarball, install, read_version
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.logsafe import REDACTED, OwnerOnlyFileHandler, log_config, redact

# a JWT as FreqUI sends it (header.payload.signature, base64url); not a real secret
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZGVudGl0eSI6eyJ1Ijoic2YifX0.c2lnbmF0dXJlX2lzX2hlcmU"


@pytest.fixture(scope="module")
def tarball():
    try:
        return find_tarball(None)
    except UserError as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"FreqUI's tarball is required: {err}", pytrace=False)
        pytest.skip(str(err))


def test_install_is_what_install_ui_does_and_idempotent(tarball, tmp_path):
    path, version = tarball
    assert version == "3.1.1"
    folder = tmp_path / "ui" / "installed"
    folder.mkdir(parents=True)
    (folder / "fallback_file.html").write_text("kept")
    (folder / "stale.js").write_text("old UI")
    said = install(path, version, folder)
    assert said.startswith("FreqUI 3.1.1 installed")
    assert read_version(folder) == "3.1.1" and (folder / "index.html").is_file()
    assert not (folder / "stale.js").exists() and (folder / "fallback_file.html").read_text() == "kept"
    with tarfile.open(path) as archive:
        names = {m.name.removeprefix("./") for m in archive.getmembers() if m.isfile()}
    assert names <= {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert "already installed" in install(path, version, folder)
    assert "installed in" in install(path, version, folder, force=True)
    assert not list(tmp_path.glob("ui/.installing-*")) and not list(tmp_path.glob("ui/.replaced-*"))


def test_a_broken_tarball_is_refused_and_the_ui_kept(tarball, tmp_path):
    path, version = tarball
    folder = tmp_path / "ui" / "installed"
    install(path, version, folder.parent.mkdir(parents=True) or folder)
    broken = tmp_path / "frequi-9.9.9-dist.tar.gz"
    broken.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(UserError, match="cannot be extracted"):
        install(broken, "9.9.9", folder)
    assert read_version(folder) == "3.1.1" and (folder / "index.html").is_file()


def test_redact_masks_tokens_and_passwords():
    line = f'127.0.0.1:5555 - "WebSocket /api/v1/message/ws?token={TOKEN}" [accepted]'
    assert redact(line) == f'127.0.0.1:5555 - "WebSocket /api/v1/message/ws?token={REDACTED}" [accepted]'
    assert TOKEN not in redact(f"Authorization: Bearer {TOKEN}")
    assert redact("login password=hunter2&user=sf") == f"login password={REDACTED}&user=sf"


def test_the_built_config_logs_no_websocket_token_to_an_owner_only_file(tmp_path):
    section = {"portfolio": {"BTC": 50, "ETH": 50}, "investment": 1000, "rebalance": {"threshold": 5}}
    config = build_config(section, api_server=True)
    assert config["log_config"] == log_config()
    logfile = tmp_path / "logs" / "freqtrade.log"
    settings = log_config(logfile)
    # freqtrade's rich console handler needs freqtrade's console: a plain stream here
    settings["handlers"]["console"] = {"class": "logging.StreamHandler", "filters": ["secrets"]}
    saved = logging.root.handlers[:], logging.root.level
    try:
        logging.config.dictConfig(settings)
        logging.getLogger("uvicorn.error").info('"WebSocket /api/v1/message/ws?token=%s" [accepted]', TOKEN)
        logging.getLogger("uvicorn.error").warning("ws closed: token=%s", TOKEN)
        logging.getLogger("freqtrade.rpc").info("login with password=%s", config["api_server"]["password"])
        for handler in logging.root.handlers:
            handler.flush()
        text = logfile.read_text()
    finally:
        for handler in logging.root.handlers:
            if handler not in saved[0]:
                handler.close()
        logging.root.handlers[:] = saved[0]
        logging.root.setLevel(saved[1])
    assert "WebSocket" not in text  # uvicorn.error at WARNING
    assert f"ws closed: token={REDACTED}" in text and f"password={REDACTED}" in text
    assert TOKEN not in text and config["api_server"]["password"] not in text
    assert stat.S_IMODE(logfile.stat().st_mode) == 0o600


def test_rotated_log_files_are_owner_only_too(tmp_path):
    path = tmp_path / "freqtrade.log"
    path.write_text("left by an earlier run\n")
    path.chmod(0o644)
    handler = OwnerOnlyFileHandler(path, maxBytes=200, backupCount=2, delay=True)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for i in range(20):
            handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "line %d " + "x" * 40, (i,), None))
    finally:
        handler.close()
    files = sorted(tmp_path.glob("freqtrade.log*"))
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), [oct(f.stat().st_mode) for f in files]
