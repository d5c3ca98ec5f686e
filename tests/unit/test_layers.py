"""The layering DESIGN.md names: front doors (SOAP, REST, the facade) parse and render, and reach
vendors only through operations — none imports a connector."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
FRONT_DOORS = ("soap", "rest", "api")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_no_front_door_imports_a_connector(door):
    offenders = {str(path.relative_to(GATEWAY)): sorted(n for n in _imports(path) if n.startswith("gateway.connectors"))
                 for path in (GATEWAY / door).rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
