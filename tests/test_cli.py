"""The smartfolio command: every sub-command's help renders."""

from __future__ import annotations

import pytest

from freqtrade_smartfolio.cli import _command_modules, build_parser, main


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for module in _command_modules():
        assert module.NAME in out


@pytest.mark.parametrize("name", [m.NAME for m in _command_modules()])
def test_each_command_help_renders(name, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([name, "--help"])
    assert exited.value.code == 0
    assert name in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
