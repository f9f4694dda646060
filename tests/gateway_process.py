"""A real ``python -m gateway`` process whose JSON log lines a test can wait for."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

import aiohttp
import orjson
import pytest


class GatewayProcess:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[dict] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def start(cls, port: int, *args: str, env: dict[str, str | None] | None = None) -> GatewayProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--port", str(port), *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            # A value of None removes that variable from the gateway's environment.
            env={k: v for k, v in {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}.items() if v is not None},
        )
        gateway = cls(process, port)
        await gateway.wait_until_serving()
        return gateway

    async def wait_until_serving(self) -> None:
        """Readiness probe: ``/health`` answers (up to 30 s: on a loaded machine the
        interpreter's imports alone can take several seconds)."""
        deadline = asyncio.get_running_loop().time() + 30
        async with aiohttp.ClientSession() as session:
            while asyncio.get_running_loop().time() < deadline:
                try:
                    async with session.get(self.url + "/health") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    if self.process.returncode is not None:
                        break
                    await asyncio.sleep(0.05)
        self.process.kill()
        await self.process.wait()
        await self._reader
        pytest.fail(f"gateway did not start: {self.lines}")

    async def _read_stderr(self) -> None:
        async for raw in self.process.stderr:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                line = {"raw": raw.decode()}
            async with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    async def wait_for_log(self, match: Callable[[dict], bool], count: int = 1, timeout: float = 30) -> list[dict]:
        """The first ``count`` log lines that ``match``, once there are that many."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len([line for line in self.lines if match(line)]) >= count)
        return [line for line in self.lines if match(line)][:count]

    def logged(self, msg: str) -> list[dict]:
        return [line for line in self.lines if line.get("msg") == msg]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def exit_code(self, timeout: float = 30) -> int:
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
            await self._reader
        return code

    async def close(self) -> None:
        """Stop it if a test left it running (SIGTERM first: a killed supervisor's
        workers would keep the port)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader


def msg(name: str) -> Callable[[dict], bool]:
    return lambda line: line.get("msg") == name
