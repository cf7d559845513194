"""The template passes the core's conformance kit and loads through its entry point.

Rename the file when you copy the package: pytest imports test modules by their file name, so
two installed plugins with the same test file name collide in one test run.
"""

from __future__ import annotations

from imgedit_plugin_template import ExampleImagesProvider

from imgedit_core import load_plugins
from imgedit_core.testing import ProviderConformance


class TestExampleImages(ProviderConformance):
    """Every kit test, offline, for each model the provider declares."""

    provider = ExampleImagesProvider()


def test_the_entry_point_registers_the_provider() -> None:
    # Needs the package installed (pip install -e .): this is the road imgedit itself takes.
    loaded = load_plugins(environ={"IMGEDIT_LOAD_PLUGINS": "example-images"})

    assert loaded.failures == []
    assert [info.name for info in loaded.plugins] == ["example-images"]
    assert [provider.name for provider in loaded.providers] == ["example-images"]
