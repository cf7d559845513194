"""Many edits at once by hand with httpx.AsyncClient, at most CONCURRENCY in flight.

Usage: raw_httpx_async.py IMAGE SIZE PROMPT EDITS CONCURRENCY; prints one JSON line:
the seconds the edits took (measured here, after imports, client set-up and one untimed
edit), the imports and that first edit.
"""

import time

started = time.perf_counter()

import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import httpx  # noqa: E402

imported = time.perf_counter() - started


async def main(image: str, size: str, prompt: str, edits: int, concurrency: int) -> None:
    base_url = os.environ["COMETAPI_BASE_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['COMETAPI_KEY']}"}
    fields = {"model": "gpt-image-2", "prompt": prompt, "size": size}
    with open(image, "rb") as fh:
        data = fh.read()
    name = os.path.basename(image)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def one() -> int:
            async with gate:
                response = await client.post(
                    f"{base_url}/images/edits",
                    headers=headers,
                    data=fields,
                    files={"image": (name, data, "image/png")},
                )
                response.raise_for_status()
                return len(base64.b64decode(response.json()["data"][0]["b64_json"]))

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
