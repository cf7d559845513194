"""One edit through the official openai SDK, as its documentation shows.

Usage: openai_edit.py IMAGE OUTPUT SIZE PROMPT (reads OPENAI_BASE_URL and OPENAI_API_KEY).
"""

import base64
import sys

from openai import OpenAI


def main() -> None:
    image, output, size, prompt = sys.argv[1:5]
    with OpenAI() as client, open(image, "rb") as fh:
        result = client.images.edit(model="gpt-image-2", image=fh, prompt=prompt, size=size)
    b64 = result.data[0].b64_json if result.data else None
    assert b64 is not None, "the answer has no b64_json"
    with open(output, "wb") as out:
        out.write(base64.b64decode(b64))


if __name__ == "__main__":
    main()
