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

BUILTIN_PLUGINS = "cometapi-gpt-image,cometapi-qwen-image-edit"

_ENV = (
    "COMETAPI_KEY",
    "COMETAPI_BASE_URL",
    "IMGEDIT_MODEL",
    "IMGEDIT_LOAD_PLUGINS",
    "IMGEDIT_DEBUG",
    "IMGEDIT_CONFIG",
    "IMGEDIT_TIMEOUT",
    "IMGEDIT_MAX_RETRIES",
    "IMGEDIT_OFFLINE",
)


def installed_imgedit() -> str:
    """The ``imgedit`` console script of the environment running the tests."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "imgedit"
    if beside.exists():
        return str(beside)
    found = shutil.which("imgedit")
    assert found, "the imgedit console script is not installed"
    return found


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's keys, settings, config files or stored keys."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(autouse=True)
def builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contrib/ plugins are installed beside the built-ins in CI, and fal's qwen-image-edit
    would make that model ambiguous: tests see the built-ins (plus any they add themselves)."""
    from imgedit_core import plugins

    found = plugins._entry_points()
    builtin = [ep for ep in found if ep.name in BUILTIN_PLUGINS.split(",")]
    monkeypatch.setattr(plugins, "_entry_points", lambda: builtin)


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries happen as in real use, but the waits between them are recorded, not slept."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("imgedit_core.transport._wait", waits.append)
    monkeypatch.setattr("imgedit_core.transport._async_wait", record)
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
