"""Stored API keys: a 0600 file in the user config folder, or the OS keyring when installed.

Keys are stored under the name of the environment variable they stand in for (``COMETAPI_KEY``),
so the lookup is one rule for every provider: flag, then environment, then stored key. A key file
that others can read is refused, with a warning, rather than used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import ConfigError

KEYS_FILE = "keys.json"
KEYRING_SERVICE = "imgedit"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IN_KEYRING = {"store": "keyring"}

log = logging.getLogger("imgedit.keys")


def keys_path() -> Path:
    from .config import user_config_dir

    return user_config_dir() / KEYS_FILE


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a key name: use the environment variable the key stands in for, "
            f"e.g. COMETAPI_KEY or OPENAI_API_KEY."
        )
    return name


class KeyStore:
    """Reads and writes stored keys; never logs or prints a key's value."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or keys_path()

    def __repr__(self) -> str:
        return f"<KeyStore {self.path}>"

    # -- reading -----------------------------------------------------------------------------

    def _load(self) -> dict[str, object]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read the key file %s: %s", self.path, exc.strerror)
            return {}
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "ignoring the key file %s: others can read it (mode %o); "
                "run `chmod 600 %s` to use it again",
                self.path,
                stat.S_IMODE(st.st_mode),
                self.path,
            )
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("ignoring the key file %s: it is not valid JSON", self.path)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, name: str) -> str | None:
        value = self._load().get(name)
        if isinstance(value, str):
            return value or None
        if value == _IN_KEYRING:
            return _keyring_get(name)
        return None

    def names(self) -> list[str]:
        return sorted(self._load())

    def where(self, name: str) -> str | None:
        """``file``, ``keyring`` or None: where a stored key lives, for ``config show``."""
        value = self._load().get(name)
        if isinstance(value, str):
            return "file"
        return "keyring" if value == _IN_KEYRING else None

    # -- writing -----------------------------------------------------------------------------

    def set(self, name: str, value: str, *, keyring: bool = False) -> None:
        check_name(name)
        if not value:
            raise ConfigError(f"the key for {name} is empty; nothing was stored.")
        data = self._load_for_write()
        if keyring:
            _keyring_set(name, value)
            data[name] = dict(_IN_KEYRING)
        else:
            data[name] = value
        self._write(data)

    def delete(self, name: str) -> bool:
        data = self._load_for_write()
        entry = data.pop(name, None)
        if entry is None:
            return False
        if entry == _IN_KEYRING:
            _keyring_delete(name)
        self._write(data)
        return True

    def _load_for_write(self) -> dict[str, object]:
        if self.path.exists() and self.path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the key file {self.path} can be read by others; run `chmod 600 {self.path}` "
                f"(and consider rotating the keys in it), then retry."
            )
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if not isinstance(data, dict):
                raise ConfigError(
                    f"the key file {self.path} is not a JSON object, so writing it would lose "
                    f"the keys it holds; fix or move it, then retry."
                )
        return self._load()

    def _write(self, data: dict[str, object]) -> None:
        """Whole or not at all, and never readable by others, not even for a moment."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".keys.", suffix=".part", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def keyring_available() -> bool:
    try:
        import keyring  # noqa: F401
    except ImportError:
        return False
    return True


def _keyring() -> object:
    try:
        import keyring
    except ImportError:
        raise ConfigError(
            "the OS keyring needs the keyring extra: pip install 'imgedit[keyring]'."
        ) from None
    return keyring


def _keyring_get(name: str) -> str | None:
    try:
        value = _keyring().get_password(KEYRING_SERVICE, name)  # type: ignore[attr-defined]
    except ConfigError:
        log.warning("%s is stored in the OS keyring, but the keyring extra is missing", name)
        return None
    except Exception as exc:  # keyring backends raise their own types
        log.warning("cannot read %s from the OS keyring: %s", name, type(exc).__name__)
        return None
    return value if isinstance(value, str) and value else None


def _keyring_set(name: str, value: str) -> None:
    try:
        _keyring().set_password(KEYRING_SERVICE, name, value)  # type: ignore[attr-defined]
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"the OS keyring refused to store {name} ({type(exc).__name__}); "
            f"store it in imgedit's key file instead (leave out --keyring)."
        ) from None


def _keyring_delete(name: str) -> None:
    try:
        _keyring().delete_password(KEYRING_SERVICE, name)  # type: ignore[attr-defined]
    except Exception as exc:
        log.warning("could not remove %s from the OS keyring: %s", name, type(exc).__name__)
