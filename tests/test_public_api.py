"""The public names: each one promised in ``imgedit_core`` resolves, and type checkers see it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imgedit_core

INIT = Path(imgedit_core.__file__)


def _type_checking_names() -> set[str]:
    tree = ast.parse(INIT.read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


@pytest.mark.parametrize("name", sorted(set(imgedit_core.__all__) - {"__version__"}))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(imgedit_core, name) is not None


def test_type_checkers_see_exactly_the_exported_names() -> None:
    assert _type_checking_names() == set(imgedit_core.__all__) - {"__version__"}


def test_config_keys_and_retries_are_public() -> None:
    for name in ("Config", "ProviderEntry", "load_config", "KeyStore", "RetryPolicy"):
        assert name in imgedit_core.__all__
