"""One edit by hand with httpx: what a competent user writes instead of a client library.

Usage: raw_httpx_edit.py IMAGE OUTPUT SIZE PROMPT (reads COMETAPI_BASE_URL and COMETAPI_KEY).
The image is passed as an open file, so httpx streams it from disk.
"""

import base64
import os
import sys

import httpx


def main() -> None:
    image, output, size, prompt = sys.argv[1:5]
    base_url = os.environ["COMETAPI_BASE_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['COMETAPI_KEY']}"}
    fields = {"model": "gpt-image-2", "prompt": prompt, "size": size}
    with httpx.Client(timeout=600) as client, open(image, "rb") as fh:
        files = {"image": (os.path.basename(image), fh, "image/png")}
        response = client.post(
            f"{base_url}/images/edits", headers=headers, data=fields, files=files
        )
        response.raise_for_status()
        data = base64.b64decode(response.json()["data"][0]["b64_json"])
    with open(output, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    main()
