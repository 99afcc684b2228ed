from __future__ import annotations

import re
import shlex

import pytest

from backtest.cli.args import MODEL_NAMES, STRATEGY_NAMES
from backtest.cli.parser import EXAMPLES, build_parser

COMMANDS = ["run", "forecast", "compare", "report", "simulate"]


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_ends_with_examples_that_parse(capsys, command):
    text = _help(capsys, command)
    tail = text[text.rindex("examples:") :].splitlines()[1:]
    assert 2 <= len(tail) <= 3
    for line in tail:
        argv = shlex.split(line.strip().removeprefix("python -m backtest "))
        assert argv[0] == command
        build_parser().parse_args(argv)  # SystemExit here would fail the test


@pytest.mark.parametrize("command", ["run", "forecast", "simulate"])
def test_config_flags_show_their_default(capsys, command):
    text = re.sub(r"\s+", " ", _help(capsys, command))
    for flag, default in [
        ("--lookback", "12"), ("--min-train", "36"), ("--epochs", "200"), ("--units", "64 32"),
        ("--cost-bps", "10.0"), ("--max-weight", "0.4"), ("--risk-aversion", "5.0"),
    ]:  # fmt: skip
        part = text[text.index(f" {flag} ") :][:300]
        assert re.search(rf"default:? {re.escape(default)}\b", part), (flag, part)


def test_help_lists_the_valid_names_of_the_registries(capsys):
    from backtest.features import Variant
    from models.registry import available
    from strategies import StrategyName

    assert STRATEGY_NAMES == tuple(s.value for s in StrategyName)
    assert set(MODEL_NAMES) <= set(available())
    text = re.sub(r"\s+", " ", _help(capsys, "run"))
    assert " ".join(STRATEGY_NAMES) in text
    assert " ".join(MODEL_NAMES) in text
    assert "{" + ",".join([v.value for v in Variant] + ["all"]) + "}" in text
    assert "{yahoo,demo,synthetic}" in text


def test_top_level_help_shows_the_demo_command(capsys):
    assert "python -m backtest run --variant relatives --source demo" in _help(capsys)
    assert set(EXAMPLES) == set(COMMANDS)
