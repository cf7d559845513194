"""Many edits at once through imgedit's AsyncClient, at most CONCURRENCY in flight.

Usage: imgedit_async.py IMAGE SIZE PROMPT EDITS CONCURRENCY; prints one JSON line like
raw_httpx_async.py. Reads COMETAPI_BASE_URL and COMETAPI_KEY.
"""

import time

started = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from imgedit_core import AsyncClient, ImageInput  # noqa: E402

imported = time.perf_counter() - started


async def main(image: str, size: str, prompt: str, edits: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    upload = ImageInput.from_path(image)  # read once, as the raw script reads it once
    upload = ImageInput.from_bytes(upload.read(), upload.filename)
    async with AsyncClient() as client:

        async def one() -> int:
            async with gate:
                result = await client.edit(upload, prompt, model="gpt-image-2", size=size)
                return len(await result.images[0].aload())

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
