"""The real FreqUI 3.1.1 (installed from ../shared/frequi with ``smartfolio ui install``) against a
dry-run SmartPortfolio bot on the offline exchange, in Debian's headless Chromium driven by Playwright:
log in, load the strategy's plot config as a user would ("Plot configurator", "From strategy", "Save"),
and check that the chart draws the weight and vs-holding subplots with data, the dashboard lists the
open trades, the balance view the coins; no console error besides FreqUI's icon fetches (offline).
Then a restart: the vs-holding columns come back from the orders. Then freqtrade's log: no JWT, no
password, owner-only.

Skipped locally without Chromium, Playwright, FreqUI's tarball or the candles; failed under CI=true.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pytest

from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.exchange.feed import Clock, parse_time
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.live.dryrun import DryRunBot
from freqtrade_smartfolio.logsafe import JWT
from freqtrade_smartfolio.report.browser import INSTALL_HINT, find_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PORTFOLIO = {"DOGE": 25, "SOL": 25, "ETH": 25, "BTC": 25}
# DOGE's +18% hour: a threshold rebalance a few candles (minutes) after the initial allocation
REPLAY_FROM = "2024-02-28T12:00"
ARTIFACTS = Path(__file__).parent / "artifacts" / "frequi"


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must provide it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def frequi_installed():
    from freqtrade_smartfolio.cli import UserError
    from freqtrade_smartfolio.commands.ui import find_tarball, freqtrade_ui_folder, install, read_version

    if find_browser() is None:
        _missing(f"FreqUI browser test: no Chromium found; {INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("FreqUI browser test: the playwright package is missing (pip install -e '.[dev]')")
    try:
        tarball, version = find_tarball(None)
    except UserError as err:
        _missing(f"FreqUI browser test: {err}")
    folder = freqtrade_ui_folder()
    install(tarball, version, folder)
    assert read_version(folder) == version
    return version


@pytest.fixture(scope="module")
def session(frequi_installed, require_data, tmp_path_factory):
    from freqtrade_smartfolio.live.frequi import run_tour

    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    started = time.monotonic()
    anchor = int((time.time() + 20) // 60 * 60)
    clock = Clock(replay_from_ms=parse_time(REPLAY_FROM), speed=60, anchor_ms=anchor * 1000)
    with OfflineExchange(datadir, clock=clock) as exchange:
        config = build_config(
            {"portfolio": PORTFOLIO, "investment": 10_000, "rebalance": {"threshold": 1.5}},
            timeframe="1m",
            exchange_url=exchange.url,
            api_server=True,
            extra={"internals": {"process_throttle_secs": 1}},
        )
        config["api_server"]["listen_port"] = 0
        bot = DryRunBot(config, tmp_path_factory.mktemp("frequi"))
        try:
            bot.start()
            client = bot.client()
            assert client.ping() == {"status": "pong"}
            bot.wait_for("the initial allocation", lambda: len(client.status()) == len(PORTFOLIO) or None, 90)
            # two checked candles after the allocation: the subplots have points to draw
            first = min(t["open_timestamp"] for t in client.status()) / 1000
            # the candle of the fills is checked at its close, the next one a minute later
            bot.wait_for("two checked candles", lambda: time.time() > (first // 60 + 2) * 60 + 4 or None, 150)
            api = bot.config["api_server"]
            tour = run_tour(
                f"http://127.0.0.1:{api['listen_port']}",
                api["username"],
                api["password"],
                out_dir=ARTIFACTS,
                zoom=6,
            )
            # a restart: the vs-holding columns come back from the orders, for the candles before it
            before = _vs_hold_columns(client)
            assert bot.stop() in (0, 130), bot.log_tail()
            bot.start()
            after = bot.wait_for(
                "the columns after the restart",
                lambda: (lambda c: c if set(before) <= set(c) else None)(_vs_hold_columns(bot.client())),
                60,
                interval=0.5,
            )
        finally:
            code = bot.stop()
    print(f"FreqUI session: {time.monotonic() - started:.0f} s, of which the browser {tour.seconds:.0f} s")
    assert code in (0, 130), bot.log_tail()
    return {"tour": tour, "bot": bot, "api": api, "before": before, "after": after}


def _vs_hold_columns(client) -> dict[str, tuple[float, float]]:
    """Date -> (sf_vs_hold, sf_coins_vs_hold) of DOGE's analysed candles that have them."""
    answer = client.pair_candles("DOGE/USDT", "1m", limit=30, columns=["sf_vs_hold", "sf_coins_vs_hold"])
    if "sf_vs_hold" not in answer.get("columns", []):
        return {}
    rows = [dict(zip(answer["columns"], row, strict=False)) for row in answer.get("data", [])]
    return {
        r["date"]: (r["sf_vs_hold"], r["sf_coins_vs_hold"])
        for r in rows
        if isinstance(r["sf_vs_hold"], float) and isinstance(r["sf_coins_vs_hold"], float)
    }


def test_frequi_is_served_by_the_bot(frequi_installed):
    assert frequi_installed == "3.1.1"


def test_the_chart_draws_the_strategys_subplots_with_data(session):
    tour = session["tour"]
    assert {"sf_weight", "sf_target", "sf_vs_hold", "sf_coins_vs_hold"} <= set(tour.candles["columns"])
    weights = tour.column_values("sf_weight")
    assert len(weights) >= 2 and all(10 < w < 40 and round(w, 2) == w for w in weights), weights
    assert len(tour.column_values("sf_vs_hold")) >= 2
    # one entry marker at most (the last candle of a pair without a trade), not one per candle
    assert tour.candles["enter_long_signals"] <= 1
    # the lines are drawn: pixels of the plot_config colours in the chart's canvas
    assert tour.chart_pixels["sf_weight"] > 20 and tour.chart_pixels["sf_vs_hold"] > 20, tour.chart_pixels


def test_the_dashboard_and_the_balance_show_the_portfolio(session):
    tour = session["tour"]
    for coin in PORTFOLIO:
        assert f"{coin}/USDT" in tour.open_trades
        assert re.search(rf"^{coin}\s+[\d.]+", tour.balance, re.M), tour.balance


def test_the_vs_holding_columns_survive_a_restart(session):
    """Computed from the orders in freqtrade's database, not from the strategy's memory."""
    before, after = session["before"], session["after"]
    assert len(before) >= 2
    assert {date: after[date] for date in before} == before


def test_no_console_errors_besides_the_icon_fetches(session):
    tour = session["tour"]
    assert tour.console_errors == [], tour.console_errors
    assert tour.seconds < 60


def test_the_log_holds_no_jwt_or_password_and_is_owner_only(session):
    bot, api = session["bot"], session["api"]
    for path in (bot.log_path, bot.workdir / "freqtrade.out"):
        text = path.read_text(errors="replace")
        assert "freqtrade" in text and "SmartPortfolio" in text  # the log was written
        assert not JWT.search(text), JWT.search(text)
        assert not re.search(r"token=(?!<redacted>)", text)
        for secret in (api["password"], api["jwt_secret_key"], api["ws_token"]):
            assert secret not in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
