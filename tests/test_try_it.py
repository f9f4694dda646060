"""README's "Try it without a provider key" works as written.

The commands are read from the README's literal blocks, not copied here, so the
documentation cannot drift from what is tested. Only the ports change (free ones
instead of 9100 and 8787, in case those are taken) and ``.venv/bin/`` becomes this
interpreter's directory. The fake upstream and the gateway are real subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path

import pytest

from tests.readme import REPO, literal_blocks

BIN = Path(sys.executable).parent
SECTION = "Try it without a provider key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def readme_blocks():
    commands, curl, sdk = literal_blocks((REPO / "README.rst").read_text(), SECTION)
    return commands.splitlines(), curl, sdk


@pytest.fixture
async def started(readme_blocks):
    """The two documented commands running, on free ports; yields (ports, blocks)."""
    (fake_line, gateway_line), curl, sdk = readme_blocks
    upstream_port, gateway_port = free_port(), free_port()
    fake_args = shlex.split(fake_line.replace("9100", str(upstream_port)))
    gateway_args = shlex.split(gateway_line)
    assert fake_args[:2] == [".venv/bin/python", "scripts/fake_upstream.py"] and gateway_args == [".venv/bin/gateway"]
    env = {**os.environ, "GATEWAY_PORT": str(gateway_port)}  # the command line stays as documented
    fake = await asyncio.create_subprocess_exec(sys.executable, *fake_args[1:], cwd=REPO)
    gateway = await asyncio.create_subprocess_exec(
        str(BIN / "gateway"), *gateway_args[1:], cwd=REPO, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        # Ready when both accept connections (the gateway logs "listening" before it binds).
        await asyncio.wait_for(_accepting(upstream_port, fake), 30)
        await asyncio.wait_for(_accepting(gateway_port, gateway), 30)
        yield upstream_port, gateway_port, curl, sdk
    finally:
        for process in (gateway, fake):
            if process.returncode is None:
                process.terminate()
                await process.wait()


async def _accepting(port: int, process) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            assert process.returncode is None, f"{process} exited"
            await asyncio.sleep(0.05)  # readiness probe


def with_ports(text: str, upstream_port: int, gateway_port: int) -> str:
    return text.replace("9100", str(upstream_port)).replace("8787", str(gateway_port))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_documented_curl_streams_the_answer(started):
    upstream_port, gateway_port, curl, _ = started
    command = with_ports(curl, upstream_port, gateway_port)
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    events = out.split(b"\n\n")
    assert len([e for e in events if b'"content":"t=' in e]) == 5, out
    assert out.endswith(b"data: [DONE]\n\n")


async def test_documented_sdk_snippet_prints_each_chunk(started):
    upstream_port, gateway_port, _, sdk = started
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", with_ports(sdk, upstream_port, gateway_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert [line[:2] for line in out.decode().splitlines()] == ["t="] * 5
