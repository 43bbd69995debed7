"""A PNG of the report's main chart (value vs buy-and-hold, drawdown, fees) for READMEs and chat.

Two ways, both needing a Chromium/Chrome binary (``apt-get install -y chromium``):
``kaleido`` (``pip install kaleido``, plotly's own exporter) if installed, else a screenshot of
the chart taken by :class:`HeadlessChromium`. Without a browser :class:`BrowserMissing` says how to
install one.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from freqtrade_smartfolio.report.browser import BROWSER_ENV, HeadlessChromium, require_browser
from freqtrade_smartfolio.report.history import PortfolioHistory
from freqtrade_smartfolio.report.page import MAX_POINTS, overview_figure

Method = Literal["auto", "kaleido", "chromium"]
PNG_WIDTH = 1200
PNG_HEIGHT = 760


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence loggers (choreographer logs harmless decode tracebacks while kaleido works)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def write_png(
    history: PortfolioHistory,
    path: str | Path,
    *,
    width: int = PNG_WIDTH,
    height: int = PNG_HEIGHT,
    method: Method = "auto",
    max_points: int = 1500,
) -> tuple[Path, str]:
    """Render the main chart to ``path``; returns the path and the method used (kaleido/chromium)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    browser = require_browser()
    fig = overview_figure(history, min(max_points, MAX_POINTS))
    fig.update_layout(width=width, height=height, title=None)
    kaleido_error: Exception | None = None
    if method in ("auto", "kaleido"):
        try:
            import kaleido  # noqa: F401 - only to know it is installed

            os.environ.setdefault(BROWSER_ENV, str(browser))  # kaleido's choreographer reads it
            with _quiet("choreographer", "kaleido"):
                fig.write_image(path, format="png", width=width, height=height, scale=1)
            return path, "kaleido"
        except Exception as err:  # kaleido missing or its browser failed: take a screenshot instead
            if method == "kaleido":
                raise
            kaleido_error = err
    with tempfile.TemporaryDirectory(prefix="smartfolio-png-") as folder:
        page = Path(folder) / "chart.html"
        fig.write_html(
            page, include_plotlyjs=True, full_html=True, config={"displayModeBar": False, "responsive": False}
        )
        with HeadlessChromium(browser, width=width + 40, height=height + 40) as chrome:
            chrome.open(page.as_uri())
            chrome.wait_for("document.querySelectorAll('.main-svg').length > 0")
            chrome.screenshot(path, selector=".plot-container")
    return path, "chromium" if kaleido_error is None else f"chromium (kaleido failed: {kaleido_error})"
