"""Stored API keys: a 0600 file in the user config folder, or the OS keyring, never printed.

What is checked is what a user (or an attacker on the same machine) would see: the file's mode
and contents on disk, the warnings, the Authorization header actually sent, and every line the
``imgedit keys`` commands print.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import stat
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner, Result

from imgedit_core import Client, ConfigError
from imgedit_core.cli.main import cli
from imgedit_core.config import user_config_dir
from imgedit_core.keys import KeyStore, keys_path
from imgedit_core.testing import make_image

STORED = "sk-stored-key-5f1e2d3c4b5a6978"
ENV_KEY = "sk-env-key-0a1b2c3d4e5f6a7b"
FLAG_KEY = "sk-flag-key-9z8y7x6w5v4u3t2s"
COMET_URL = "https://api.cometapi.com/v1/images/edits"
OUT = make_image(color="green")


class FakeKeyring(types.ModuleType):
    """Stands in for the ``keyring`` package: what imgedit hands it is what it holds."""

    def __init__(self) -> None:
        super().__init__("keyring")
        self.passwords: dict[tuple[str, str], str] = {}
        self.refuse = False

    def get_password(self, service: str, name: str) -> str | None:
        return self.passwords.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        if self.refuse:
            raise RuntimeError("the keyring is locked")
        self.passwords[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        del self.passwords[(service, name)]


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> FakeKeyring:
    fake = FakeKeyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    return fake


@pytest.fixture(autouse=True)
def logs_reach_caplog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``imgedit edit`` stops the imgedit logger propagating; caplog listens at the root."""
    monkeypatch.setattr(logging.getLogger("imgedit"), "propagate", True)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    answer = {"data": [{"b64_json": base64.b64encode(OUT).decode()}]}
    with respx.mock(assert_all_called=False) as mock:
        mock.post(COMET_URL).respond(200, json=answer)
        yield mock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def on_disk(store: KeyStore) -> dict[str, Any]:
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def invoke(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def shown(result: Result) -> str:
    return result.stdout + result.stderr


# -- the key file -----------------------------------------------------------------------------


def test_the_key_file_is_0600_in_a_0700_folder_under_the_user_config_folder() -> None:
    store = KeyStore()
    old = os.umask(0)  # even a careless umask must not make the file or folder readable
    try:
        store.set("COMETAPI_KEY", STORED)
    finally:
        os.umask(old)

    assert store.path == user_config_dir() / "keys.json" == keys_path()
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert on_disk(store) == {"COMETAPI_KEY": STORED}
    assert store.get("COMETAPI_KEY") == STORED


def test_the_key_file_is_never_readable_by_others_even_while_it_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = KeyStore()
    modes: list[int] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        modes.append(mode(Path(src)))
        real_replace(src, dst)

    monkeypatch.setattr("imgedit_core.keys.os.replace", replace)
    old = os.umask(0)
    try:
        store.set("COMETAPI_KEY", STORED)
        store.set("OPENAI_API_KEY", ENV_KEY)
    finally:
        os.umask(old)

    assert modes == [0o600, 0o600]
    assert on_disk(store) == {"COMETAPI_KEY": STORED, "OPENAI_API_KEY": ENV_KEY}


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = KeyStore()
    store.set("COMETAPI_KEY", STORED)
    before = store.path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("imgedit_core.keys.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.set("OPENAI_API_KEY", ENV_KEY)

    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["keys.json"]


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o660, 0o644])
def test_a_key_file_others_can_read_is_ignored_with_a_warning(
    loose: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyStore()
    store.set("COMETAPI_KEY", STORED)
    store.path.chmod(loose)

    with caplog.at_level(logging.WARNING, logger="imgedit.keys"):
        value = store.get("COMETAPI_KEY")
        names = store.names()

    assert value is None
    assert names == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings, "ignoring a key file must be said"
    assert str(store.path) in warnings[0]
    assert "others can read it" in warnings[0]
    assert f"chmod 600 {store.path}" in warnings[0]
    assert STORED not in caplog.text


def test_a_readable_key_file_is_not_used_for_an_edit(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyStore()
    store.set("COMETAPI_KEY", STORED)
    store.path.chmod(0o644)

    with Client(environ={}) as client, pytest.raises(ConfigError, match="COMETAPI_KEY"):
        client.edit(make_image(), "x")

    assert len(router.calls) == 0
    assert "others can read it" in caplog.text


def test_storing_into_a_readable_key_file_is_refused() -> None:
    store = KeyStore()
    store.set("COMETAPI_KEY", STORED)
    store.path.chmod(0o644)
    before = store.path.read_bytes()

    with pytest.raises(ConfigError) as caught:
        store.set("OPENAI_API_KEY", ENV_KEY)

    assert f"chmod 600 {store.path}" in str(caught.value)
    assert "rotating" in str(caught.value)
    assert store.path.read_bytes() == before
    assert mode(store.path) == 0o644


def test_names_are_listed_never_values_and_delete_forgets_one() -> None:
    store = KeyStore()
    store.set("OPENAI_API_KEY", ENV_KEY)
    store.set("COMETAPI_KEY", STORED)

    names = store.names()
    removed = store.delete("COMETAPI_KEY")
    removed_again = store.delete("COMETAPI_KEY")

    assert names == ["COMETAPI_KEY", "OPENAI_API_KEY"]
    assert STORED not in repr(store)
    assert (removed, removed_again) == (True, False)
    assert store.get("COMETAPI_KEY") is None
    assert on_disk(store) == {"OPENAI_API_KEY": ENV_KEY}
    assert mode(store.path) == 0o600


@pytest.mark.parametrize("name", ["cometapi key", "1KEY", "sk-abc", ""])
def test_a_key_name_must_be_an_environment_variable_name(name: str) -> None:
    store = KeyStore()

    with pytest.raises(ConfigError, match="COMETAPI_KEY or OPENAI_API_KEY"):
        store.set(name, STORED)

    assert not store.path.exists()


def test_an_empty_key_is_not_stored() -> None:
    store = KeyStore()

    with pytest.raises(ConfigError, match="empty"):
        store.set("COMETAPI_KEY", "")

    assert not store.path.exists()


def test_storing_into_a_corrupt_key_file_keeps_the_keys_already_there() -> None:
    store = KeyStore()
    store.set("OPENAI_API_KEY", ENV_KEY)
    store.path.write_text(store.path.read_text() + "}", encoding="utf-8")  # a hand edit gone wrong

    # Refusing would be fine too: what matters is that the other key survives.
    with contextlib.suppress(ConfigError):
        store.set("COMETAPI_KEY", STORED)

    assert ENV_KEY in store.path.read_text(encoding="utf-8")


# -- the OS keyring ---------------------------------------------------------------------------


def test_a_keyring_key_lives_in_the_keyring_and_the_file_holds_only_a_marker(
    fake_keyring: FakeKeyring,
) -> None:
    store = KeyStore()

    store.set("COMETAPI_KEY", STORED, keyring=True)

    assert fake_keyring.passwords == {("imgedit", "COMETAPI_KEY"): STORED}
    assert on_disk(store) == {"COMETAPI_KEY": {"store": "keyring"}}
    assert STORED not in store.path.read_text(encoding="utf-8")
    assert mode(store.path) == 0o600
    assert store.get("COMETAPI_KEY") == STORED
    assert store.where("COMETAPI_KEY") == "keyring"

    assert store.delete("COMETAPI_KEY") is True
    assert fake_keyring.passwords == {}
    assert on_disk(store) == {}


def test_a_keyring_key_is_sent(fake_keyring: FakeKeyring, router: respx.MockRouter) -> None:
    KeyStore().set("COMETAPI_KEY", STORED, keyring=True)

    with Client(environ={}) as client:
        client.edit(make_image(), "x")

    assert router.calls.last.request.headers["authorization"] == f"Bearer {STORED}"


def test_without_the_keyring_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    store = KeyStore()

    with pytest.raises(ConfigError) as caught:
        store.set("COMETAPI_KEY", STORED, keyring=True)

    assert "pip install 'imgedit[keyring]'" in str(caught.value)
    assert not store.path.exists()


def test_a_keyring_that_refuses_leaves_no_marker(fake_keyring: FakeKeyring) -> None:
    store = KeyStore()
    store.set("OPENAI_API_KEY", ENV_KEY)
    fake_keyring.refuse = True

    with pytest.raises(ConfigError) as caught:
        store.set("COMETAPI_KEY", STORED, keyring=True)

    assert "refused to store COMETAPI_KEY (RuntimeError)" in str(caught.value)
    assert "leave out --keyring" in str(caught.value)
    assert on_disk(store) == {"OPENAI_API_KEY": ENV_KEY}


def test_a_keyring_marker_without_the_keyring_extra_warns_and_finds_nothing(
    fake_keyring: FakeKeyring, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyStore()
    store.set("COMETAPI_KEY", STORED, keyring=True)
    monkeypatch.setitem(sys.modules, "keyring", None)

    with caplog.at_level(logging.WARNING, logger="imgedit.keys"):
        value = store.get("COMETAPI_KEY")

    assert value is None
    assert "COMETAPI_KEY is stored in the OS keyring" in caplog.text


# -- lookup order: flag > environment > stored key --------------------------------------------


@pytest.mark.parametrize(
    ("env", "flag", "expected"),
    [
        pytest.param({}, None, STORED, id="stored"),
        pytest.param({"COMETAPI_KEY": ""}, None, STORED, id="empty-env-falls-through"),
        pytest.param({"COMETAPI_KEY": ENV_KEY}, None, ENV_KEY, id="env-beats-stored"),
        pytest.param({"COMETAPI_KEY": ENV_KEY}, FLAG_KEY, FLAG_KEY, id="flag-beats-env"),
    ],
)
def test_key_lookup_order(
    env: dict[str, str], flag: str | None, expected: str, router: respx.MockRouter
) -> None:
    KeyStore().set("COMETAPI_KEY", STORED)

    with Client(environ=env, api_key=flag) as client:
        client.edit(make_image(), "x")

    assert router.calls.last.request.headers["authorization"] == f"Bearer {expected}"


def test_keys_false_ignores_stored_keys(router: respx.MockRouter) -> None:
    KeyStore().set("COMETAPI_KEY", STORED)

    with Client(environ={}, keys=False) as client, pytest.raises(ConfigError) as caught:
        client.edit(make_image(), "x")

    assert "set COMETAPI_KEY" in str(caught.value)
    assert "imgedit keys set COMETAPI_KEY" in str(caught.value)
    assert len(router.calls) == 0


def test_a_key_file_given_to_the_client_is_used(router: respx.MockRouter, tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "team" / "keys.json")
    store.set("COMETAPI_KEY", STORED)

    with Client(environ={}, keys=store) as client:
        client.edit(make_image(), "x")

    assert router.calls.last.request.headers["authorization"] == f"Bearer {STORED}"
    assert not keys_path().exists()


# -- imgedit keys -----------------------------------------------------------------------------


def test_keys_set_reads_the_key_from_stdin_and_never_prints_it() -> None:
    result = invoke("keys", "set", "COMETAPI_KEY", input=f"  {STORED}  \n")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"stored COMETAPI_KEY in {keys_path()}\n"
    assert STORED not in shown(result)
    assert on_disk(KeyStore()) == {"COMETAPI_KEY": STORED}
    assert mode(keys_path()) == 0o600


def test_keys_set_with_a_provider_name_stores_its_key_variable() -> None:
    result = invoke("keys", "set", "cometapi-qwen-image-edit", input=f"{STORED}\n")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"stored COMETAPI_KEY in {keys_path()}\n"
    assert on_disk(KeyStore()) == {"COMETAPI_KEY": STORED}


def test_keys_set_with_an_instance_name_stores_the_instances_key_variable(
    tmp_path: Path,
) -> None:
    (tmp_path / "imgedit.toml").write_text(
        '[providers.openai]\nuses = "cometapi-gpt-image"\n'
        'base_url = "https://openai.example/v1"\nkey_env = "OPENAI_API_KEY"\n'
    )

    result = invoke("keys", "set", "openai", input=f"{STORED}\n")

    assert result.exit_code == 0, result.stderr
    assert on_disk(KeyStore()) == {"OPENAI_API_KEY": STORED}


def test_keys_set_with_nothing_on_stdin_stores_nothing() -> None:
    result = invoke("keys", "set", "COMETAPI_KEY", input="\n")

    assert result.exit_code == 2
    assert result.stderr == "Error: the key for COMETAPI_KEY is empty; nothing was stored.\n"
    assert not keys_path().exists()


def test_keys_set_with_keyring_puts_the_value_in_the_keyring(fake_keyring: FakeKeyring) -> None:
    result = invoke("keys", "set", "--keyring", "COMETAPI_KEY", input=f"{STORED}\n")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "stored COMETAPI_KEY in the OS keyring\n"
    assert fake_keyring.passwords == {("imgedit", "COMETAPI_KEY"): STORED}
    assert STORED not in keys_path().read_text(encoding="utf-8")


def test_keys_list_shows_names_and_stores_only(fake_keyring: FakeKeyring) -> None:
    KeyStore().set("OPENAI_API_KEY", ENV_KEY)
    KeyStore().set("COMETAPI_KEY", STORED, keyring=True)

    table = invoke("keys", "list")
    as_json = invoke("keys", "list", "--json")

    assert table.exit_code == as_json.exit_code == 0
    assert table.stdout == "COMETAPI_KEY\tkeyring\nOPENAI_API_KEY\tfile\n"
    assert json.loads(as_json.stdout) == [
        {"name": "COMETAPI_KEY", "store": "keyring"},
        {"name": "OPENAI_API_KEY", "store": "file"},
    ]
    for result in (table, as_json):
        assert STORED not in shown(result)
        assert ENV_KEY not in shown(result)


def test_keys_path_prints_the_key_files_place() -> None:
    result = invoke("keys", "path")

    assert result.exit_code == 0
    assert result.stdout == f"{user_config_dir() / 'keys.json'}\n"
    assert not keys_path().exists()  # asking where does not create it


def test_keys_remove_forgets_the_key_and_says_so() -> None:
    KeyStore().set("COMETAPI_KEY", STORED)
    KeyStore().set("OPENAI_API_KEY", ENV_KEY)

    removed = invoke("keys", "remove", "cometapi-gpt-image")
    again = invoke("keys", "remove", "COMETAPI_KEY")

    assert removed.exit_code == 0, removed.stderr
    assert removed.stderr == "removed COMETAPI_KEY\n"
    assert on_disk(KeyStore()) == {"OPENAI_API_KEY": ENV_KEY}
    assert again.exit_code == 2
    assert "no stored key named COMETAPI_KEY" in again.stderr
    assert "imgedit keys list" in again.stderr


def test_keys_commands_refuse_a_key_file_others_can_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    KeyStore().set("COMETAPI_KEY", STORED)
    keys_path().chmod(0o644)

    listed = invoke("keys", "list")
    stored = invoke("keys", "set", "OPENAI_API_KEY", input=f"{ENV_KEY}\n")

    assert listed.exit_code == 0
    assert listed.stdout == ""
    assert "others can read it" in caplog.text
    assert stored.exit_code == 2
    assert f"chmod 600 {keys_path()}" in stored.stderr
    assert ENV_KEY not in keys_path().read_text(encoding="utf-8")


def test_a_stored_key_is_sent_by_imgedit_edit_and_printed_nowhere(
    router: respx.MockRouter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = tmp_path / "boat.png"
    image.write_bytes(make_image())
    invoke("keys", "set", "COMETAPI_KEY", input=f"{STORED}\n")

    dry = invoke("edit", str(image), "-p", "Add a hat", "--dry-run", "-vv")
    done = invoke("edit", str(image), "-p", "Add a hat", "-o", str(tmp_path / "out.png"), "-vv")
    show = invoke("config", "show")

    assert done.exit_code == 0, done.stderr
    sent = router.calls.last.request
    assert isinstance(sent, httpx.Request)
    assert sent.headers["authorization"] == f"Bearer {STORED}"
    assert (tmp_path / "out.png").read_bytes() == OUT
    assert "authorization: <redacted>" in dry.stdout
    key_row = next(line for line in show.stdout.splitlines() if "cometapi-gpt-image.key " in line)
    assert key_row.split()[1:] == ["set", "key", "file", str(keys_path())]
    for result in (dry, done, show):
        assert STORED not in shown(result)
    assert STORED not in caplog.text
