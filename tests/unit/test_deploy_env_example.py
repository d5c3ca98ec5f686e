"""deploy/flowgate.env.example names only settings that exist (a renamed setting would silently do
nothing in a user's deployment), and its values are valid."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from gateway.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "flowgate.env.example"


def _entries() -> dict[str, str]:
    entries = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            entries[key] = value.strip('"')
    return entries


def test_every_variable_in_the_example_is_a_setting():
    known = {f.name for f in fields(Settings)}
    secret = {f.name for f in fields(Settings) if f.metadata.get("secret")}
    for key in _entries():
        assert key.startswith("GATEWAY_"), key
        name = key[len("GATEWAY_"):].lower()
        if name.endswith("_file"):
            assert name[:-len("_file")] in secret, f"{key}: only secret settings read from files"
        else:
            assert name in known, f"{key} is not a setting"


def test_the_example_values_are_valid_settings():
    values = {k: v for k, v in _entries().items() if not k.endswith("_FILE")}
    values["GATEWAY_FLOWIZE_CLIENT_SECRET"] = "example-secret"
    Settings.load(values)
