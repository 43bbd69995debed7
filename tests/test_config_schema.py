"""The JSON Schema of the ``smartfolio`` section (``smartfolio schema``, docs/smartfolio.schema.json): the
committed file is what the command prints, editors' validators accept what parse_settings accepts, and
they refuse the bad values the schema can express."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from freqtrade_smartfolio.cli import main
from freqtrade_smartfolio.config import (
    KNOWN_KEYS,
    ConfigError,
    SmartfolioSection,
    json_schema,
    parse_settings,
)
from freqtrade_smartfolio.config.schema import FREQTRADE_SCHEMA, config_schema
from freqtrade_smartfolio.freqtrade_config import build_config
from tests.test_config_fuzz import near_valid_sections

DOCS = Path(__file__).resolve().parent.parent / "docs"
SECTION = {
    "portfolio": {"BTC": 50, "ETH": 30, "SOL": 20},
    "investment": 1000,
    "rebalance": {"mode": "proportional", "threshold": 5},
}
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def test_the_committed_schema_is_what_the_command_prints(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    committed = (DOCS / "smartfolio.schema.json").read_text(encoding="utf-8")
    assert printed == committed, "regenerate it: smartfolio schema --out docs/smartfolio.schema.json --force"
    assert json.loads(printed) == json_schema()


def test_out_writes_the_file_and_force_overwrites_it(tmp_path, capsys):
    out = tmp_path / "smartfolio.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert json.loads(out.read_text()) == json_schema()
    out.write_text("old")
    assert main(["schema", "--out", str(out)]) == 2 and out.read_text() == "old"
    assert main(["schema", "--out", str(out), "--force"]) == 0
    assert json.loads(out.read_text()) == json_schema()


def test_the_schema_is_a_valid_2020_12_schema_of_every_key():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == set(KNOWN_KEYS) == set(SmartfolioSection.model_fields)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"portfolio", "investment", "rebalance"}
    for name, field in schema["properties"].items():
        assert field.get("description") or "$ref" in field, f"{name} has no description for editors"
    rebalance = schema["$defs"]["RebalanceSection"]
    assert rebalance["properties"]["mode"]["enum"] == ["proportional", "scheduled", "both"]
    assert rebalance["additionalProperties"] is False


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"thresold": 5}, "thresold"),
        ({"investment": 0}, "investment"),
        ({"investment": "1000"}, "investment"),
        ({"min_trade": -1}, "min_trade"),
        ({"portfolio": {"BTC/USDT": 50, "ETH": 50}}, "portfolio"),
        ({"portfolio": {"BTC": 100}}, "portfolio"),
        ({"portfolio": {"BTC": 50, "ETH": -10, "SOL": 60}}, "portfolio"),
        ({"rebalance": {"mode": "sometimes", "threshold": 5}}, "mode"),
        ({"rebalance": {"mode": "proportional", "threshold": 80}}, "threshold"),
        ({"rebalance": {"mode": "scheduled", "interval": "5x"}}, "interval"),
        ({"rebalance": {"mode": "proportional", "threshold": 5, "every": "1d"}}, "every"),
        ({"stop_loss": 100}, "stop_loss"),
        ({"on_exit": "panic"}, "on_exit"),
        ({"compact_after_orders": 1}, "compact_after_orders"),
        ({"confirm_risk": "yes"}, "confirm_risk"),
        ({"allocation": {"method": "risk_parity", "max_weight": 120}}, "max_weight"),
    ],
)
def test_the_schema_refuses_what_parse_settings_refuses(changes, where):
    section = {**copy.deepcopy(SECTION), **changes}
    with pytest.raises(ConfigError):
        parse_settings({"stake_currency": "USDT", "smartfolio": section})
    errors = list(VALIDATOR.iter_errors(section))
    assert errors, f"the schema accepts {changes}"
    assert any(where in f"{list(e.absolute_path)} {e.message}" for e in errors), [e.message for e in errors]


def test_the_schema_accepts_every_documented_form():
    assert VALIDATOR.is_valid(SECTION)
    for section in [
        {**SECTION, "portfolio": {"btc": 45, "ETH": 45, "USDT": 10}},
        {**SECTION, "rebalance": {"mode": "both", "threshold": 2, "interval": "1d", "band": "relative"}},
        {**SECTION, "portfolio": ["BTC", "ETH", "SOL"], "allocation": {"method": "risk-parity"}},
        {
            **SECTION,
            "take_profit": 50,
            "stop_loss": 20,
            "on_exit": "keep_coins",
            "compact_after_orders": False,
        },
        {**SECTION, "use_held_coins": ["BTC"], "confirm_risk": True, "min_trade": 10},
    ]:
        parse_settings({"stake_currency": "USDT", "smartfolio": section})
        assert VALIDATOR.is_valid(section), list(VALIDATOR.iter_errors(section))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=near_valid_sections(), held=st.sampled_from([None, True, ["BTC"]]))
def test_whatever_parse_settings_accepts_the_schema_accepts(section, held):
    if held is not None:
        section = {**section, "use_held_coins": held, "confirm_risk": True}
    try:
        parse_settings({"stake_currency": "USDT", "smartfolio": section})
    except ConfigError:
        return
    assert VALIDATOR.is_valid(section), [e.message for e in VALIDATOR.iter_errors(section)]


def test_the_whole_config_schema_checks_freqtrade_and_the_section(capsys):
    from freqtrade.config_schema import CONF_SCHEMA

    assert main(["schema", "--whole-config"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    # freqtrade's own schema from the installed freqtrade, instead of fetching it.
    registry = Registry().with_resource(
        FREQTRADE_SCHEMA,
        Resource.from_contents(CONF_SCHEMA, default_specification=DRAFT4),
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    config = json.loads(json.dumps(build_config(SECTION)))
    assert validator.is_valid(config), [e.message for e in validator.iter_errors(config)]
    config["smartfolio"]["investment"] = -1
    assert not validator.is_valid(config)
    config = json.loads(json.dumps(build_config(SECTION)))
    config["max_open_trades"] = "many"  # freqtrade's part
    assert not validator.is_valid(config)
    del config["smartfolio"]
    assert not validator.is_valid(config)
