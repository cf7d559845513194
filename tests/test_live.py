"""One real edit against CometAPI: only with IMGEDIT_LIVE_TESTS=1 and a key, never in CI.

It costs money; the rest of the suite proves behaviour offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgedit_core import Client
from imgedit_core.media import PNG

LIVE = os.environ.get("IMGEDIT_LIVE_TESTS") == "1"
KEY = os.environ.get("IMGEDIT_LIVE_COMETAPI_KEY") or os.environ.get("COMETAPI_KEY")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not (LIVE and KEY), reason="set IMGEDIT_LIVE_TESTS=1 and COMETAPI_KEY"),
]

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "boat.png"


def test_live_gpt_image_edit(tmp_path: Path) -> None:
    with Client(api_key=KEY) as client:
        result = client.edit(
            EXAMPLE, "Add a small red ribbon to the paper boat", model="gpt-image-2", quality="low"
        )
    saved = result.images[0].save(tmp_path / "live.png")
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.images[0].media_type == PNG
