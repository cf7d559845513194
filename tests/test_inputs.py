"""ImageInput: what goes in carries a filename and the media type its bytes prove."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import respx
from conftest import EDITS_URL

from imgedit_core import Client, ImageInput, InputError
from imgedit_core.testing import decode_request, make_image


def _ok_body() -> dict[str, object]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(make_image()).decode()}]}


# -- from a path ----------------------------------------------------------------------------


def test_from_path_png(png_path: Path) -> None:
    image = ImageInput.from_path(png_path)
    assert image.filename == "boat.png"
    assert image.media_type == "image/png"
    assert image.path == png_path
    assert image.size == png_path.stat().st_size
    assert image.read() == png_path.read_bytes()


def test_from_path_accepts_str(jpeg_path: Path) -> None:
    image = ImageInput.from_path(str(jpeg_path))
    assert image.filename == "photo.jpg"
    assert image.media_type == "image/jpeg"


def test_from_path_webp(tmp_path: Path) -> None:
    path = tmp_path / "pic.webp"
    path.write_bytes(make_image(fmt="WEBP"))
    assert ImageInput.from_path(path).media_type == "image/webp"


def test_media_type_comes_from_bytes_not_extension(tmp_path: Path) -> None:
    lying = tmp_path / "actually-png.jpg"
    lying.write_bytes(make_image(fmt="PNG"))
    image = ImageInput.from_path(lying)
    assert image.media_type == "image/png"
    assert image.filename == "actually-png.jpg"


def test_jpeg_named_png_is_jpeg(tmp_path: Path) -> None:
    lying = tmp_path / "actually-jpeg.png"
    lying.write_bytes(make_image(fmt="JPEG"))
    assert ImageInput.from_path(lying).media_type == "image/jpeg"


def test_extensionless_file_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(make_image(fmt="JPEG"))
    assert ImageInput.from_path(path).media_type == "image/jpeg"


# -- path failures name the file -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ghost.png"
    with pytest.raises(InputError) as caught:
        ImageInput.from_path(missing)
    assert str(missing) in str(caught.value)
    assert "not found" in str(caught.value)


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    with pytest.raises(InputError) as caught:
        ImageInput.from_path(folder)
    assert str(folder) in str(caught.value)
    assert "folder" in str(caught.value)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("hello, this is text")
    with pytest.raises(InputError) as caught:
        ImageInput.from_path(notes)
    message = str(caught.value)
    assert str(notes) in message
    assert "not an image" in message
    assert "PNG, JPEG or WebP" in message


def test_empty_file_is_not_an_image(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        ImageInput.from_path(empty)
    assert str(empty) in str(caught.value)
    assert "empty" in str(caught.value)


def test_unreadable_file(png_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, where chmod 000 does not stop a read: fail the open instead.
    real_open = Path.open

    def guarded_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == png_path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", guarded_open)
    with pytest.raises(InputError) as caught:
        ImageInput.from_path(png_path)
    assert str(png_path) in str(caught.value)
    assert "Permission denied" in str(caught.value)


def test_coerce_reports_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"ghost\.png"):
        ImageInput.coerce(str(tmp_path / "ghost.png"))


# -- from bytes and file objects -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type", "filename"),
    [("PNG", "image/png", "image.png"), ("JPEG", "image/jpeg", "image.jpg")],
)
def test_from_bytes(fmt: str, media_type: str, filename: str) -> None:
    data = make_image(fmt=fmt)
    image = ImageInput.from_bytes(data)
    assert image.media_type == media_type
    assert image.filename == filename
    assert image.read() == data
    assert image.size == len(data)
    assert image.path is None


def test_from_bytes_keeps_given_filename_but_sniffs_type() -> None:
    image = ImageInput.from_bytes(make_image(fmt="PNG"), "holiday.jpg")
    assert image.filename == "holiday.jpg"
    assert image.media_type == "image/png"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_coerce_bytes_like(wrap: type) -> None:
    data = make_image()
    image = ImageInput.coerce(wrap(data))
    assert image.read() == data
    assert image.media_type == "image/png"


def test_bytes_that_are_not_an_image() -> None:
    with pytest.raises(InputError) as caught:
        ImageInput.from_bytes(b"GIF? no, plain text")
    assert "the image bytes is not an image" in str(caught.value)
    assert "starts with b'GIF? no,'" in str(caught.value)


def test_coerce_open_file_uses_its_name(jpeg_path: Path) -> None:
    with jpeg_path.open("rb") as fh:
        image = ImageInput.coerce(fh)
    assert image.filename == "photo.jpg"
    assert image.media_type == "image/jpeg"
    assert image.read() == jpeg_path.read_bytes()


def test_coerce_nameless_file_object() -> None:
    data = make_image(fmt="JPEG")
    image = ImageInput.coerce(io.BytesIO(data))
    assert image.filename == "image.jpg"
    assert image.media_type == "image/jpeg"
    assert image.read() == data


def test_text_mode_file_is_refused(png_path: Path) -> None:
    with png_path.open("r", encoding="latin-1") as fh, pytest.raises(InputError) as caught:
        ImageInput.coerce(fh)
    assert "binary mode" in str(caught.value)


def test_non_image_file_object_error_names_the_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image at all")
    with notes.open("rb") as fh, pytest.raises(InputError) as caught:
        ImageInput.coerce(fh)
    assert "notes.txt" in str(caught.value)


def test_coerce_refuses_other_types() -> None:
    with pytest.raises(InputError) as caught:
        ImageInput.coerce(42)  # type: ignore[arg-type]
    assert "int" in str(caught.value)


def test_coerce_passes_image_input_through(png_path: Path) -> None:
    image = ImageInput.from_path(png_path)
    assert ImageInput.coerce(image) is image


def test_gif_is_an_image_but_typed_as_gif(tmp_path: Path) -> None:
    path = tmp_path / "anim.png"
    path.write_bytes(make_image(fmt="GIF"))
    assert ImageInput.from_path(path).media_type == "image/gif"


# -- paths are read when sent -----------------------------------------------------------------


def test_path_input_is_read_at_send_time(png_path: Path, api_key: str) -> None:
    image = ImageInput.from_path(png_path)
    newer = make_image(color="red")
    assert newer != png_path.read_bytes()
    png_path.write_bytes(newer)
    with respx.mock() as router, Client() as client:
        route = router.post(EDITS_URL).respond(200, json=_ok_body())
        client.edit(image, "Add a hat", model="gpt-image-2")
    sent = decode_request(route.calls.last.request).files_named("image")
    assert [part.data for part in sent] == [newer]


def test_path_deleted_before_send_names_the_file(png_path: Path, api_key: str) -> None:
    image = ImageInput.from_path(png_path)
    png_path.unlink()
    with respx.mock(assert_all_called=False) as router, Client() as client:
        route = router.post(EDITS_URL).respond(200, json=_ok_body())
        with pytest.raises(InputError) as caught:
            client.edit(image, "Add a hat", model="gpt-image-2")
    assert str(png_path) in str(caught.value)
    assert not route.called


def test_path_input_does_not_hold_the_bytes(png_path: Path) -> None:
    image = ImageInput.from_path(png_path)
    assert image.content is None
    assert image.read() == png_path.read_bytes()


def test_repr_shows_source_not_bytes(png_path: Path) -> None:
    assert str(png_path) in repr(ImageInput.from_path(png_path))
    assert "<bytes>" in repr(ImageInput.from_bytes(make_image()))
