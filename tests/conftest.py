"""Fixtures: fake upstreams and the gateway, each on 127.0.0.1 at a free port."""

from __future__ import annotations

import logging

import openai
import portkey_ai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.serving import make_runner
from gateway.settings import Settings
from gateway.store.runtime import STORE_RUNTIME
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.google import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.serving import served
from tests.keys.admin_setup import ADMIN_KEY
from tests.providers.bedrock.samples import REGION
from tests.redis_server import RedisServer

TEST_KEY = "sk-test-0123456789"


@pytest.fixture
async def fake_openai(aiohttp_server):
    return await served(aiohttp_server, FakeOpenAI())


@pytest.fixture
async def fake_anthropic(aiohttp_server):
    return await served(aiohttp_server, FakeAnthropic())


@pytest.fixture
async def fake_bedrock(aiohttp_server):
    return await served(aiohttp_server, FakeBedrock(region=REGION), "")


@pytest.fixture
async def fake_gemini(aiohttp_server):
    return await served(aiohttp_server, FakeGemini(), "")


@pytest.fixture
async def make_fake(aiohttp_server):
    """More fake OpenAI upstreams, each on its own port: ``await make_fake()``."""
    fakes = []

    async def make() -> FakeOpenAI:
        fake = FakeOpenAI()
        await served(aiohttp_server, fake)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.released.set()  # let hanging handlers end before the servers close


@pytest.fixture
async def redis_server(tmp_path, unused_tcp_port):
    """A real redis-server on a free port (a missing one skips, or fails under CI=true)."""
    server = RedisServer(tmp_path, unused_tcp_port)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings() -> Settings:
    """Override in a test module (or parametrize) to change the gateway's settings."""
    return Settings()


class GatewayTestServer(TestServer):
    """A TestServer running the app with the production runner (``gateway.serving``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(create_app(settings))
        self.settings = settings

    async def _make_runner(self, **kwargs) -> web.AppRunner:
        return make_runner(self.app, self.settings, **kwargs)


@pytest.fixture
async def gateway(settings):
    """The gateway on a free port, served as in production (handler cancellation on)."""
    async with GatewayTestServer(settings) as server:
        yield server


@pytest.fixture
async def client(aiohttp_client, gateway):
    return await aiohttp_client(gateway)


@pytest.fixture
async def admin(gateway):
    """The admin API through the portkey-ai SDK (settings from ``tests.keys.admin_setup.store_settings``)."""
    client = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=str(gateway.make_url("/v1")), max_retries=0)
    yield client
    await client.close()


@pytest.fixture
def view(gateway):
    """This worker's view of the store."""
    return gateway.app[STORE_RUNTIME].view


@pytest.fixture
def openai_headers(fake_openai) -> dict[str, str]:
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}


def openai_sdk(gateway, api_key: str, headers: dict[str, str]) -> openai.AsyncOpenAI:
    """The official OpenAI SDK pointed at the gateway, as a user would (no SDK retries)."""
    return openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key=api_key, default_headers=headers, max_retries=0
    )


@pytest.fixture
async def sdk(gateway, openai_headers):
    client = openai_sdk(gateway, TEST_KEY, openai_headers)
    yield client
    await client.close()


@pytest.fixture
def auth_headers(openai_headers) -> dict[str, str]:
    """Header mode to the fake OpenAI, as curl would send it."""
    return {"Authorization": f"Bearer {TEST_KEY}", **openai_headers}


@pytest.fixture
def access_lines(caplog):
    """The gateway's access-log records, to check what it logs (and what it never does)."""
    caplog.set_level(logging.INFO, logger="gateway")

    def lines():
        return [record for record in caplog.records if record.name == "gateway.access"]

    return lines
