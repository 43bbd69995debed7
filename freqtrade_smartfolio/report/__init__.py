"""Reports people look at: one self-contained HTML page (plotly) of a portfolio's life, and a PNG.

Build a :class:`PortfolioHistory` with an adapter of :mod:`.sources`, then :func:`write_html` and,
optionally, :func:`write_png`::

    from freqtrade_smartfolio.report import from_backtest_result, write_html
    write_html(from_backtest_result("backtest-result-....zip", datadir), "report.html")
"""

from freqtrade_smartfolio.report.history import Band, PortfolioHistory
from freqtrade_smartfolio.report.page import overview_figure, render_html, weights_figure, write_html
from freqtrade_smartfolio.report.sources import (
    from_backtest_result,
    from_backtest_run,
    from_engine,
    from_freqtrade_db,
)

__all__ = [
    "Band",
    "PortfolioHistory",
    "from_backtest_result",
    "from_backtest_run",
    "from_engine",
    "from_freqtrade_db",
    "overview_figure",
    "render_html",
    "weights_figure",
    "write_html",
]
