"""Parse the short durations users type ('5m', '4h', '1d', '2w') into minutes."""

from __future__ import annotations

import re

_UNITS = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_PATTERN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


def parse_minutes(text: object, field: str) -> int:
    """Minutes in ``text`` such as '90m', '4h', '1d', '2w'; the error names ``field`` and the fix."""
    match = _PATTERN.match(str(text)) if isinstance(text, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(
            f"{field}: {text!r} is not a duration; use a positive whole number followed by "
            "m, h, d or w, e.g. '30m', '4h', '1d' or '2w'."
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_minutes(minutes: int) -> str:
    """The shortest exact form: 1440 -> '1d', 90 -> '90m'."""
    for unit in ("w", "d", "h"):
        if minutes % _UNITS[unit] == 0:
            return f"{minutes // _UNITS[unit]}{unit}"
    return f"{minutes}m"
