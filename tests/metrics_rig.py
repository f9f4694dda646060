"""A real gateway (``python -m gateway --workers 2``) with everything metrics can count.

Fake upstreams from ``tests/fakes`` run in this process, one per behaviour (answers,
5xx, hangs, silence mid-stream, a stream cut short, Bedrock, an AWS container
credentials endpoint that hands out a new session on every call); a redis-server holds
the limits and the response cache; the store holds three API keys: ``team-a``
(no limits), ``limited`` (2 requests a minute) and ``budgeted`` (a budget of 1 token),
and a virtual key ``team-openai`` for the answering fake.

``exercise`` sends one of each case the metrics list names; ``mixed`` sends a steady
mix for ``scripts/dashboard.py render``. Used by ``tests/test_metrics_audit.py``
and the dashboard script.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.fakes import bedrock as fake_bedrock
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.openai import FakeOpenAI
from tests.gateway_process import GatewayProcess
from tests.redis_server import RedisServer

HOST = "127.0.0.1"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
PROVIDER_KEY = "sk-test-rig"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"
KEYS = {
    "team-a": {},
    "limited": {"rate_limits": [{"type": "requests", "unit": "rpm", "value": 2}]},
    "budgeted": {"usage_limits": {"token_limit": 1}},
}
VIRTUAL_KEY = "team-openai"
# Milliseconds: the hanging and the silent upstreams are given up on this soon.
SHORT_TIMEOUT_MS = 300


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ContainerCredentials:
    """AWS's container credentials endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI``):
    every call hands out a new session that expires within botocore's refresh window,
    so the gateway's chain renews it on its next use (a ``refreshed`` event)."""

    def __init__(self) -> None:
        self.calls = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/creds", self.creds)
        return app

    async def creds(self, request: web.Request) -> web.Response:
        self.calls += 1
        key_id, secret, token = f"ASIARIGSESSION{self.calls:06d}", f"rig/secret+{self.calls:030d}", f"rig-token-{self.calls}"
        fake_bedrock.KEYS[key_id] = (secret, token)  # the fake Bedrock accepts each session
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=12)  # inside the 15 min advisory window
        return web.json_response({
            "AccessKeyId": key_id, "SecretAccessKey": secret, "Token": token,
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })


