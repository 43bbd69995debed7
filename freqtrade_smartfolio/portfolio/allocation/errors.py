"""Errors raised by the allocation package.

Messages follow one pattern: the argument, what was expected, what was received.
"""

from __future__ import annotations


class AllocationError(ValueError):
    """Bad input: the message names the argument, the expected value and the received one."""


class SolverError(RuntimeError):
    """A method failed to converge or produced invalid weights; ``allocate`` falls back."""


def bad_argument(name: str, expected: str, received: object) -> AllocationError:
    """``AllocationError`` worded as '<name> must be <expected>, got <received>'."""
    return AllocationError(f"{name} must be {expected}, got {received!r}")
