"""Sector presets: shipped files load, their coins have data, the loader names bad fields, and the stored
evaluation is what the code computes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.commands.presets import stale_reason
from freqtrade_smartfolio.marketdata import load_closes
from freqtrade_smartfolio.presets import PresetError, get_preset, load_preset_file, load_presets
from freqtrade_smartfolio.presets.evaluate import (
    EvaluationSettings,
    estimate_weights,
    evaluate_all,
    format_table,
    load_evaluation,
)

GOOD = {
    "name": "mine",
    "title": "Mine",
    "description": "Two coins.",
    "coins": ["BTC", "ETH"],
    "allocation": {
        "method": "risk-parity",
        "lookback": "30d",
        "timeframe": "1d",
        "min_weight": 0.1,
        "max_weight": 0.9,
    },
}


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_at_least_five_presets_ship_and_validate():
    presets = load_presets()
    assert len(presets) >= 5
    assert {"majors", "defi", "meme", "ethereum", "ai"} <= set(presets)
    for preset in presets.values():
        assert len(preset.coins) >= 2 and preset.title and preset.description
        assert preset.method in {
            "equal",
            "inverse_volatility",
            "min_variance",
            "max_sharpe",
            "risk_parity",
            "hrp",
        }
        assert preset.lookback_minutes > 0


def test_every_preset_coin_has_data_over_the_evaluation_window_and_its_lookback(require_data):
    settings = EvaluationSettings()
    for preset in load_presets().values():
        datadir = require_data([f"{c}_USDT-1h.feather" for c in preset.coins])
        closes = load_closes(list(preset.coins), "1h", "2024-01-01", settings.end, datadir)
        assert closes.index[0] == pd.Timestamp("2024-01-01", tz="UTC"), preset.name
        allocation, window = estimate_weights(
            preset.coins,
            preset.method,
            preset.lookback,
            preset.timeframe,
            preset.bounds,
            settings.start,
            datadir,
        )
        assert window.index[-1] < closes.index[-1]
        assert abs(allocation.display_weights().sum() - 100.0) < 1e-9


def test_loader_accepts_a_good_file_and_normalises_the_method(tmp_path):
    preset = load_preset_file(write(tmp_path, "mine", GOOD))
    assert preset.method == "risk_parity" and preset.coins == ("BTC", "ETH") and preset.bounds == (0.1, 0.9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"name": "other"},
            r"mine\.json: name: 'other' differs from the file name; rename the file to other\.json",
        ),
        ({"coins": ["BTC"]}, r"mine\.json: coins: \['BTC'\] is not allowed; give a list of at least 2"),
        ({"coins": ["BTC", "btc!"]}, r"coins\[1\]: 'btc!' is not a coin symbol"),
        ({"coins": ["BTC", "BTC"]}, r"coins\[1\]: 'BTC' is listed twice"),
        ({"coins": ["BTC", "USDT"]}, r"coins\[1\]: 'USDT' is the stake currency"),
        ({"title": ""}, r"title: '' is not allowed; give a non-empty text"),
        ({"extra": 1}, r"\(keys\): \['extra'\] are not preset keys"),
        (
            {"allocation": {**GOOD["allocation"], "method": "magic"}},
            r"allocation\.method: 'magic' is not a method",
        ),
        (
            {"allocation": {**GOOD["allocation"], "lookback": "30x"}},
            r"allocation\.lookback: '30x' is not a duration",
        ),
        (
            {"allocation": {**GOOD["allocation"], "timeframe": "5m"}},
            r"allocation\.timeframe: '5m' is not a timeframe",
        ),
        (
            {"allocation": {**GOOD["allocation"], "min_weight": 0.6}},
            r"min_weight: 0\.6 x 2 coins exceeds 100%",
        ),
        ({"allocation": {**GOOD["allocation"], "max_weight": 1.5}}, r"max_weight: 1\.5 is not a fraction"),
    ],
)
def test_loader_names_file_field_value_and_fix(tmp_path, change, message):
    with pytest.raises(PresetError, match=message):
        load_preset_file(write(tmp_path, "mine", {**GOOD, **change}))


def test_loader_reports_every_bad_file_together_and_bad_json(tmp_path):
    write(tmp_path, "mine", {**GOOD, "title": ""})
    write(tmp_path, "broken", "{not json")
    write(tmp_path, "evaluation", {"ignored": True})
    with pytest.raises(PresetError) as err:
        load_presets(tmp_path)
    assert len(err.value.problems) == 2
    assert "broken.json: not valid JSON" in str(err.value)
    with pytest.raises(PresetError, match=r"preset 'nope' does not exist; use one of majors"):
        get_preset("nope")


def test_stored_evaluation_covers_every_preset_and_is_current():
    evaluation = load_evaluation()
    assert evaluation is not None, "run python benchmarks/presets_evaluate.py"
    presets = load_presets()
    assert set(evaluation["presets"]) == set(presets)
    for name, preset in presets.items():
        assert stale_reason(preset, evaluation["presets"][name]) is None
        entry = evaluation["presets"][name]
        assert abs(sum(entry["weights_pct"].values()) - 100.0) < 1e-6
        assert entry["confirmation"]["of"] == 10 and 1 <= entry["confirmation"]["rank"] <= 10
    assert evaluation["command"] == "python benchmarks/presets_evaluate.py"
    assert evaluation["commit"] and evaluation["settings"]["start"] < evaluation["settings"]["split"]


def test_stored_evaluation_is_what_the_code_computes(require_data):
    """Every number in evaluation.json comes from evaluate_all (recomputed here for two presets)."""
    stored = load_evaluation()
    names = ["majors", "meme"]
    datadir = require_data(["BTC_USDT-1h.feather", "DOGE_USDT-1h.feather"])
    fresh = evaluate_all(datadir=datadir, names=names)
    assert fresh["settings"] == stored["settings"]
    for name in names:
        a, b = fresh["presets"][name], stored["presets"][name]
        assert a["recommended"] == b["recommended"] and a["weights_pct"] == b["weights_pct"]
        for part in ("history", "confirmation"):
            for side in ("strategy", "buy_and_hold"):
                for key in ("total_return", "max_drawdown"):
                    assert a[part][side][key] == pytest.approx(b[part][side][key], abs=1e-4), (
                        name,
                        part,
                        side,
                    )


def test_recommendation_is_the_best_on_the_selection_window_only():
    for entry in load_evaluation()["presets"].values():
        selection = entry["selection"]["grid"]
        best = max(selection, key=lambda row: row["sharpe"])
        assert entry["recommended"]["label"] == best["rule"]
        chosen = next(r for r in entry["confirmation"]["grid"] if r["rule"] == best["rule"])
        assert chosen == entry["confirmation"]["strategy"]


def test_presets_command_lists_table_and_shows_detail(capsys, require_data):
    require_data(["BTC_USDT-1d.feather"])
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert format_table(load_evaluation()).splitlines()[0] in out
    for name in load_presets():
        assert f"| {name} |" in out
    assert main(["presets", "show", "majors"]) == 0
    out = capsys.readouterr().out
    assert "BTC ETH BNB SOL XRP" in out and "recommended rebalance" in out and "out of sample" in out
    assert "weights now" in out
    assert main(["presets", "show", "nope"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["presets", "show"]) == 2


def test_presets_recompute_for_one_preset(capsys, require_data):
    require_data(["BTC_USDT-1h.feather"])
    assert main(["presets", "show", "majors", "--recompute"]) == 0
    assert "recommended rebalance" in capsys.readouterr().out


def test_preset_listing_links_each_presets_report(require_data, tmp_path, capsys):
    from freqtrade_smartfolio.cli import main

    require_data(["BTC_USDT-1h.feather"])
    assert main(["presets", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("majors", "ai", "defi", "ethereum", "layer1", "meme"):
        page = tmp_path / f"{name}.html"
        assert page.is_file() and page.stat().st_size > 100_000
        assert page.resolve().as_uri() in out
