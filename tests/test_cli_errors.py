"""Every ``smartfolio`` sub-command, given bad arguments and files, answers with ONE line on stderr
naming what was wrong and the fix, exit status 2 for bad input and 1 for a failure outside the
user's control (bot not running, exchange, freqtrade), no traceback, and no file changed.

The inputs tried and the answers are listed in docs/cli-errors.md. Commands run in-process through
``cli.main`` (fast); a few run as a real process to check what a user sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from freqtrade_smartfolio import cli
from freqtrade_smartfolio.cli import _command_modules, main
from freqtrade_smartfolio.commands import _checks

REPO = Path(__file__).resolve().parent.parent
SMARTFOLIO = {
    "portfolio": {"BTC": 50, "ETH": 50},
    "investment": 1000,
    "rebalance": {"mode": "proportional", "threshold": 5},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Refuses(BaseHTTPRequestHandler):
    """A REST API that refuses every login, as freqtrade does for a wrong password."""

    def _answer(self) -> None:
        body = json.dumps({"detail": "Unauthorized"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def offline_exchange(require_data):
    from freqtrade_smartfolio.exchange import OfflineExchange

    with OfflineExchange(require_data(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"])) as exchange:
        exchange.api.all_symbol_info()  # warm: /api/v3/exchangeInfo answers at once
        yield exchange.url


@pytest.fixture(scope="module")
def taken_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def _config(path: Path, port: int, password: str = "right", section: bool = True) -> Path:
    config = {
        "stake_currency": "USDT",
        "dry_run": True,
        "dry_run_wallet": 1000,
        "api_server": {
            "enabled": True,
            "listen_ip_address": "127.0.0.1",
            "listen_port": port,
            "username": "sf",
            "password": password,
        },
    }
    if section:
        config["smartfolio"] = SMARTFOLIO
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def files(tmp_path, monkeypatch, refusing_api):
    """Bad inputs of every kind in ``tmp_path/in``; the commands run in ``tmp_path/cwd``."""
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(_checks, "BINANCE_URL", f"http://127.0.0.1:{_free_port()}")  # no internet here
    monkeypatch.delenv("SMARTFOLIO_API_PASSWORD", raising=False)
    (folder / "empty.zip").write_bytes(b"")
    (folder / "not-a-zip.zip").write_text("hello\n")
    with zipfile.ZipFile(folder / "no-result.zip", "w") as archive:
        archive.writestr("readme.txt", "not a backtest")
    with zipfile.ZipFile(folder / "other-strategy.zip", "w") as archive:
        archive.writestr("backtest-result-2024.json", json.dumps({"strategy": {"SampleStrategy": {}}}))
        archive.writestr("backtest-result-2024_config.json", "{}")
    import sqlite3

    with sqlite3.connect(folder / "other.sqlite") as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    (folder / "not-json.json").write_text("{ not json")
    (folder / "list.json").write_text("[1, 2]")
    dead = _free_port()
    _config(folder / "dead.json", dead)
    _config(folder / "no-section.json", dead, section=False)
    _config(folder / "wrong-password.json", refusing_api, password="wrong")
    no_api = json.loads((folder / "dead.json").read_text())
    no_api["api_server"]["enabled"] = False
    (folder / "no-api.json").write_text(json.dumps(no_api))
    bad_port = json.loads((folder / "dead.json").read_text())
    bad_port["api_server"]["listen_port"] = 99999
    (folder / "bad-port.json").write_text(json.dumps(bad_port))
    (folder / "a-folder").mkdir()
    return {"in": folder, "dead": dead, "refusing": refusing_api}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# (command line with {in}/{dead}/{refusing}/{exchange}/{taken} placeholders, exit status, part of the message)
CASES = [
    # demo
    ("demo --datadir {in}/nowhere", 2, "--datadir: .* is not a folder"),
    ("demo --datadir {in}", 2, "no 1h candle file for BTC, ETH, BNB, SOL, XRP in"),
    ("demo --timerange yesterday", 2, "--timerange: 'yesterday' is not a freqtrade timerange"),
    ("demo --timerange 20250101-20240101", 2, "start before end"),
    ("demo --timerange 20100101-20100201", 2, "lies outside the candles"),
    ("demo --threshold -1", 2, "rebalance.threshold: -1.0 is not allowed"),
    ("demo --threshold nan", 2, "threshold"),
    ("demo --investment 1", 2, "--investment: 1 USDT is below"),
    ("demo --timeframe 7h", 2, "--timeframe: '7h' is not a candle size"),
    ("demo --timeframe 3d", 2, "--timeframe: no 3d candle file"),
    ("demo --report {in}/a-folder", 2, "--report: .* is a folder"),
    ("demo --investment lots", 2, "argument --investment: invalid float value"),
    # allocate
    ("allocate BTC NOPE", 2, "no 1d candle file for NOPE in .*NOPE_USDT-1d.feather"),
    ("allocate FOO BAR", 2, "no 1d candle file for FOO, BAR"),
    ("allocate BTC BTC", 2, "COIN must be given once each"),
    ("allocate BTC", 2, "at least 2 assets"),
    ("allocate BTC ETH --method yolo", 2, "method must be one of"),
    ("allocate BTC ETH --lookback 3months", 2, "--lookback must be a positive whole number"),
    ("allocate BTC ETH --lookback 1d", 2, "use a longer lookback"),
    ("allocate BTC ETH --min-weight 2", 2, r"bounds min must be a number in \[0, 1\]"),
    ("allocate BTC ETH --max-weight 0.4", 2, "maximum weights must sum to >= 1"),
    ("allocate BTC ETH --risk-free-rate inf", 2, "risk_free_rate must be a finite"),
    ("allocate BTC ETH --end garbage", 2, "--end: 'garbage' is not a time"),
    ("allocate BTC ETH --end 2001-01-01", 2, "no candles shared by BTC, ETH before 2001-01-01"),
    ("allocate BTC ETH --timeframe banana", 2, "--timeframe: 'banana' is not a candle size"),
    ("allocate BTC ETH --datadir {in}/nowhere", 2, "--datadir: .* is not a folder"),
    ("allocate BTC ETH --datadir {in}/empty.zip", 2, "--datadir: .* is not a folder"),
    ("allocate BTC ETH --datadir {in}", 2, "no 1d candle file for BTC, ETH in"),
    ("allocate BTC ETH --covariance magic", 2, "argument --covariance: invalid choice"),
    # exchange
    ("exchange start --port 99999 --run-dir {in}/run", 2, "argument --port: 99999 is out of range"),
    ("exchange start --port -1 --run-dir {in}/run", 2, "argument --port: -1 is out of range"),
    ("exchange start --port http --run-dir {in}/run", 2, "argument --port: 'http' is not a port number"),
    ("exchange serve --port 70000", 2, "argument --port: 70000 is out of range"),
    (
        "exchange start --port {taken} --run-dir {in}/run",
        1,
        "cannot listen on 127.0.0.1:.* pick another --port",
    ),
    ("exchange serve --port {taken}", 1, "cannot listen on 127.0.0.1"),
    ("exchange start --speed 0 --run-dir {in}/run", 2, "argument --speed: 0 must be a finite number above 0"),
    ("exchange start --timeout -5 --run-dir {in}/run", 2, "argument --timeout"),
    ("exchange start --datadir {in}/nowhere --run-dir {in}/run", 2, "--datadir: datadir=.* is not a folder"),
    ("exchange start --datadir {in} --run-dir {in}/run", 2, "holds no <COIN>_USDT-<tf>.feather files"),
    ("exchange serve --replay-from someday", 2, "--replay-from: replay_from='someday' is not a time"),
    ("exchange start --account nonsense --run-dir {in}/run", 2, "--account: account 'nonsense' is not"),
    ("exchange serve --account ::USDT=lots", 2, "balance of USDT: 'lots' is not a number"),
    (
        "exchange start --accounts-file {in}/missing.json --run-dir {in}/run",
        2,
        "--accounts-file: .* not found",
    ),
    ("exchange start --accounts-file {in}/not-json.json --run-dir {in}/run", 2, "not a readable JSON file"),
    ("exchange start --host no.such.host.invalid --run-dir {in}/run", 2, "--host: 'no.such.host.invalid'"),
    ("exchange start --run-dir {in}/empty.zip", 2, "--run-dir: .* is a file"),
    ("exchange launch", 2, "argument ACTION: invalid choice: 'launch'"),
    # presets
    ("presets show nope", 2, "preset 'nope' does not exist; use one of"),
    ("presets show", 2, "give a preset name"),
    ("presets majors", 2, "argument action: invalid choice: 'majors'"),
    ("presets list majors", 2, "'majors' is not an action; use 'presets show majors'"),
    ("presets --recompute --datadir {in}/nowhere", 2, "--datadir: .* is not a folder"),
    ("presets --reports {in}/empty.zip", 2, "--reports: .* is a file"),
    # new
    (
        "new --weights BTC=50,FOOBAR=50 --amount 1000",
        2,
        "FOOBAR has no candle file in .* could not be looked up",
    ),
    (
        "new --weights BTC=50,FOOBAR=50 --amount 1000 --offline-exchange {exchange}",
        2,
        "FOOBAR is not traded as FOOBAR/USDT on http://127.0.0.1:.* \\(checked its markets\\)",
    ),
    ("new --coins BTC,NOPE --amount 1000", 2, "--coins: no 1d candle file for NOPE in"),
    ("new --coins BTC --amount 1000", 2, "must list at least 2 different coins"),
    ("new --preset nope --amount 1000", 2, "preset 'nope' does not exist"),
    ("new --weights BTC=50,ETH=40 --amount 1000", 2, "smartfolio.portfolio"),
    ("new --weights BTC=fifty --amount 1000", 2, "--weights: 'BTC=fifty' is not COIN=PERCENT"),
    ("new --weights BTC=50,ETH=50 --amount -5", 2, "smartfolio.investment: -5.0 is not a positive amount"),
    ("new --weights BTC=50,ETH=50 --amount 10", 2, "--amount: 10 USDT is below the minimum"),
    (
        "new --weights BTC=50,ETH=50 --amount 1000 --threshold 500",
        2,
        "rebalance.threshold: 500.0 is not allowed",
    ),
    ("new --weights BTC=50,ETH=50 --amount 1000 --interval often", 2, "'often' is not a duration"),
    ("new --weights BTC=50,ETH=50 --amount 1000 --timeframe 7h", 2, "--timeframe: '7h' is not a candle size"),
    ("new --coins BTC,ETH --amount 1000 --end garbage", 2, "--end: 'garbage' is not a time"),
    ("new --coins BTC,ETH --amount 1000 --min-weight 5", 2, "--min-weight: 5.0 is not a fraction"),
    (
        "new --weights BTC=50,ETH=50 --amount 1000 --offline-exchange notaurl",
        2,
        "--offline-exchange: 'notaurl'",
    ),
    ("new --weights BTC=50,ETH=50 --amount 1000 --offline-exchange http://h:99999", 2, "--offline-exchange"),
    ("new --weights BTC=50,ETH=50 --amount 1000 --out {in}/dead.json", 2, "--out: .* exists; pass --force"),
    ("new --weights BTC=50,ETH=50 --amount 1000 --out {in}/a-folder", 2, "--out: .* is a folder"),
    ("new --weights BTC=50,ETH=50 --amount 1000 --datadir {in}/nowhere", 2, "--datadir: .* is not a folder"),
    ("new --amount 1000", 2, "one of the arguments --preset --coins --weights is required"),
    # report
    ("report {in}/missing.zip", 2, "SOURCE: .*missing.zip does not exist"),
    ("report {in}/empty.zip", 2, "SOURCE: .*empty.zip is empty"),
    ("report {in}/not-a-zip.zip", 2, "is neither a zip nor a sqlite database"),
    ("report /etc/hostname", 2, "is neither a zip nor a sqlite database"),
    ("report {in}/a-folder", 2, "SOURCE: .* is not a file"),
    ("report {in}/no-result.zip", 2, "a zip without a freqtrade backtest result"),
    ("report {in}/other-strategy.zip", 2, "--strategy: strategy 'SmartPortfolio' not in .*SampleStrategy"),
    ("report {in}/other.sqlite --investment 1000", 2, "is not a freqtrade database \\(no such table"),
    ("report {in}/other.sqlite", 2, "a database holds no starting balance"),
    ("report {in}/other.sqlite --config {in}/no-section.json", 2, "has no 'smartfolio' section"),
    ("report {in}/other.sqlite --config {in}/not-json.json", 2, "--config: .* is not valid JSON"),
    ("report {in}/other.sqlite --investment -5", 2, "--investment: -5 is not a positive amount"),
    ("report {in}/other-strategy.zip --max-points 0", 2, "--max-points: 0 is too few"),
    ("report {in}/other-strategy.zip --out {in}/a-folder", 2, "--out: .* is a folder"),
    ("report --results-dir {in}/nowhere", 2, "--results-dir: .* is not a folder"),
    ("report --results-dir {in}", 2, "No backtest result in"),
    # status
    ("status", 2, "no bot to talk to: pass --config"),
    ("status --config {in}/dead.json", 1, "cannot reach the bot's REST API at http://127.0.0.1:"),
    ("status --config {in}/missing.json", 2, "config file .* not found"),
    ("status --config {in}/not-json.json", 2, "is not valid JSON"),
    ("status --config {in}/list.json", 2, "not a freqtrade config object"),
    ("status --config {in}/a-folder", 2, "cannot be read"),
    ("status --config {in}/no-section.json", 2, "has no smartfolio.portfolio"),
    ("status --config {in}/no-api.json", 2, "api_server is not enabled"),
    ("status --config {in}/bad-port.json", 2, "api_server.listen_port 99999 .* is not a port"),
    ("status --config {in}/wrong-password.json", 2, "refused the login for user 'sf'"),
    ("status --url notaurl", 2, "--url 'notaurl' is not a REST API address"),
    ("status --url http://127.0.0.1:99999", 2, "Port out of range"),
    ("status --url ftp://127.0.0.1:21", 2, "is not a REST API address"),
    ("status --url http://127.0.0.1:{dead}", 1, "cannot reach the bot's REST API"),
    ("status --url http://127.0.0.1:{refusing} --username sf --password wrong", 2, "refused the login"),
    # records
    ("records --config {in}/dead.json", 1, "cannot reach the bot's REST API"),
    ("records --config {in}/no-section.json", 1, "cannot reach the bot's REST API"),
    ("records --config {in}/wrong-password.json", 2, "refused the login"),
    ("records --db {in}/missing.sqlite", 2, "--db: .* does not exist"),
    ("records --db {in}/empty.zip", 2, "--db: .* is empty"),
    ("records --db {in}/not-json.json", 2, "--db: .* is not a sqlite database"),
    ("records --db {in}/other.sqlite", 2, "not a freqtrade trades database \\(no such table"),
    ("records --db {in}/other.sqlite --gap -1", 2, "--gap: -1 is not a number of seconds"),
    ("records --db {in}/other.sqlite --csv {in}/a-folder", 2, "--csv: .* is a folder"),
    ("records --url {in}", 2, "is not a REST API address"),
    # invest
    ("invest --amount -5", 2, "--amount: -5 is not a positive amount.*nothing changed"),
    ("invest --amount 0 --config {in}/dead.json", 2, "--amount: 0 is not a positive amount"),
    ("invest --amount nan --config {in}/dead.json", 2, "--amount: nan is not a positive amount"),
    ("invest --amount 500", 2, "no bot to talk to"),
    ("invest --config {in}/dead.json", 2, "give --amount AMOUNT and/or --set KEY=VALUE"),
    ("invest --amount 500 --config {in}/dead.json", 1, "cannot reach the bot's REST API.*nothing changed"),
    ("invest --amount 500 --config {in}/wrong-password.json", 2, "refused the login"),
    ("invest --amount 500 --config {in}/no-section.json", 2, "has no 'smartfolio' section"),
    ("invest --amount 500 --config {in}/missing.json", 2, "config file .* not found"),
    ("invest --amount 500 --url http://127.0.0.1:{dead}", 2, "--config is required"),
    ("invest --amount ten --config {in}/dead.json", 2, "argument --amount: invalid float value"),
    (
        "invest --set rebalance.threshold=80 --config {in}/dead.json",
        2,
        "rebalance.threshold: 80 is not allowed",
    ),
    ("invest --set threshold --config {in}/dead.json", 2, "'threshold' is not KEY=VALUE"),
    # set
    ("set rebalance.threshold=3 --config {in}/dead.json", 1, "cannot reach the bot's REST API"),
    ("set rebalance.threshold=-1 --config {in}/dead.json", 2, "rebalance.threshold: -1 is not allowed"),
    ("set rebalance.interval=often --config {in}/dead.json", 2, "'often' is not a duration"),
    ("set take_profit=50 --config {in}/no-section.json", 2, "has no 'smartfolio' section"),
    ("set take_profit=50 --config {in}/wrong-password.json", 2, "refused the login"),
    ("set nonsense --config {in}/dead.json", 2, "'nonsense' is not KEY=VALUE"),
    ("set take_profit=50", 2, "no bot to talk to"),
    # stop
    ("stop --keep-coins --config {in}/dead.json", 1, "cannot reach the bot's REST API"),
    ("stop --sell-all --config {in}/wrong-password.json", 2, "refused the login"),
    ("stop --keep-coins --config {in}/missing.json", 2, "config file .* not found"),
    ("stop --keep-coins --url localhost:8080", 2, "is not a REST API address"),
    ("stop --sell-all --timeout -1 --config {in}/dead.json", 2, "--timeout: -1 is not a number of seconds"),
    ("stop --config {in}/dead.json", 2, "one of the arguments --sell-all --keep-coins is required"),
    # ui
    ("ui install --from {in}/nowhere", 2, "--from: .*/nowhere does not exist"),
    ("ui install --from {in}/not-a-zip.zip", 2, "is not a FreqUI release tarball"),
    ("ui install --from {in}/a-folder", 2, "holds no frequi-<version>-dist.tar.gz"),
    ("ui", 2, "the following arguments are required: ACTION"),
    # schema
    (
        "schema --out {in}/a-folder",
        2,
        "--out: .*a-folder is a folder; give a file name, e.g. --out .*smartfolio.schema.json",
    ),
    ("schema --out {in}/dead.json", 2, "--out: .*dead.json exists; pass --force to overwrite it"),
    ("schema --out {in}/nowhere/smartfolio.schema.json", 2, "--out: .*nowhere is not a folder; create it"),
    ("schema --out {in}/empty.zip/x.json", 2, "--out: .*empty.zip is not a folder"),
    ("schema --whole-config --out {in}/a-folder", 2, "e.g. --out .*smartfolio-config.schema.json"),
    ("schema --out", 2, "argument --out: expected one argument; see 'smartfolio schema --help'"),
    # the command itself
    ("nosuchcommand", 2, "argument COMMAND: invalid choice: 'nosuchcommand'"),
]

COMMANDS = {m.NAME for m in _command_modules()}


def test_every_command_is_tried():
    tried = {line.split()[0] for line, _, _ in CASES}
    assert tried >= COMMANDS, f"add bad inputs for {COMMANDS - tried}"


@pytest.mark.parametrize(("line", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_answers_one_line(
    line, status, message, files, offline_exchange, taken_port, tmp_path, capsys, require_data
):
    require_data(["BTC_USDT-1d.feather", "ETH_USDT-1h.feather"])
    argv = line.format(
        **{"in": files["in"], "dead": files["dead"], "refusing": files["refusing"]},
        exchange=offline_exchange,
        taken=taken_port,
    ).split()
    before = _snapshot(tmp_path)
    code, out, err = _run(argv, capsys)
    lines = [text for text in err.splitlines() if text.strip()]
    assert "Traceback" not in err + out
    assert len(lines) == 1, err
    import re

    assert re.search(message, lines[0]), lines[0]
    name = argv[0] if argv[0] in COMMANDS else ""
    assert lines[0].startswith(f"smartfolio {name}".strip()), lines[0]
    assert "unexpected error" not in lines[0]
    assert code == status, lines[0]
    assert _snapshot(tmp_path) == before, "a refused command changed a file"


def test_new_says_which_check_it_made(files, offline_exchange, tmp_path, capsys, require_data):
    require_data(["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"])
    out = tmp_path / "config.json"
    args = ["new", "--weights", "BTC=50,ETH=50", "--amount", "1000", "--out", str(out)]
    code, stdout, _ = _run([*args, "--offline-exchange", offline_exchange], capsys)
    assert code == 0 and f"every coin trades against USDT on {offline_exchange}" in stdout
    out.unlink()
    code, stdout, _ = _run(args, capsys)
    assert code == 0 and "every coin has candles in" in stdout and "the exchange was not checked" in stdout


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(files, monkeypatch, capsys):
    from freqtrade_smartfolio.commands import presets

    def broken(args):
        raise RuntimeError("something odd")

    monkeypatch.setattr(presets, "run", broken)
    code, _, err = _run(["presets"], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.strip() == (
        "smartfolio presets: unexpected error RuntimeError: something odd; "
        "run with --debug for the traceback and report it"
    )
    code, _, err = _run(["presets", "--debug"], capsys)
    assert code == 1 and "Traceback" in err and err.strip().endswith("report it")
    code, _, err = _run(["--debug", "presets"], capsys)
    assert "Traceback" in err


def test_expected_errors_show_the_traceback_only_with_debug(files, capsys):
    code, _, err = _run(["report", str(files["in"] / "no-result.zip"), "--debug"], capsys)
    assert code == 2 and "Traceback" in err and err.splitlines()[-1].startswith("smartfolio report: error:")


def test_errors_in_a_real_process(files, tmp_path, taken_port):
    """What a user sees in a terminal: the issue's examples, run as ``smartfolio ...``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for argv, status, text in [
        (["report", "/etc/hostname"], 2, "neither a zip nor a sqlite database"),
        (
            ["exchange", "start", "--port", "99999", "--run-dir", str(tmp_path / "run")],
            2,
            "99999 is out of range",
        ),
        (["invest", "--amount", "-5"], 2, "-5 is not a positive amount"),
        (["status", "--config", str(files["in"] / "dead.json")], 1, "cannot reach the bot's REST API"),
    ]:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "smartfolio"), *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
        assert done.returncode == status, done.stderr
        assert done.stderr.count("\n") == 1 and text in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_exchange_module_entry_point_answers_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "freqtrade_smartfolio.exchange", "serve", "--datadir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "holds no" in done.stderr


def test_report_error_formats(capsys):
    assert cli.report_error("smartfolio x", cli.UserError("bad\n  input"), False) == 2
    assert cli.report_error("smartfolio x", cli.ExternalError("down"), False) == 1
    assert capsys.readouterr().err == "smartfolio x: error: bad input\nsmartfolio x: error: down\n"
