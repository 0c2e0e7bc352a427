"""The dependency direction of the TikTok code: ingest -> services -> models. A service never
imports the ingester (its rules live beside the records they apply, in ingest/)."""

from __future__ import annotations

import ast

from tests.support import ROOT


def imported_modules(path) -> set[str]:  # noqa: ANN001
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_service_imports_the_ingester():
    offenders = {path.name: sorted(name for name in imported_modules(path) if name.split(".")[0] == "ingest")
                 for path in sorted((ROOT / "services").glob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_private_name_is_imported_across_modules():
    """A helper another module needs is public (`_insert` once was imported privately by the leases)."""
    private = []
    for folder in ("services", "ingest", "blueprints"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    private += [f"{path.name}: {alias.name}" for alias in node.names
                                if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert private == []
