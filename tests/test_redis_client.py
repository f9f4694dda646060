"""The limit counters' Redis client: URLs, pipelining, a password and a database."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_py

from gateway.limits.counters import Subject
from gateway.limits.model import parse_limits
from gateway.limits.redis_backend import RedisCounters
from gateway.redis_client import Address, RedisClient, RedisUnavailable, ReplyError, parse_redis_url
from tests.redis_server import RedisServer


@pytest.mark.parametrize(("url", "address"), [
    ("redis://127.0.0.1:6380/2", Address(host="127.0.0.1", port=6380, db=2)),
    ("redis://h", Address(host="h")),
    ("redis://:p%40ss@h/1", Address(host="h", password="p@ss", db=1)),
    ("redis://user:pw@h:1", Address(host="h", port=1, username="user", password="pw")),
    ("rediss://h/3", Address(host="h", tls=True, db=3)),
    ("rediss://h?ssl_cert_reqs=none", Address(host="h", tls=True, verify_tls=False)),
    ("unix:///run/redis.sock?db=4", Address(path="/run/redis.sock", db=4)),
])
def test_urls(url, address):
    assert parse_redis_url(url) == address


@pytest.fixture
async def server(tmp_path, unused_tcp_port):
    server = RedisServer(tmp_path, unused_tcp_port, "--requirepass", "s3cret")
    await server.start()
    yield server
    await server.stop()


async def test_commands_of_one_turn_go_out_in_one_write_and_replies_come_back_in_order(server):
    client = RedisClient(f"redis://:s3cret@127.0.0.1:{server.port}/0")
    try:
        await client.call("PING")
        writes = []
        transport = client._connection._transport
        write = transport.write

        def counted(data):
            writes.append(data.count(b"INCRBY"))
            write(data)

        transport.write = counted
        replies = await asyncio.gather(*(client.call("INCRBY", f"k{n % 3}", n) for n in range(30)))
        assert writes == [30]
        assert replies == [sum(m for m in range(n + 1) if m % 3 == n % 3) for n in range(30)]
        with pytest.raises(ReplyError, match="unknown command"):
            await client.call("NO-SUCH-COMMAND")
        assert await client.call("GET", "k0") == b"135"  # the connection is still in step
    finally:
        await client.close()


async def test_a_password_and_a_database_from_the_url(server):
    limited = [Subject("api-key:a", parse_limits([{"type": "requests", "unit": "rpm", "value": 10}]))]
    counters = RedisCounters(f"redis://:s3cret@127.0.0.1:{server.port}/3")
    check = redis_py.Redis(port=server.port, password="s3cret", db=3)
    try:
        assert (await counters.admit(limited)).states[0].used == 1
        assert [key.decode() async for key in check.scan_iter("gw:rl:api-key:a:*")]  # in database 3
        wrong = RedisClient(f"redis://:wrong@127.0.0.1:{server.port}/0")
        with pytest.raises(RedisUnavailable) as refused:
            await wrong.call("PING")
        assert "wrong" not in str(refused.value)
        await wrong.close()
    finally:
        await counters.close()
        await check.aclose()


async def test_each_caller_is_bounded_by_its_own_timeout(redis_server):
    """The cache's --cache-timeout and the limits' --limits-timeout on one connection:
    a hung server fails each command at its caller's bound, not the client's."""
    client = RedisClient(redis_server.url, timeout=30)
    try:
        await client.call("PING")
        redis_server.pause()
        async with asyncio.timeout(10):  # the client's own 30 s would hang the test
            results = await asyncio.gather(
                client.call("GET", "cache", timeout=0.1),
                client.call("GET", "limits", timeout=0.3),
                return_exceptions=True,
            )
        assert [str(result) for result in results] == [
            "no answer from Redis within 0.1 s",
            "no answer from Redis within 0.3 s",
        ]
        assert all(isinstance(result, TimeoutError) for result in results)
        redis_server.resume()
        assert await client.call("PING", timeout=5) == b"PONG"  # the late replies were dropped in step
    finally:
        redis_server.resume()
        await client.close()


async def test_waiting_for_a_connection_is_bounded_by_the_callers_timeout(unused_tcp_port):
    """A server that accepts but never answers AUTH: the caller gives up at its own bound."""
    accepted = asyncio.Event()
    writers = []

    async def silent(reader, writer):
        writers.append(writer)
        accepted.set()
        await reader.read()  # never answers; returns when the client hangs up

    server = await asyncio.start_server(silent, "127.0.0.1", unused_tcp_port)
    client = RedisClient(f"redis://:pw@127.0.0.1:{unused_tcp_port}/0", timeout=30)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(TimeoutError):
                await client.call("GET", "k", timeout=0.1)
        assert accepted.is_set()
    finally:
        await client.close()
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()
