"""``smartfolio new``: weights computed from the data, refusals that name the option, and a config that
freqtrade accepts as is (a real ``freqtrade backtesting`` run against the offline exchange)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from freqtrade_smartfolio.backtest import backtesting_args
from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.commands.new import NewError, parse_coins, parse_weights
from freqtrade_smartfolio.config import parse_settings
from freqtrade_smartfolio.presets import load_presets
from freqtrade_smartfolio.presets.evaluate import load_evaluation


def test_parse_weights_and_coins():
    assert parse_weights("btc=50, ETH=30,SOL=20") == {"BTC": 50.0, "ETH": 30.0, "SOL": 20.0}
    with pytest.raises(NewError, match=r"--weights: 'ETH' is not COIN=PERCENT"):
        parse_weights("BTC=50,ETH")
    assert parse_coins("btc, eth,SOL") == ["BTC", "ETH", "SOL"]
    with pytest.raises(NewError, match=r"--coins: 'BTC,BTC' must list at least 2 different coins"):
        parse_coins("BTC,BTC")


@pytest.mark.parametrize("name", list(load_presets()))
def test_preset_config_has_rounded_weights_from_the_data_and_the_recommended_rule(
    name, tmp_path, require_data
):
    preset = load_presets()[name]
    require_data([f"{c}_USDT-1d.feather" for c in preset.coins])
    out = tmp_path / "config.json"
    assert main(["new", "--preset", name, "--amount", "1000", "--out", str(out)]) == 0
    config = json.loads(out.read_text())
    section = config["smartfolio"]
    assert list(section["portfolio"]) == list(preset.coins)
    assert sum(section["portfolio"].values()) == pytest.approx(100.0, abs=1e-9)
    for weight in section["portfolio"].values():
        assert (
            round(weight, 1) == weight
            and 100 * preset.min_weight - 0.05 <= weight <= 100 * preset.max_weight + 0.05
        )
    recommended = dict(load_evaluation()["presets"][name]["recommended"])
    recommended.pop("label")
    assert section["rebalance"] == recommended
    assert section["investment"] == 1000 and config["dry_run"] is True and config["dry_run_wallet"] == 1000
    assert config["exchange"]["pair_whitelist"] == [f"{c}/USDT" for c in preset.coins]
    parse_settings(config)


def test_coins_with_allocation_and_explicit_weights(tmp_path, capsys, require_data):
    require_data(["BTC_USDT-1d.feather", "ETH_USDT-1d.feather", "SOL_USDT-1d.feather"])
    out = tmp_path / "a.json"
    args = [
        "new",
        "--coins",
        "BTC,ETH,SOL",
        "--allocation",
        "risk-parity",
        "--amount",
        "1000",
        "--out",
        str(out),
    ]
    assert main([*args, "--end", "2024-09-01", "--lookback", "90d", "--threshold", "3"]) == 0
    text = capsys.readouterr().out
    section = json.loads(out.read_text())["smartfolio"]
    # The same figures as docs/allocation.md's `smartfolio allocate ... --end 2024-09-01` (no bounds here).
    assert "risk-parity on 1d closes 2024-06-03..2024-08-31" in text
    assert sum(section["portfolio"].values()) == pytest.approx(100.0)
    assert section["rebalance"] == {"mode": "proportional", "threshold": 3.0}
    out2 = tmp_path / "b.json"
    assert (
        main(
            [
                "new",
                "--weights",
                "BTC=50,ETH=30,SOL=10,USDT=10",
                "--amount",
                "500",
                "--out",
                str(out2),
                "--interval",
                "7d",
                "--api-server",
            ]
        )
        == 0
    )
    config = json.loads(out2.read_text())
    assert config["smartfolio"]["portfolio"] == {"BTC": 50, "ETH": 30, "SOL": 10, "USDT": 10}
    assert config["smartfolio"]["rebalance"] == {"mode": "scheduled", "interval": "7d"}
    assert config["api_server"]["enabled"] and config["api_server"]["listen_ip_address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--weights", "BTC=90,ETH=5,SOL=5", "--amount", "200"],
            r"--amount: 200 USDT is below the minimum of 233\.33 USDT .*invest at least 234",
        ),
        (["--weights", "BTC=50,ETH=30,SOL=10", "--amount", "1000"], r"weights sum to 90%, not 100%"),
        (
            ["--coins", "BTC,ETH", "--allocation", "magic", "--amount", "1000"],
            r"--allocation: method must be",
        ),
        (
            ["--coins", "BTC,ETH", "--amount", "1000", "--min-weight", "2"],
            r"--min-weight: 2\.0 is not a fraction",
        ),
        (["--preset", "nope", "--amount", "1000"], r"preset 'nope' does not exist"),
        (
            ["--preset", "majors", "--amount", "1000", "--lookback", "9x"],
            r"--lookback: '9x' is not a duration",
        ),
        (
            ["--preset", "defi", "--amount", "1000", "--live", "--offline-exchange", "http://127.0.0.1:1"],
            r"--live: the offline exchange only serves market data",
        ),
        (
            ["--weights", "BTC=50,ETH=50", "--amount", "1000", "--mode", "both", "--threshold", "5"],
            r"--interval: required with --mode both",
        ),
    ],
)
def test_new_refuses_with_the_option_value_and_fix(args, message, tmp_path, capsys, require_data):
    require_data(["BTC_USDT-1d.feather"])
    out = tmp_path / "config.json"
    assert main(["new", *args, "--out", str(out)]) == 2
    import re

    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_new_does_not_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "config.json"
    out.write_text("{}")
    assert main(["new", "--weights", "BTC=50,ETH=50", "--amount", "1000", "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["new", "--weights", "BTC=50,ETH=50", "--amount", "1000", "--out", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["smartfolio"]["portfolio"] == {"BTC": 50, "ETH": 50}


@pytest.mark.slow
def test_freqtrade_backtests_the_written_config_as_is(tmp_path, require_data):
    """The file `smartfolio new` writes runs in freqtrade unchanged: backtesting and show-config."""
    from freqtrade_smartfolio.exchange import OfflineExchange

    preset = load_presets()["defi"]
    datadir = require_data([f"{c}_USDT-1h.feather" for c in preset.coins])
    out = tmp_path / "config.json"
    userdir = tmp_path / "user_data"
    (userdir / "backtest_results").mkdir(parents=True)
    with OfflineExchange(datadir) as exchange:
        assert (
            main(
                [
                    "new",
                    "--preset",
                    "defi",
                    "--amount",
                    "1000",
                    "--offline-exchange",
                    exchange.url,
                    "--out",
                    str(out),
                    "--datadir",
                    str(datadir),
                ]
            )
            == 0
        )
        base = [sys.executable, "-m", "freqtrade"]
        done = subprocess.run(
            [*base, *backtesting_args(out, userdir, datadir, "20240801-20240804")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        log = done.stdout + done.stderr
        assert "Rebalance (initial: buy every coin at its target weight)" in log
        shown = subprocess.run(
            [*base, "show-config", "--config", str(out), "--userdir", str(userdir)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr[-2000:]
        assert "SmartPortfolio" in shown.stdout
    results = list((userdir / "backtest_results").glob("*.zip"))
    assert results, "freqtrade wrote no backtest result"
