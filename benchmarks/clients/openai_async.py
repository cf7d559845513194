"""Many edits at once through AsyncOpenAI, at most CONCURRENCY in flight.

Usage: openai_async.py IMAGE SIZE PROMPT EDITS CONCURRENCY; prints one JSON line like
raw_httpx_async.py. Reads OPENAI_BASE_URL and OPENAI_API_KEY.
"""

import time

started = time.perf_counter()

import asyncio  # noqa: E402
import base64  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from openai import AsyncOpenAI, DefaultAsyncHttpxClient  # noqa: E402

# openai 1.x and 2.x are built on httpx, 3.x on its fork httpx2: take Limits from whichever
# package the SDK's own client class comes from.
http = importlib.import_module(DefaultAsyncHttpxClient.__mro__[1].__module__.partition(".")[0])

imported = time.perf_counter() - started


async def main(image: str, size: str, prompt: str, edits: int, concurrency: int) -> None:
    with open(image, "rb") as fh:
        data = fh.read()
    name = os.path.basename(image)
    limits = http.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with AsyncOpenAI(http_client=DefaultAsyncHttpxClient(limits=limits)) as client:

        async def one() -> int:
            async with gate:
                result = await client.images.edit(
                    model="gpt-image-2", image=(name, data, "image/png"), prompt=prompt, size=size
                )
                b64 = result.data[0].b64_json if result.data else None
                assert b64 is not None, "the answer has no b64_json"
                return len(base64.b64decode(b64))

        t0 = time.perf_counter()
        await one()  # untimed: lazy set-up (TLS context, plugins, first connection) for everyone
        t1, cpu = time.perf_counter(), time.process_time()
        sizes = await asyncio.gather(*(one() for _ in range(edits)))
        seconds, cpu = time.perf_counter() - t1, time.process_time() - cpu
    print(
        json.dumps(
            {
                "edits": len(sizes),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "import_seconds": imported,
                "first_edit_seconds": t1 - t0,
                "answer_bytes": sizes[0],
            }
        )
    )


if __name__ == "__main__":
    image, size, prompt, edits, concurrency = sys.argv[1:6]
    asyncio.run(main(image, size, prompt, int(edits), int(concurrency)))
