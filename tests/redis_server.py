"""A real redis-server (Debian's package) on a free port in a temp dir, for tests.

Under ``CI=true`` a missing redis-server fails the test; elsewhere it is skipped.
Readiness is the server's own "Ready to accept connections" line, not a sleep.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest


def redis_server_binary() -> str:
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if path is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class RedisServer:
    def __init__(self, directory: Path, port: int, *extra_args: str) -> None:
        self.directory = directory
        self.port = port
        self.extra_args = extra_args  # e.g. "--requirepass", "secret"
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--save", "", "--appendonly", "no", "--logfile", "", "--daemonize", "no", *self.extra_args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        seen = b""
        while b"Ready to accept connections" not in seen:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout=10)
            if not line:
                raise RuntimeError(f"redis-server did not start: {seen.decode(errors='replace')}")
            seen += line
        self._drain = asyncio.ensure_future(self._drain_output())

    async def _drain_output(self) -> None:
        while await self.process.stdout.readline():
            pass

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            await self.process.wait()
        await self._drain

    async def stop(self) -> None:
        if self.process is not None:
            await self.kill()
