"""``imgedit --help`` and ``--version`` stay fast: no HTTP stack, no Pillow, no plugins loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "PIL", "pluggy", "imgedit_cometapi_gpt", "imgedit_cometapi_qwen")


def imported_modules(code: str) -> set[str]:
    """Every module ``python -X importtime -c code`` imported (read from its stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    assert modules, f"no -X importtime output:\n{done.stderr[:500]}"
    return modules


def heavy_among(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in heavy)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["edit", "--help"]], ids=" ".join)
def test_cli_flags_import_nothing_heavy(argv: list[str]) -> None:
    modules = imported_modules(
        "from imgedit_core.cli.main import main; import sys; "
        f"sys.argv = ['imgedit', *{argv!r}]; main()"
    )
    assert "imgedit_core.cli.main" in modules  # the parse really saw the CLI load
    assert heavy_among(modules) == []


def test_import_imgedit_core_imports_no_httpx_or_pillow() -> None:
    modules = imported_modules("import imgedit_core")
    assert "imgedit_core" in modules
    assert heavy_among(modules, ("httpx", "PIL")) == []


def test_the_check_itself_sees_heavy_imports() -> None:
    """Guards the parsing above: a module that does import httpx must be reported."""
    modules = imported_modules("import imgedit_core.transport")
    assert "httpx" in heavy_among(modules)


def test_a_command_imports_only_its_own_module() -> None:
    """``imgedit edit`` does not pay for ``batch``'s or the emulator's command modules."""
    modules = imported_modules(
        "from imgedit_core.cli.main import main; import sys; "
        "sys.argv = ['imgedit', 'edit', '--help']; main()"
    )
    assert "imgedit_core.cli.edit" in modules
    others = {f"imgedit_core.cli.{name}" for name in ("batch", "emulator", "keys", "models")}
    assert modules & others == set()


def test_a_faster_config_folder_lookup_agrees_with_platformdirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import platformdirs

    from imgedit_core.config import user_config_dir

    for value in (None, "", "   ", "/somewhere/else"):
        if value is None:
            monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", value)
        expected = platformdirs.user_config_dir("imgedit", appauthor=False)
        assert str(user_config_dir()) == expected, value
