"""The HTML report, built from a real freqtrade backtest on real candles, and drawn by a real headless
Chromium (skipped without one, failed under CI=true: CI must install it)."""

from __future__ import annotations

import html
import os
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from freqtrade_smartfolio import cli
from freqtrade_smartfolio.backtest import run_backtest
from freqtrade_smartfolio.exchange import OfflineExchange
from freqtrade_smartfolio.freqtrade_config import build_config
from freqtrade_smartfolio.portfolio.engine import buy_and_hold, load_market, simulate
from freqtrade_smartfolio.portfolio.plan import RebalanceRule
from freqtrade_smartfolio.portfolio.targets import Targets
from freqtrade_smartfolio.report import from_backtest_result, from_engine, from_freqtrade_db, write_html
from freqtrade_smartfolio.report.browser import INSTALL_HINT, find_browser
from freqtrade_smartfolio.report.page import keep_positions, rebalance_markers

pytestmark = pytest.mark.slow

PORTFOLIO = {"BTC": 30, "ETH": 25, "SOL": 15, "XRP": 15, "BNB": 15}
THRESHOLD = 2.0
TIMERANGE = "20240101-20240301"
SMARTFOLIO = {
    "portfolio": PORTFOLIO,
    "investment": 10_000,
    "rebalance": {"mode": "proportional", "threshold": THRESHOLD},
}
MAX_PAGE_BYTES = 6_000_000
ARTIFACTS = Path(__file__).parent / "artifacts"


def _browser_or_skip() -> Path:
    browser = find_browser()
    if browser is None:
        message = f"headless browser test: no Chromium found; {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI must install it: apt-get install -y chromium)", pytrace=False)
        pytest.skip(message)
    return browser


@pytest.fixture(scope="module")
def backtest(require_data, tmp_path_factory):
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in PORTFOLIO])
    with OfflineExchange(datadir) as exchange:
        config = build_config(SMARTFOLIO, timeframe="1h", exchange_url=exchange.url)
        run = run_backtest(config, tmp_path_factory.mktemp("backtest"), datadir, TIMERANGE)
    return run, datadir


@pytest.fixture(scope="module")
def history(backtest):
    run, datadir = backtest
    return from_backtest_result(run.result_path, datadir)


@pytest.fixture(scope="module")
def page(history, tmp_path_factory) -> Path:
    return write_html(history, tmp_path_factory.mktemp("report") / "report.html")


def test_history_is_rebuilt_from_the_backtest_orders(backtest, history):
    run, _ = backtest
    assert history.equity.iloc[-1] == pytest.approx(run.result["final_balance"], rel=1e-9)
    assert history.strategy_stats["final_value"] == pytest.approx(run.result["final_balance"], rel=1e-9)
    assert history.hold_equity is not None and history.hold_stats is not None
    assert len(history.trades) == len(run.orders)
    kinds = history.trades["kind"].value_counts()
    assert kinds["initial"] == len(PORTFOLIO) and kinds["final"] == len(PORTFOLIO)
    assert kinds["rebalance"] >= 5
    # targets and band come from the config freqtrade stored in the result zip
    assert history.targets == pytest.approx({c: w / 100 for c, w in PORTFOLIO.items()})
    assert history.band.threshold == pytest.approx(THRESHOLD / 100) and not history.band.relative
    # weights (coins + cash) sum to 1 once invested
    invested = history.weights[history.weights.index >= history.trades["time"].iloc[0]]
    assert np.allclose(invested.sum(axis=1), 1.0)
    assert set(history.coins) == set(PORTFOLIO)


def test_page_holds_the_charts_and_a_row_per_rebalance_order(history, page):
    text = page.read_text()
    assert page.stat().st_size < MAX_PAGE_BYTES
    # plotly.js inlined once; the page's own markup loads no script from anywhere
    plotly_js = get_plotlyjs()
    assert text.count(plotly_js) == 1
    markup = text.replace(plotly_js, "")
    assert markup.count("<script") == 3 and not re.search(r"<script[^>]*\bsrc=", markup)
    assert "cdn.plot.ly" not in markup and "https://" not in markup
    for chart in ('id="overview"', 'id="weights"'):
        assert chart in text
    assert text.count("Plotly.newPlot(") == 2
    for title in ("Portfolio value (USDT)", "Drawdown from the running peak", "Fees paid, cumulative (USDT)"):
        assert title in text
    rebalance = history.trades[history.trades["kind"] == "rebalance"]
    assert text.count('<tr class="fill rebalance">') == len(rebalance)
    assert text.count('<tr class="fill initial">') == len(PORTFOLIO)
    assert text.count('<tr class="fill final">') == len(PORTFOLIO)
    for order in rebalance.itertuples():
        assert f"<td>{order.time:%Y-%m-%d %H:%M}</td><td>{html.escape(order.reason)}</td>" in text
    # each marker's hover text lists its orders; the markers are exactly the rebalance fill times
    markers = rebalance_markers(history)
    assert list(markers["time"]) == sorted(set(rebalance["time"]))
    first = rebalance[rebalance["time"] == markers["time"].iloc[0]]
    assert all(
        f"{o.side} " in markers["text"].iloc[0] and o.coin in markers["text"].iloc[0]
        for o in first.itertuples()
    )


