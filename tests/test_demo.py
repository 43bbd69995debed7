"""`smartfolio demo` end to end on a short window: summary beside buy-and-hold, then the report."""

from __future__ import annotations

import pytest

from freqtrade_smartfolio.cli import main

pytestmark = pytest.mark.slow


def test_demo_prints_the_summary_and_writes_the_report(require_data, tmp_path, capsys):
    datadir = require_data([f"{c}_USDT-1h.feather" for c in ("BTC", "ETH", "BNB", "SOL", "XRP")])
    # A quiet month with a 5% band: no rebalance, which the report must handle too.
    code = main(
        ["demo", "--timerange", "20240101-20240201", "--datadir", str(datadir), "--workdir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for line in ("Final value", "Total return", "Max drawdown", "Rebalances", "Fees paid", "Buy and hold"):
        assert line in out
    assert "freqtrade's final balance" in out
    assert (tmp_path / "report.html").is_file()
    assert f"Report: {(tmp_path / 'report.html').resolve()}" in out


def test_demo_without_data_says_where_it_looked_and_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMARTFOLIO_DATADIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr("freqtrade_smartfolio.marketdata.candidate_data_dirs", lambda: [tmp_path / "nowhere"])
    assert main(["demo"]) == 2  # missing input: one line on stderr (docs/cli-errors.md)
    err = capsys.readouterr().err
    assert "Looked in" in err and "freqtrade download-data" in err


def test_the_readmes_figures_are_what_make_demo_prints(require_data, tmp_path, capsys):
    """The README's demo block, figure for figure, from the default demo (the full window)."""
    import re

    from freqtrade_smartfolio.marketdata import REPO_ROOT

    datadir = require_data([f"{c}_USDT-1h.feather" for c in ("BTC", "ETH", "BNB", "SOL", "XRP")])
    assert main(["demo", "--datadir", str(datadir), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("                      SmartPortfolio     Buy and hold", 1)[1].split("Report:", 1)[0]
    for line in block.strip().splitlines():
        line = line.split(" (difference")[0]  # float noise of the check itself may differ by platform
        if line.strip() and not line.startswith("-"):
            assert line.strip() in out, f"README line not printed by the demo: {line!r}\n{out}"
    assert re.search(r"difference \d\.\d\de-1\d", out)
