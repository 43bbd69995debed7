"""Checks a user can run against their own data: the engine against a real ``freqtrade backtesting`` run
(:mod:`.parity`, with the windows of :mod:`.cases` and the seeded random draws of :mod:`.windows`), and a
dry-run bot on the offline exchange measured over a long replay (:mod:`.longrun`).

The scripts in ``benchmarks/`` (engine_parity.py, random_windows.py, long_run.py) print their tables; the
tests import these modules. Never imported by the strategy or the commands.
"""
