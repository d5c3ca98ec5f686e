"""The settings reference in docs/operations.md is generated from the Settings class and kept in step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import Settings
from gateway.settings_doc import END_MARKER, START_MARKER, field_docs, referenced_block, settings_reference

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
REGENERATE = ("regenerate it: `flowgate config --reference` prints it, to paste between the markers; "
              "`python -m gateway.settings_doc docs/operations.md` rewrites the block in place")


def test_the_reference_in_docs_operations_md_is_the_generated_one():
    block = referenced_block(OPERATIONS.read_text(encoding="utf-8"))
    assert block is not None, f"docs/operations.md lost its {START_MARKER} / {END_MARKER} markers"
    assert block == settings_reference(), "docs/operations.md's settings reference is out of date: " + REGENERATE


def test_every_setting_appears_once_with_its_environment_variable():
    reference = settings_reference()
    documented = [doc.name for section in field_docs() for doc in section.fields]
    assert sorted(documented) == sorted(f.name for f in dataclasses.fields(Settings))
    for f in dataclasses.fields(Settings):
        assert reference.count(f"| `GATEWAY_{f.name.upper()}`") == 1, f.name


def test_sections_comments_defaults_and_secrets_come_from_the_class():
    reference = settings_reference()
    docs = {doc.name: doc for section in field_docs() for doc in section.fields}
    titles = [section.title for section in field_docs()]
    assert titles[0] == "the gateway's own server" and "embedded sandbox" in titles
    # an inline comment, a comment block above the field, and a comment carried on to the next line
    assert docs["threads"].description == "per worker, gthread only"
    assert docs["secret_key"].description.startswith("Fernet key sealing the secrets kept in the store")
    assert docs["outbox_max_attempts"].description.endswith("an outage is bounded by age")
    assert "| `GATEWAY_PORT` | `8080` |" in reference
    assert "| `GATEWAY_PUBLIC_URL` | (empty) |" in reference
    assert "| `GATEWAY_EMBEDDED` | `1` |" in reference
    assert "| `GATEWAY_FLOWCODE_API_KEY` or `GATEWAY_FLOWCODE_API_KEY_FILE` | (secret) |" in reference
    assert "demo-flowcode-key" not in reference  # a secret's default is not shown either
    assert "passthrough \\| gateway" in reference  # a | in a comment does not break the table


def test_flowgate_config_reference_prints_it_even_with_a_bad_setting(capsys, monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "not-a-port")
    assert main(["config", "--reference"]) == 0
    assert capsys.readouterr().out == settings_reference()


@pytest.mark.parametrize("document", ["no markers here", f"{END_MARKER}\n{START_MARKER}"])
def test_a_document_without_its_markers_is_refused(document):
    from gateway.settings_doc import replace_reference

    with pytest.raises(ValueError, match="markers"):
        replace_reference(document)