def test_long_hourly_runs_are_thinned_but_rebalances_stay_exact(require_data, tmp_path):
    """Four and a half years of hourly candles through the fast engine: a page under 6 MB."""
    coins = {"BTC": 40, "ETH": 25, "BNB": 15, "SOL": 10, "XRP": 10}
    datadir = require_data([f"{coin}_USDT-1h.feather" for coin in coins])
    market = load_market(list(coins), "1h", "2021-01-01", "2025-06-30", datadir)
    targets, rule = Targets.from_percent(coins, "USDT"), RebalanceRule(threshold=0.02)
    result = simulate(market, targets, rule, investment=10_000, mode="clean")
    hold = buy_and_hold(market, targets, investment=10_000, mode="clean")
    history = from_engine(result, targets, rule, hold=hold)
    assert len(history.equity) > 35_000
    page = write_html(history, tmp_path / "engine.html")
    assert page.stat().st_size < MAX_PAGE_BYTES
    markers = rebalance_markers(history)
    assert list(markers["time"]) == sorted(
        set(history.trades.loc[history.trades["kind"] == "rebalance", "time"])
    )
    positions = keep_positions(history.equity.index, 2000, markers["time"])
    assert len(positions) <= 2000 + 2 * len(markers) + 2
    kept = history.equity.index[positions]
    assert set(markers["time"]) <= set(kept)  # the bar of every rebalance is plotted exactly


def test_keep_positions_on_synthetic_index():
    index = pd.date_range("2021-01-01", periods=40_000, freq="h", tz="UTC")
    times = [index[123], index[30_001]]
    kept = keep_positions(index, 1000, times)
    assert kept[0] == 0 and kept[-1] == len(index) - 1
    assert {122, 123, 30_000, 30_001} <= set(kept)
    assert len(kept) <= 1000 + 6
    assert (np.diff(kept) > 0).all()


