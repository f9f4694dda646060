"""Raw HTTP/1.1 over a socket: request targets and header bytes exactly as written.

HTTP clients normalise paths (``..``, ``%2e``) and refuse bytes that are not valid in
headers; a hostile client does neither, so these tests write the bytes themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from multidict import CIMultiDict


@dataclass
class RawAnswer:
    status: int
    headers: CIMultiDict
    body: bytes

    def json(self):
        return orjson.loads(self.body)


async def raw_request(
    server, method: bytes, target: bytes, headers: dict[str, bytes] | None = None, body: bytes = b""
) -> RawAnswer:
    """Send one request to ``server`` (an aiohttp TestServer) and read the whole answer."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + f"{server.host}:{server.port}".encode()]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + value)
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = CIMultiDict(line.split(": ", 1) for line in header_lines)
    if answer_headers.get("Transfer-Encoding") == "chunked":
        rest = _unchunk(rest)
    return RawAnswer(int(status_line.split(" ")[1]), answer_headers, rest)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