class Rig:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.runners: list[web.AppRunner] = []
        self.ok = FakeOpenAI()
        self.failing = FakeOpenAI(error=(500, {"error": {"message": "boom", "type": "server_error", "code": None}}))
        self.hanging = FakeOpenAI(hang=asyncio.Event())  # never set: the gateway times out
        self.silent = FakeOpenAI(gate=asyncio.Event())  # a stream that stops after its first chunk
        self.cut = FakeOpenAI(die_after_chunks=3)
        self.bedrock = FakeBedrock(region="us-east-1")
        self.credentials = ContainerCredentials()
        self.dead_port = free_port()  # nothing listens: connect errors
        self.keys: dict[str, str] = {}
        self.gateway: GatewayProcess | None = None
        self.redis: RedisServer | None = None

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, HOST, port).start()
        self.runners.append(runner)
        return f"http://{HOST}:{port}"

    async def start(self, *gateway_args: str) -> Rig:
        for fake in (self.ok, self.failing, self.hanging, self.silent, self.cut):
            fake.url = await self._serve(fake.app()) + "/v1"
        self.bedrock.url = await self._serve(self.bedrock.app())
        credentials_url = await self._serve(self.credentials.app()) + "/creds"
        self.redis = RedisServer(self.directory, free_port())
        await self.redis.start()
        state = self.directory / "state"
        env: dict[str, str | None] = {
            "GATEWAY_STATE_DIR": str(state),
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_url,
            "AWS_SHARED_CREDENTIALS_FILE": str(self.directory / "no-credentials"),
            "AWS_CONFIG_FILE": str(self.directory / "no-config"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "PROMETHEUS_MULTIPROC_DIR"):
            env[name] = None  # the machine's own AWS identity must not leak in
        master_key = self.directory / "master-key"
        master_key.write_text(base64.b64encode(os.urandom(32)).decode())
        env["GATEWAY_MASTER_KEY_FILE"] = str(master_key)
        for name, limits in KEYS.items():
            created = await self._cli(env, "keys", "create", "--name", name, "--json", json.dumps({"name": name, **limits}))
            self.keys[name] = created["key"]
        await self._cli(env, "virtual-keys", "create", "--json", json.dumps(
            {"name": VIRTUAL_KEY, "slug": VIRTUAL_KEY, "provider": "openai", "key": PROVIDER_KEY, "custom_host": self.ok.url}))
        self.metrics_port = free_port()
        self.gateway = await GatewayProcess.start(
            free_port(), "--workers", "2", "--metrics-listen", f"{HOST}:{self.metrics_port}",
            "--redis", self.redis.url, "--shutdown-timeout", "1", *gateway_args, env=env,
        )
        self.url = self.gateway.url
        self.metrics_url = f"http://{HOST}:{self.metrics_port}/metrics"
        return self

    async def _cli(self, env: dict[str, str | None], *args: str) -> dict:
        environ = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "gateway", *args], env=environ,
                                       capture_output=True, check=True, text=True)
        return json.loads(done.stdout)

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()
        if self.redis is not None:
            await self.redis.stop()
        self.hanging.hang.set()
        self.silent.gate.set()
        for runner in self.runners:
            await runner.cleanup()

    # -- requests -----------------------------------------------------------------------

    def headers(self, key: str = "team-a", upstream: FakeOpenAI | None = None, **config) -> dict[str, str]:
        headers = {"x-portkey-api-key": self.keys[key]}
        if config:
            headers["x-portkey-config"] = json.dumps(config)
        else:
            headers.update({"x-portkey-provider": "openai", "x-portkey-custom-host": (upstream or self.ok).url,
                            "Authorization": f"Bearer {PROVIDER_KEY}"})
        return headers

    def virtual_key_headers(self, key: str = "team-a") -> dict[str, str]:
        return {"x-portkey-api-key": self.keys[key], "x-portkey-virtual-key": VIRTUAL_KEY}

    def target(self, upstream: FakeOpenAI | None = None, url: str | None = None, **fields) -> dict:
        return {"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": url or upstream.url, **fields}

    async def post(self, session, headers, body=None, path="/v1/chat/completions", read_lines: int | None = None):
        async with session.post(self.url + path, json=body or CHAT, headers=headers) as response:
            if read_lines is None:
                await response.read()
            else:
                for _ in range(read_lines):
                    await response.content.readline()
            return response.status, response.headers.get("x-portkey-cache-status")

    async def exercise(self, session: aiohttp.ClientSession) -> dict[str, object]:
        """One of each case; what each answered."""
        seen: dict[str, object] = {}
        stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
        seen["ok"] = await self.post(session, self.headers())
        seen["virtual_key"] = await self.post(session, self.virtual_key_headers())
        seen["stream"] = await self.post(session, self.headers(), stream)
        # cached and reasoning tokens (the fake's Responses API reports both)
        seen["responses"] = await self.post(session, self.headers(), {"model": "o3-mini", "input": "hi"}, "/v1/responses")
        # 5xx retried, then a fallback; a connect error, then a fallback; a timeout, then a fallback
        seen["retry_fallback"] = await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
            self.target(self.failing, retry={"attempts": 1, "on_status_codes": [500]}), self.target(self.ok)]))
        seen["connect"] = await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
            self.target(url=f"http://{HOST}:{self.dead_port}/v1"), self.target(self.ok)]))
        seen["timeout"] = await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
            self.target(self.hanging, request_timeout=SHORT_TIMEOUT_MS), self.target(self.ok)]))
        # silence mid-stream (idle), a stream cut short (protocol), a client that hangs up
        seen["idle"] = await self.post(session, self.headers(
            **self.target(self.silent, idle_timeout=SHORT_TIMEOUT_MS)), stream)
        seen["cut"] = await self.post(session, self.headers(upstream=self.cut), stream)
        seen["disconnect"] = await self.post(session, self.headers(upstream=self.silent), stream, read_lines=1)
        # and one that hangs up while the upstream has not answered yet
        self.hanging.request_seen.clear()
        waiting = asyncio.ensure_future(self.post(session, self.headers(upstream=self.hanging)))
        await self.hanging.request_seen.wait()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        # cache: MISS, HIT, REFRESH (Redis: every worker shares it)
        cached = self.headers(**self.target(self.ok), cache={"mode": "simple", "max_age": 60})
        body = {**CHAT, "messages": [{"role": "user", "content": f"cache {time.time()}"}]}
        seen["cache"] = [await self.post(session, cached, body), await self.post(session, cached, body),
                         await self.post(session, {**cached, "x-portkey-cache-force-refresh": "true"}, body)]
        # limits: the third request in a minute is a 429; the budget's second is a 412
        seen["limited"] = [(await self.post(session, self.headers("limited")))[0] for _ in range(3)]
        seen["budgeted"] = [(await self.post(session, self.headers("budgeted")))[0]]
        async with asyncio.timeout(10):  # the first answer's tokens are charged after it, in a batch
            while seen["budgeted"][-1] != 412:
                seen["budgeted"].append((await self.post(session, self.headers("budgeted")))[0])
        seen["unknown_key"] = await self.post(session, {**self.headers(), "x-portkey-api-key": "nope"})
        # Bedrock with the gateway's own AWS identity: resolved, then renewed
        bedrock = {"x-portkey-api-key": self.keys["team-a"], "x-portkey-provider": "bedrock",
                   "x-portkey-custom-host": self.bedrock.url, "x-portkey-aws-region": "us-east-1"}
        seen["bedrock"] = [await self.post(session, bedrock, {**CHAT, "model": BEDROCK_MODEL}) for _ in range(2)]
        return seen

    async def mixed(self, session: aiohttp.ClientSession, until: float, seed: int = 7) -> None:
        """A load that swells and ebbs, mostly successes, some of every other case."""
        rng = random.Random(seed)
        stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
        models = ["gpt-4o-mini", "gpt-4o", "o3-mini"]
        cache = self.headers(**self.target(self.ok), cache={"mode": "simple", "max_age": 60})

        async def one() -> None:
            roll = rng.random()
            body = {**CHAT, "model": rng.choice(models)}
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                if roll < 0.15:
                    await self.post(session, self.headers(), body)
                elif roll < 0.3:
                    await self.post(session, self.virtual_key_headers(rng.choice(list(KEYS))), body)
                elif roll < 0.5:
                    await self.post(session, self.headers(), {**stream, "model": body["model"]})
                elif roll < 0.6:
                    question = {**body, "messages": [{"role": "user", "content": f"faq {rng.randrange(8)}"}]}
                    extra = {"x-portkey-cache-force-refresh": "true"} if rng.random() < 0.1 else {}
                    await self.post(session, {**cache, **extra}, question)
                elif roll < 0.65:
                    await self.post(session, self.headers(), {"model": "o3-mini", "input": "hi"}, "/v1/responses")
                elif roll < 0.7:
                    await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
                        self.target(self.failing, retry={"attempts": 1, "on_status_codes": [500]}), self.target(self.ok)]))
                elif roll < 0.74:
                    await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
                        self.target(url=f"http://{HOST}:{self.dead_port}/v1"), self.target(self.ok)]))
                elif roll < 0.77:
                    await self.post(session, self.headers(strategy={"mode": "fallback"}, targets=[
                        self.target(self.hanging, request_timeout=SHORT_TIMEOUT_MS), self.target(self.ok)]))
                elif roll < 0.8:
                    await self.post(session, self.headers(**self.target(self.silent, idle_timeout=SHORT_TIMEOUT_MS)), stream)
                elif roll < 0.83:
                    await self.post(session, self.headers(upstream=self.cut), stream)
                elif roll < 0.86:
                    await self.post(session, self.headers(upstream=self.silent), stream, read_lines=1)
                elif roll < 0.91:
                    await self.post(session, self.headers("limited"))
                elif roll < 0.94:
                    await self.post(session, self.headers("budgeted"))
                elif roll < 0.96:
                    await self.post(session, {**self.headers(), "x-portkey-api-key": "nope"})
                else:
                    await self.post(session, {"x-portkey-api-key": self.keys["team-a"], "x-portkey-provider": "bedrock",
                                              "x-portkey-custom-host": self.bedrock.url,
                                              "x-portkey-aws-region": "us-east-1"}, {**CHAT, "model": BEDROCK_MODEL})

        while time.monotonic() < until:
            swell = 1 + math.sin(time.monotonic() / 6)
            await asyncio.gather(*(one() for _ in range(3 + int(3 * swell))))


@contextlib.asynccontextmanager
async def running_rig(*gateway_args: str):
    with tempfile.TemporaryDirectory(prefix="metrics-rig-") as directory:
        rig = Rig(Path(directory))
        try:
            yield await rig.start(*gateway_args)
        finally:
            await rig.close()