def test_cli_writes_the_page_and_prints_its_path(backtest, tmp_path, capsys):
    run, datadir = backtest
    out = tmp_path / "cli" / "report.html"
    code = cli.main(["report", str(run.result_path), "--datadir", str(datadir), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert out.is_file() and printed.strip().splitlines()[-1] == str(out.resolve())
    assert "[1/3]" in printed and "[3/3]" in printed


def test_report_from_a_bot_database(backtest, tmp_path):
    """A sqlite database with freqtrade's own schema, filled with the backtest's trades and orders."""
    from freqtrade.persistence.base import ModelBase
    from sqlalchemy import create_engine, insert

    run, datadir = backtest
    db = tmp_path / "tradesv3.sqlite"
    engine = create_engine(f"sqlite:///{db}")
    ModelBase.metadata.create_all(engine)
    trades, orders = ModelBase.metadata.tables["trades"], ModelBase.metadata.tables["orders"]

    def when(ms: int):
        return pd.Timestamp(ms, unit="ms", tz="UTC").tz_localize(None).to_pydatetime()

    with engine.begin() as conn:
        for number, trade in enumerate(run.result["trades"], start=1):
            base, stake = trade["pair"].split("/")
            conn.execute(
                insert(trades).values(
                    id=number, exchange="binance", pair=trade["pair"], base_currency=base,
                    stake_currency=stake, is_open=False, fee_open=trade["fee_open"],
                    fee_close=trade["fee_close"], open_rate=trade["open_rate"],
                    stake_amount=trade["stake_amount"], amount=trade["amount"],
                    open_date=when(trade["open_timestamp"]), close_date=when(trade["close_timestamp"]),
                    exit_reason=trade["exit_reason"], enter_tag=trade["enter_tag"],
                    strategy="SmartPortfolio", timeframe=60,
                )
            )  # fmt: skip
            for order_number, order in enumerate(trade["orders"]):
                filled = when(order["order_filled_timestamp"])
                conn.execute(
                    insert(orders).values(
                        ft_trade_id=number, ft_order_side=order["ft_order_side"], ft_pair=trade["pair"],
                        ft_is_open=False, ft_amount=order["amount"], ft_price=order["safe_price"],
                        order_id=f"{number}-{order_number}", status="closed", symbol=trade["pair"],
                        order_type="market", side=order["ft_order_side"], price=order["safe_price"],
                        average=order["safe_price"], amount=order["amount"], filled=order["amount"],
                        remaining=0.0, cost=order["cost"], order_date=filled, order_filled_date=filled,
                        ft_order_tag=order["ft_order_tag"],
                    )
                )  # fmt: skip
    end = pd.Timestamp(run.result["backtest_end"], tz="UTC") + pd.Timedelta(hours=1)
    history = from_freqtrade_db(db, datadir, config=build_config(SMARTFOLIO), end=end)
    assert len(history.trades) == len(run.orders)
    assert (history.trades["kind"] == "final").sum() == len(PORTFOLIO)  # tagged by the trades' exit_reason
    # every position sold at the end: the last value is the cash, freqtrade's final balance
    assert history.equity.iloc[-1] == pytest.approx(run.result["final_balance"], rel=1e-9)
    assert history.band.threshold == pytest.approx(THRESHOLD / 100)
    assert write_html(history, tmp_path / "bot.html").stat().st_size < MAX_PAGE_BYTES


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_did_rebalancing_pay_panel_matches_the_curves(history, page):
    """The panel's numbers are the report's own curves at the last close before freqtrade's final sale:
    the rebalanced value and buy-and-hold of the initial fills (both rebuilt from the orders)."""
    result = history.vs_hold
    assert result is not None
    assert result.value == pytest.approx(history.equity.iloc[-2], rel=1e-9)
    assert result.hold_value == pytest.approx(history.hold_equity.iloc[-2], rel=1e-9)
    assert {c.coin for c in result.coins} == set(PORTFOLIO)
    assert result.rebalance_orders == int((history.trades["kind"] == "rebalance").sum())
    text = page.read_text()
    assert "Did rebalancing pay?" in text and 'id="vs-hold"' in text and "Holding the start coins" in text


def test_browser_draws_the_page_without_console_errors(history, page):
    """Playwright drives Debian's Chromium (``executable_path``: no browser download)."""
    browser_path = _browser_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the playwright package is missing (pip install -e '.[dev]')", pytrace=False)
        pytest.skip("the playwright package is missing (pip install -e '.[dev]')")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(browser_path), args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.set_default_timeout(60_000)
            tab.on("console", lambda m: m.type == "error" and errors.append(f"console.error: {m.text}"))
            tab.on("pageerror", lambda err: errors.append(f"uncaught exception: {err}"))
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(page.as_uri())
            tab.wait_for_function(
                "() => document.querySelectorAll('#overview svg.main-svg').length > 0 && "
                "document.querySelectorAll('#weights svg.main-svg').length > 0"
            )
            assert tab.evaluate("document.querySelectorAll('.plot-container').length") == 2
            # the curves are drawn as SVG paths with many points, the markers as points
            curve = tab.evaluate(
                "Math.max(...[...document.querySelectorAll('#overview .scatterlayer .trace .js-line')]"
                ".map(p => (p.getAttribute('d') || '').split('L').length))"
            )
            assert curve > 500
            markers = rebalance_markers(history)
            drawn = tab.evaluate(
                "document.querySelectorAll('#overview .scatterlayer .trace .points path').length"
            )
            assert drawn >= len(markers)
            panels = tab.evaluate("document.querySelectorAll('#weights .cartesianlayer .subplot').length")
            assert panels == len(history.coins)
            # hovering the first rebalance marker shows its orders
            trace = tab.evaluate(
                "document.getElementById('overview').data.findIndex(t => t.mode === 'markers')"
            )
            tab.evaluate(f"Plotly.Fx.hover('overview', [{{curveNumber: {trace}, pointNumber: 0}}])")
            hover = tab.evaluate("document.querySelector('#overview .hoverlayer').textContent")
            first = markers.iloc[0]
            assert f"{first['time']:%Y-%m-%d %H:%M} UTC" in hover and "traded" in hover
            # the "did rebalancing pay?" panel: one row per coin
            rows = tab.locator("table.vs-hold-coins tbody tr")
            assert rows.count() == len(PORTFOLIO)
            assert errors == [], errors
            offline = ("file:", "data:", "blob:", "about:")
            assert [url for url in requests if not url.startswith(offline)] == []
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = tab.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
            tab.locator("#overview").screenshot(path=str(ARTIFACTS / "report-overview.png"))
            tab.locator("#vs-hold").screenshot(path=str(ARTIFACTS / "report-vs-hold.png"))
        finally:
            browser.close()
    width, height = _png_size(shot)
    assert width == 1280 and height > 2000


def test_missing_browser_skips_locally_fails_under_ci_and_png_says_how_to_install(
    history, tmp_path, monkeypatch, capsys, backtest
):
    from freqtrade_smartfolio.report.browser import BrowserMissing
    from freqtrade_smartfolio.report.image import write_png

    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    assert find_browser() is None
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        _browser_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        _browser_or_skip()
    with pytest.raises(BrowserMissing, match="apt-get install -y chromium"):
        write_png(history, tmp_path / "x.png")
    run, datadir = backtest
    out = tmp_path / "r.html"
    code = cli.main(["report", str(run.result_path), "--datadir", str(datadir), "--out", str(out), "--png"])
    printed = capsys.readouterr().out
    assert (
        code == 3 and out.is_file() and "PNG skipped" in printed and "apt-get install -y chromium" in printed
    )


def test_png_of_the_main_chart(history, tmp_path):
    _browser_or_skip()
    from freqtrade_smartfolio.report.image import write_png

    path, method = write_png(history, tmp_path / "chromium.png", method="chromium", width=1000, height=640)
    assert method == "chromium"
    assert _png_size(path.read_bytes()) == (1000, 640)
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return
    path, method = write_png(history, ARTIFACTS / "report-main.png", method="kaleido")
    assert method == "kaleido" and _png_size(path.read_bytes()) == (1200, 760)
