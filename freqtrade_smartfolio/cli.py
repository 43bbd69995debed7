"""The ``smartfolio`` command. Each sub-command is one module in ``freqtrade_smartfolio.commands``
exposing ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.

Errors: a command raises :class:`UserError` (bad input: exit status 2) or :class:`ExternalError`
(a failure outside the user's control, e.g. the bot or the exchange: exit status 1) with a message
naming what was wrong and the fix; :func:`main` prints it as one line on stderr,
``smartfolio <command>: error: <message>``. argparse's own errors take the same one-line form
(status 2). Anything else is a bug: one line and status 1, the traceback only with ``--debug``.
See docs/cli-errors.md.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from freqtrade_smartfolio import __version__, commands

DEBUG_FLAG = "--debug"


class CommandError(Exception):
    """An expected failure of a command; ``status`` is the exit status, the message says the fix."""

    status = 2


class UserError(CommandError):
    """Bad input (an option, a file, a coin, ...): exit status 2."""

    status = 2


class ExternalError(CommandError):
    """A failure outside the user's control (bot unreachable, exchange error): exit status 1."""

    status = 1


def one_line(message: object) -> str:
    """``message`` on one line: its lines joined, inner indentation dropped."""
    parts = [part.strip() for part in str(message).splitlines()]
    return " ".join(part for part in parts if part)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``smartfolio new: error: ...; see 'smartfolio new --help'``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}; see '{self.prog} --help'\n")


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="smartfolio", description="Smart Portfolio (rebalancing) tools for freqtrade.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        DEBUG_FLAG,
        action="store_true",
        help="print the Python traceback of an error (accepted anywhere on the command line)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in _command_modules():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _name=module.NAME)
    return parser


def _pop_debug(argv: list[str]) -> bool:
    """Remove ``--debug`` from ``argv`` (anywhere before a ``--``); True if it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = DEBUG_FLAG in argv[:end]
    argv[:end] = [arg for arg in argv[:end] if arg != DEBUG_FLAG]
    return found


def command_name(args: argparse.Namespace) -> str:
    """``smartfolio <command>`` (with its action, e.g. ``smartfolio exchange start``)."""
    words = ["smartfolio", getattr(args, "_name", None), getattr(args, "_action_name", None)]
    return " ".join(word for word in words if word)


def report_error(name: str, err: BaseException, debug: bool = False) -> int:
    """Print ``err`` as one line on stderr (the traceback first with ``debug``); the exit status."""
    if debug:
        traceback.print_exception(err)
    if isinstance(err, CommandError):
        print(f"{name}: error: {one_line(err)}", file=sys.stderr)
        return err.status
    if isinstance(err, KeyboardInterrupt):
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    text = one_line(err)
    print(
        f"{name}: unexpected error {type(err).__name__}{': ' + text if text else ''}; "
        f"run with {DEBUG_FLAG} for the traceback and report it",
        file=sys.stderr,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = _pop_debug(arguments)
    parser = build_parser()
    args = parser.parse_args(arguments)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (Exception, KeyboardInterrupt) as err:
        return report_error(command_name(args), err, debug)


if __name__ == "__main__":  # python -m freqtrade_smartfolio.cli: the commands raise the package's errors
    from freqtrade_smartfolio.cli import main as package_main

    sys.exit(package_main())
