"""``flowgate --help`` reads like a man page and lists every command; every command describes itself."""

from __future__ import annotations

import re

import pytest

from gateway.cli import build_parser, main

SECTIONS = ("COMMANDS", "ENVIRONMENT", "FILES", "EXAMPLES", "EXIT STATUS", "SEE ALSO")


@pytest.fixture(scope="module")
def parsers():
    return build_parser()[1]


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_the_help_has_the_man_page_sections_in_order(capsys):
    text = _help(capsys)
    assert text.startswith("usage: flowgate ")
    assert "SOAP/REST integration gateway" in text.split("COMMANDS")[0]  # the description comes first
    at = [text.index(f"\n{section}\n") for section in SECTIONS]
    assert at == sorted(at), "sections out of order"
    for needle in ("GATEWAY_CONFIG", "_FILE", "docs/operations.md", "var/secret.key", "flowgate worker",
                   "flowgate doctor", "flowgate jobs list", "make run"):
        assert needle in text, needle
    assert max(map(len, text.splitlines())) <= 110  # readable in a terminal


def test_the_help_lists_every_command_on_one_line(capsys, parsers):
    text = _help(capsys)
    commands = text.split("COMMANDS\n")[1].split("\n\n")[0]
    listed = re.findall(r"^    (\S+)\s{2,}\S", commands, flags=re.MULTILINE)
    assert sorted(listed) == sorted(parsers), "a command is missing from flowgate --help, or listed twice"
    for name in ("serve", "worker", "sandbox", "migrate", "config", "secret-key", "consumer", "outbox",
                 "doctor", "qr", "jobs", "events", "feed"):
        assert name in parsers


def test_every_command_has_a_description(parsers):
    # format_help(), not main([name, "--help"]): `serve` would monkey-patch this test process for gevent.
    for name, parser in parsers.items():
        assert parser.description and parser.description.strip(), name
        text = parser.format_help()
        assert text.startswith(f"usage: flowgate {name} "), text.splitlines()[0]
        assert parser.description.strip().splitlines()[0] in text


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
