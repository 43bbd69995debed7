"""``smartfolio schema``: the JSON Schema of the ``smartfolio`` config section, for editors
(completion, hover help, checks while typing; docs/config-schema.md); printed, or written with ``--out``."""

from __future__ import annotations

import argparse
from pathlib import Path

from freqtrade_smartfolio.cli import UserError
from freqtrade_smartfolio.config.schema import as_text, config_schema, json_schema

NAME = "schema"
HELP = "Print the JSON Schema of the smartfolio config section (for editors), or write it with --out."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--whole-config",
        action="store_true",
        help="a schema of a whole freqtrade config instead: freqtrade's own schema plus this section",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the schema to FILE instead of printing it"
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def schema_text(whole_config: bool = False) -> str:
    """What ``smartfolio schema`` prints (docs/smartfolio.schema.json is the section's)."""
    return as_text(config_schema() if whole_config else json_schema())


def run(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    if out is not None:
        example = "smartfolio-config.schema.json" if args.whole_config else "smartfolio.schema.json"
        if out.is_dir():
            raise UserError(f"--out: {out} is a folder; give a file name, e.g. --out {out / example}")
        if not out.parent.is_dir():
            raise UserError(
                f"--out: {out.parent} is not a folder; create it or give a file in an existing one"
            )
        if out.exists() and not args.force:
            raise UserError(f"--out: {out} exists; pass --force to overwrite it or choose another file")
    text = schema_text(args.whole_config)
    if out is None:
        print(text, end="")
        return 0
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"--out: cannot write {out} ({err.strerror}); give a file you can write") from None
    what = "a freqtrade config with a smartfolio section" if args.whole_config else "the smartfolio section"
    print(f"wrote {out}: the JSON Schema of {what} (see docs/config-schema.md)")
    return 0
