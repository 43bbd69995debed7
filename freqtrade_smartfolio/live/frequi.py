"""The real FreqUI, driven in a headless Chromium as a user would: log in, load the strategy's plot
config ("Plot configurator" → "From strategy" → "Save"), look at the chart, the dashboard and the
balance. Used by ``tests/test_frequi_browser.py`` and by ``python -m freqtrade_smartfolio.live.frequi``,
which runs a dry-run bot on the offline exchange and writes the screenshots of ``docs/frequi.md``.

Needs the ``playwright`` package (a dev dependency; it drives Debian's ``chromium`` through
``executable_path``, no browser download) and FreqUI installed (``smartfolio ui install``).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.report.browser import require_browser

# FreqUI 3.1.1 fetches its icons at run time from these public APIs; offline they fail (and are
# aborted here at once, instead of waiting for DNS).
ICON_HOSTS = ("api.iconify.design", "api.unisvg.com", "api.simplesvg.com")
ICON_URL = re.compile(r"^https://(" + "|".join(re.escape(h) for h in ICON_HOSTS) + r")/")
# plot_config colours (adapter/strategy.py) looked for in the chart's canvas
SERIES_COLOURS = {"sf_weight": (0x2F, 0x80, 0xED), "sf_vs_hold": (0x27, 0xAE, 0x60)}
PLOT_COLUMNS = ("sf_weight", "sf_target", "sf_vs_hold", "sf_coins_vs_hold")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync")


@dataclass
class Tour:
    """What the browser saw."""

    console_errors: list[str] = field(default_factory=list)  # besides the icon fetches
    icon_errors: int = 0
    candles: dict[str, Any] = field(default_factory=dict)  # the /pair_candles answer after "Save"
    chart_pixels: dict[str, int] = field(default_factory=dict)  # series -> pixels of its colour
    open_trades: str = ""  # the dashboard's "Open Trades" table, as text
    balance: str = ""  # the balance tab, as text
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def column_values(self, column: str) -> list[float]:
        """The numbers (not null) FreqUI received for ``column``."""
        columns = self.candles.get("columns", [])
        if column not in columns:
            return []
        at = columns.index(column)
        return [row[at] for row in self.candles.get("data", []) if isinstance(row[at], int | float)]


def _zoom_to_the_right(page: Any, steps: int) -> None:
    """Zoom the chart in on its latest candles, as a user does with the mouse wheel (ECharts zooms
    around the pointer)."""
    box = page.locator("[_echarts_instance_]").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.4)
    for _ in range(steps):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(120)
    page.wait_for_timeout(800)


def _asks_for_the_columns(response: Any) -> bool:
    """The chart's /pair_candles request once it plots the strategy's columns."""
    return "/api/v1/pair_candles" in response.url and "sf_vs_hold" in (response.request.post_data or "")


def _count_colours_js(colours: dict[str, tuple[int, int, int]]) -> str:
    return (
        "(colours) => { const out = {}; for (const k in colours) out[k] = 0;"
        " for (const c of document.querySelectorAll('[_echarts_instance_] canvas')) {"
        "  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "  for (let i = 0; i < d.length; i += 4) for (const k in colours) { const [r, g, b] = colours[k];"
        "   if (Math.abs(d[i] - r) < 14 && Math.abs(d[i + 1] - g) < 14 && Math.abs(d[i + 2] - b) < 14)"
        "    out[k]++; } }"
        " return out; }"
    )


def run_tour(
    url: str,
    username: str,
    password: str,
    *,
    out_dir: Path | None = None,
    width: int = 1400,
    height: int = 1000,
    timeout: float = 30.0,
    zoom: int = 0,
) -> Tour:
    """Log in to FreqUI at ``url`` and walk through it; screenshots into ``out_dir`` when given. ``zoom``:
    mouse-wheel steps that zoom the chart in on its latest candles (0: FreqUI's default view)."""
    from playwright.sync_api import sync_playwright

    tour = Tour()
    started = time.monotonic()

    def shoot(page: Any, name: str, **kwargs: Any) -> None:
        if out_dir is not None:
            path = Path(out_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), **kwargs)
            tour.screenshots.append(path)

    def on_console(message: Any) -> None:
        if message.type not in ("error", "assert"):
            return
        where = (message.location or {}).get("url", "")
        if ICON_URL.match(where):
            tour.icon_errors += 1
        else:
            tour.console_errors.append(f"console.{message.type}: {message.text} {where}".strip())

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(require_browser()), args=list(CHROMIUM_ARGS), timeout=timeout * 1000
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout * 1000)
            page.on("console", on_console)
            page.on("pageerror", lambda err: tour.console_errors.append(f"uncaught exception: {err}"))
            page.route(ICON_URL, lambda route: route.abort())

            # 1. log in with the api_server's username and password (the UI and the API share one origin)
            page.goto(f"{url}/login")
            page.get_by_placeholder("Freqtrader").fill(username)
            page.locator("input[type=password]").fill(password)
            page.get_by_role("button", name="Submit").click()
            page.wait_for_url(f"{url}/")

            # 2. the chart, and the strategy's plot config: cog, "From strategy" (the chart previews it),
            # "Save" (FreqUI keeps it in the browser's storage)
            page.get_by_role("link", name="Chart", exact=True).click()
            page.get_by_title("Plot configurator").click()
            with page.expect_response(_asks_for_the_columns):
                page.get_by_role("button", name="From strategy").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("vs holding %", exact=True).wait_for()
            shoot(page, "frequi-plot-configurator.png")
            page.get_by_role("button", name="Save").click()
            dialog.get_by_role("button", name="Close").click()
            page.get_by_role("dialog").wait_for(state="detached")

            # 3. the dashboard's open trades
            page.get_by_role("link", name="Dashboard", exact=True).click()
            page.get_by_text("Open Trades", exact=True).wait_for()
            page.wait_for_function(
                "() => [...document.querySelectorAll('table')].some(t => /USDT/.test(t.innerText))"
            )
            tour.open_trades = page.evaluate(
                "() => [...document.querySelectorAll('table')].map(t => t.innerText).join('\\n---\\n')"
            )
            shoot(page, "frequi-dashboard.png")

            # back to the chart: the saved plot config asks for the strategy's columns and draws them
            with page.expect_response(_asks_for_the_columns) as answer:
                page.get_by_role("link", name="Chart", exact=True).click()
            tour.candles = answer.value.json()
            page.wait_for_function("() => document.querySelector('[_echarts_instance_] canvas') !== null")
            page.wait_for_timeout(1000)  # the chart animates its series in
            if zoom:
                _zoom_to_the_right(page, zoom)
            tour.chart_pixels = page.evaluate(_count_colours_js(SERIES_COLOURS), SERIES_COLOURS)
            shoot(page, "frequi-chart.png")

            # 4. the balance (Trade view, "Multi Pane", balance tab: icon-only tabs, offline unlabelled)
            page.get_by_role("link", name="Trade", exact=True).click()
            page.locator("[role=tab][aria-controls$='content-balance']").click()
            panel = page.locator("[role=tabpanel][id$='content-balance']")
            panel.get_by_text("Bot Balance").wait_for()
            page.wait_for_function(
                "() => { const p = document.querySelector(\"[role=tabpanel][id$='content-balance']\");"
                " return p && (p.innerText.match(/USDT/g) || []).length > 1; }"
            )
            tour.balance = panel.inner_text()
            shoot(page, "frequi-balance.png")
        finally:
            browser.close()
    tour.seconds = time.monotonic() - started
    return tour


