"""A separate process writing to a store: ``python -m tests.keys.writer URL PREFIX COUNT``.

Used by the concurrency tests: several of these start at once on a fresh store (so
their migrations race too), each creates COUNT virtual keys, and prints the number
of virtual keys its last snapshot saw.
"""

from __future__ import annotations

import asyncio
import sys

from gateway.store import ProviderCredentials, VirtualKey, open_store
from tests.keys.conftest import MASTER


async def main(url: str, prefix: str, count: int) -> None:
    store = open_store(url, MASTER)
    await store.start()
    try:
        for i in range(count):
            slug = f"{prefix}-{i}"
            await store.create_virtual_key(
                VirtualKey(id=slug, slug=slug, name=slug, provider="openai",
                           credentials=ProviderCredentials(api_key=f"sk-{slug}-0123456789"))
            )
        print(len((await store.snapshot()).virtual_keys))
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
