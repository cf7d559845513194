"""One edit through imgedit's Python API, as its README shows.

Usage: imgedit_api_edit.py IMAGE OUTPUT SIZE PROMPT (reads COMETAPI_BASE_URL and COMETAPI_KEY).
"""

import sys

from imgedit_core import Client


def main() -> None:
    image, output, size, prompt = sys.argv[1:5]
    with Client() as client:
        result = client.edit(image, prompt, model="gpt-image-2", size=size)
        result.image.save(output, overwrite=True)


if __name__ == "__main__":
    main()