def _main(argv: list[str] | None = None) -> int:
    """A dry-run bot on the offline exchange (real candles replayed at speed 60), FreqUI installed from
    ../shared/frequi, the tour and its screenshots: ``python -m freqtrade_smartfolio.live.frequi --out
    docs/img``."""
    from freqtrade_smartfolio.commands.ui import find_tarball, freqtrade_ui_folder, install
    from freqtrade_smartfolio.exchange import OfflineExchange
    from freqtrade_smartfolio.exchange.feed import Clock, parse_time
    from freqtrade_smartfolio.freqtrade_config import build_config
    from freqtrade_smartfolio.live.dryrun import DryRunBot
    from freqtrade_smartfolio.marketdata import find_data_dir

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/smartfolio-frequi-tour"))
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the bot runs before the tour")
    parser.add_argument("--zoom", type=int, default=12, help="mouse-wheel steps into the latest candles")
    args = parser.parse_args(argv)
    print(install(*find_tarball(None), freqtrade_ui_folder()))
    portfolio = {"DOGE": 25, "SOL": 25, "ETH": 25, "BTC": 25}
    datadir = find_data_dir([f"{c}_USDT-1h.feather" for c in portfolio])
    anchor = int((time.time() + 30) // 60 * 60)
    clock = Clock(replay_from_ms=parse_time("2024-02-28T15:00"), speed=60, anchor_ms=anchor * 1000)
    with OfflineExchange(datadir, clock=clock) as exchange:
        config = build_config(
            {
                "portfolio": portfolio,
                "investment": 10_000,
                "rebalance": {"mode": "proportional", "threshold": 1.5},
            },
            timeframe="1m",
            exchange_url=exchange.url,
            api_server=True,
            extra={"internals": {"process_throttle_secs": 1}},
        )
        config["api_server"]["listen_port"] = 0
        with DryRunBot(config, args.workdir) as bot:
            client = bot.client()
            bot.wait_for("the initial allocation", lambda: len(client.status()) == len(portfolio) or None, 90)
            time.sleep(args.minutes * 60)
            api = bot.config["api_server"]
            tour = run_tour(
                f"http://127.0.0.1:{api['listen_port']}",
                api["username"],
                api["password"],
                out_dir=args.out,
                zoom=args.zoom,
            )
    print(json.dumps({"screenshots": [str(p) for p in tour.screenshots], "errors": tour.console_errors}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
