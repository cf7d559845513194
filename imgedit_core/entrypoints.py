"""Finding plugins' entry points without importing ``importlib.metadata``.

Every edit starts by discovering plugins. ``importlib.metadata`` costs about 5 ms to import
and 5 ms to walk every installed distribution's metadata; this reads the one file that
matters, ``entry_points.txt``, from each ``*.dist-info`` / ``*.egg-info`` folder on
``sys.path``, with the same rules: the first distribution of a name on the path wins, and
sections and ``name = value`` lines are read as importlib reads them. Where the path holds
anything else (a zip file, an import hook that provides distributions), it defers to
``importlib.metadata`` itself, so nothing installed is ever missed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Any

_SUFFIXES = (".dist-info", ".egg-info")
_NORMALIZE = re.compile(r"[-_.]+")


class Distribution:
    """The little of a distribution ``imgedit plugins`` shows: its name and version."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._fields: dict[str, str] | None = None

    @property
    def name(self) -> str | None:
        return self._read().get("name")

    @property
    def version(self) -> str | None:
        return self._read().get("version")

    def _read(self) -> dict[str, str]:
        if self._fields is None:
            fields: dict[str, str] = {}
            for file in ("METADATA", "PKG-INFO"):
                try:
                    with open(os.path.join(self._folder, file), encoding="utf-8") as fh:
                        for line in fh:
                            if not line.strip():
                                break  # the headers end at the first blank line
                            key, sep, value = line.partition(":")
                            if sep and key.lower() in ("name", "version"):
                                fields.setdefault(key.lower(), value.strip())
                except OSError:
                    continue
                break
            self._fields = fields
        return self._fields


class EntryPoint:
    """``name = module:attr`` in a group, loaded on demand as importlib's EntryPoint is."""

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None) -> None:
        self.name, self.value, self.group, self.dist = name, value, group, dist

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def load(self) -> Any:
        import importlib

        target = self.value.split("[", 1)[0].strip()  # "module:attr [extra]"
        module_name, _, attrs = target.partition(":")
        loaded: Any = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            loaded = getattr(loaded, attr)
        return loaded


def entry_points(group: str) -> Sequence[Any]:
    """The group's entry points across installed distributions, first on ``sys.path`` first."""
    found = _scan(group)
    if found is None:
        from importlib import metadata

        return list(metadata.entry_points(group=group))
    return found


def _scan(group: str) -> list[EntryPoint] | None:
    if _hooks_provide_distributions():
        return None
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path:
        folder = entry or "."
        try:
            names = sorted(os.listdir(folder))
        except NotADirectoryError:
            return None  # a zip file on the path: importlib.metadata knows how to read it
        except OSError:
            continue
        for name in names:
            if not name.endswith(_SUFFIXES):
                continue
            key = _normalize(name.rsplit(".", 1)[0].split("-", 1)[0])
            if key in seen:
                continue
            seen.add(key)
            meta = os.path.join(folder, name)
            text = _read(os.path.join(meta, "entry_points.txt"))
            if text:
                dist = Distribution(meta)
                found.extend(
                    EntryPoint(ep_name, value, group, dist)
                    for ep_name, value in _section(text, group)
                )
    return found


def _hooks_provide_distributions() -> bool:
    """An import hook other than the standard path finder that can list distributions."""
    from importlib.machinery import PathFinder

    return any(
        finder is not PathFinder and hasattr(finder, "find_distributions")
        for finder in sys.meta_path
    )


def _normalize(name: str) -> str:
    return _NORMALIZE.sub("-", name).lower().replace("-", "_")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines under ``[group]``; comments and blank lines skipped."""
    lines: list[tuple[str, str]] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current == group:
            name, sep, value = line.partition("=")
            if sep:
                lines.append((name.strip(), value.strip()))
    return lines
