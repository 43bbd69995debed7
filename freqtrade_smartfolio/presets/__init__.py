"""Sector presets shipped as JSON files (``presets/*.json``) and their evaluation (``evaluation.json``)."""

from freqtrade_smartfolio.presets.loader import (
    PRESET_DIR,
    Preset,
    PresetError,
    get_preset,
    load_preset_file,
    load_presets,
    parse_preset,
)

__all__ = [
    "PRESET_DIR",
    "Preset",
    "PresetError",
    "get_preset",
    "load_preset_file",
    "load_presets",
    "parse_preset",
]
