"""The ``smartfolio`` section's JSON Schema, for editors (``smartfolio schema``, docs/config-schema.md)."""

from __future__ import annotations

import json
from typing import Any

from freqtrade_smartfolio.config.settings import SECTION

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# freqtrade's own schema of its config file (its config templates point their "$schema" key at it).
FREQTRADE_SCHEMA = "https://schema.freqtrade.io/schema.json"


def json_schema() -> dict[str, Any]:
    """The section's JSON Schema (draft 2020-12), generated from the pydantic model."""
    from freqtrade_smartfolio.config.models import SmartfolioSection

    return {"$schema": DRAFT, **SmartfolioSection.model_json_schema(mode="validation")}


def config_schema() -> dict[str, Any]:
    """A schema of a whole freqtrade config with a ``smartfolio`` section, in one file: freqtrade's own
    schema (by reference) and the section's (inline)."""
    section = json_schema()
    section.pop("$schema")
    definitions = section.pop("$defs", {})
    return {
        "$schema": DRAFT,
        "title": "freqtrade config with a smartfolio section",
        "description": "freqtrade's config schema, and the smartfolio section of freqtrade-smartfolio",
        "allOf": [{"$ref": FREQTRADE_SCHEMA}],
        "properties": {SECTION: {"$ref": f"#/$defs/{SECTION}"}},
        "required": [SECTION],
        "$defs": {**definitions, SECTION: section},
    }


def as_text(schema: dict[str, Any]) -> str:
    """``schema`` as ``smartfolio schema`` prints it (and docs/smartfolio.schema.json holds it)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
