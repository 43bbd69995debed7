"""Evaluate every preset and write ``freqtrade_smartfolio/presets/evaluation.json``.

Run: ``.venv/bin/python benchmarks/presets_evaluate.py`` (``--check`` compares with the stored file
instead of writing it). Prints the markdown table that docs/presets.md and ``smartfolio presets`` show.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _machine import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from freqtrade_smartfolio.presets.evaluate import (  # noqa: E402
    EVALUATION_PATH,
    describe,
    evaluate_all,
    format_table,
    load_evaluation,
    write_evaluation,
)

NUMBERS_TOLERANCE = 1e-4


def _differences(new: object, old: object, path: str = "") -> list[str]:
    """Paths where two evaluations disagree (numbers within NUMBERS_TOLERANCE agree)."""
    if isinstance(new, dict) and isinstance(old, dict):
        out: list[str] = []
        for key in sorted(set(new) | set(old)):
            if key in ("commit", "source_modified"):
                continue
            out += _differences(new.get(key), old.get(key), f"{path}.{key}")
        return out
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [
            d
            for i, (a, b) in enumerate(zip(new, old, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    if isinstance(new, int | float) and isinstance(old, int | float) and not isinstance(new, bool):
        return [] if abs(new - old) <= NUMBERS_TOLERANCE * max(1.0, abs(old)) else [f"{path}: {old} -> {new}"]
    return [] if new == old else [f"{path}: {old!r} -> {new!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored file, do not write")
    parser.add_argument("--datadir", type=Path, default=None, help="folder of candle files")
    args = parser.parse_args()
    started = time.perf_counter()
    evaluation = evaluate_all(datadir=args.datadir)
    seconds = time.perf_counter() - started
    print(f"machine: {machine()}")
    print(f"evaluated {len(evaluation['presets'])} presets in {seconds:.1f} s\n")
    print(format_table(evaluation))
    print()
    print(describe(evaluation))
    if args.check:
        stored = load_evaluation()
        if stored is None:
            print(f"\n{EVALUATION_PATH} does not exist; run without --check to write it")
            return 1
        diffs = _differences(evaluation, stored)
        print(
            f"\n{len(diffs)} difference(s) with {EVALUATION_PATH.name}"
            + "".join(f"\n  {d}" for d in diffs[:20])
        )
        return 1 if diffs else 0
    write_evaluation(evaluation)
    print(f"\nwrote {EVALUATION_PATH.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
