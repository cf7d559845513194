"""Shared fixtures: real small images on disk, the route's recorded bodies, a clean environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imgedit_core.testing import make_image, make_mask

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).parent / "fixtures"
TEST_KEY = "sk-test-0123456789abcdef"
BASE_URL = "https://api.cometapi.com/v1"
EDITS_URL = f"{BASE_URL}/images/edits"

_ENV = (
    "COMETAPI_KEY",
    "COMETAPI_BASE_URL",
    "IMGEDIT_MODEL",
    "IMGEDIT_LOAD_PLUGINS",
    "IMGEDIT_DEBUG",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys or settings."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries happen as in real use, but the waits between them are recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr("imgedit_core.transport._wait", waits.append)
    return waits


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COMETAPI_KEY", TEST_KEY)
    return TEST_KEY


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    return load


@pytest.fixture
def png_path(tmp_path: Path) -> Path:
    path = tmp_path / "boat.png"
    path.write_bytes(make_image(32, 32))
    return path


@pytest.fixture
def jpeg_path(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(make_image(32, 32, fmt="JPEG"))
    return path


@pytest.fixture
def mask_path(tmp_path: Path) -> Path:
    path = tmp_path / "mask.png"
    path.write_bytes(make_mask(32, 32))
    return path
