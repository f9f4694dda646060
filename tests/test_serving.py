"""Requests aiohttp's parser rejects: JSON errors, the right status, no input echoed or logged.

Raw bytes go to a socket of the gateway: in-process (the C parser, llhttp, as in
production) and through ``python -m gateway`` with both parsers (``AIOHTTP_NO_EXTENSIONS=1``
selects the pure-Python one).
"""

from __future__ import annotations

import asyncio
import logging
import signal

import orjson
import pytest
from aiohttp import http_parser

from gateway.log import JsonFormatter
from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.test_cli import start_gateway

SECRET = "sk-leak-0123456789abcdefSECRET"
LIMIT = 64 * 1024  # the default --max-header-size


def raw(*headers: bytes, line: bytes = b"GET /v1/models HTTP/1.1", body: bytes = b"") -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in (b"Host: gateway", *headers)) + b"\r\n" + body


KEY = SECRET.encode()
PADDING = b"A" * (LIMIT + 100)
CHAT = b"POST /v1/chat/completions HTTP/1.1"
CASES = [
    pytest.param(raw(b"Authorization: Bearer " + KEY + PADDING), 431, "header_too_large", id="long-authorization"),
    pytest.param(raw(b'x-portkey-config: {"api_key": "' + KEY + b'", "x": "' + PADDING + b'"}'), 431, "header_too_large", id="long-config"),
    pytest.param(raw(b"X-" + KEY + PADDING + b": 1"), 431, "header_too_large", id="long-header-name"),
    pytest.param(raw(line=b"GET /v1/models?key=" + KEY + PADDING + b" HTTP/1.1"), 431, "header_too_large", id="long-request-line"),
    pytest.param(raw(*(b"X-H%d: %s" % (i, KEY) for i in range(200))), 431, "too_many_headers", id="too-many-headers"),
    pytest.param(raw(b"Content-Length: -1", line=CHAT), 400, "malformed_request", id="negative-content-length"),
    pytest.param(raw(b"Content-Length: 5", b"Transfer-Encoding: chunked", line=CHAT, body=b"0\r\n\r\n"), 400, "malformed_request", id="content-length-and-chunked"),
    pytest.param(raw(b"Transfer-Encoding: chunked", b"Authorization: Bearer " + KEY, line=CHAT, body=b"ZZ" + KEY + b"\r\n\r\n"), 400, "malformed_request", id="bad-chunk-size"),
    pytest.param(raw(b"X-A: a\x00" + KEY), 400, "malformed_request", id="nul-in-header"),
    pytest.param(raw(line=b"G@T /v1/models HTTP/1.1"), 400, "invalid_request_line", id="invalid-method-token"),
    pytest.param(raw(line=b"GARBAGE " + KEY), 400, "invalid_request_line", id="malformed-request-line"),
    pytest.param(raw(line=b"GET /v1/models HTTP/9." + KEY), 400, "invalid_request_line", id="bad-http-version"),
]
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40  # ends with no CRLF


class _Collect(asyncio.Protocol):
    """Everything the server sends until it closes (kept even if it resets the connection)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.get_running_loop().create_future()
        self.interim = asyncio.Event()  # set on a "100 Continue"

    def data_received(self, data: bytes) -> None:
        self.data += data
        if b" 100 Continue\r\n\r\n" in self.data:
            self.interim.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        """The final answer's status, headers and body, once the gateway has closed."""
        await asyncio.wait_for(self.closed, timeout=10)
        head, _, body = _final(self.data)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
        return int(status_line.split()[1]), headers, body


def _final(data: bytearray) -> tuple[bytes, bytes, bytes]:
    data = bytes(data)
    if data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
        data = data[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
    return data.partition(b"\r\n\r\n")


async def connect(port: int) -> tuple[asyncio.Transport, _Collect]:
    return await asyncio.get_running_loop().create_connection(_Collect, "127.0.0.1", port)


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the answer is complete when the gateway closes, as it does after these errors."""
    transport, collect = await connect(port)
    transport.write(request)
    try:
        return await collect.answer()
    finally:
        transport.close()


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status
    assert headers["content-type"] == "application/json"
    error = orjson.loads(body)
    assert error["status"] == "failure" and error["message"] == error["error"]["message"]
    assert error["error"]["code"] == code and error["error"]["type"] == "invalid_request_error"
    assert SECRET.encode() not in body and b"AAAA" not in body


def test_the_c_parser_runs_in_process():
    """The in-process tests below exercise llhttp, the parser production uses."""
    assert http_parser.HttpRequestParser is http_parser.HttpRequestParserC


@pytest.mark.parametrize("request_bytes, expected_status, code", CASES)
async def test_parser_errors_are_json_and_echo_nothing(gateway, caplog, request_bytes, expected_status, code):
    caplog.set_level(logging.DEBUG)
    status, headers, body = await exchange(gateway.port, request_bytes)
    assert_json_error(status, headers, body, expected_status, code)
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert not any(SECRET in line or "AAAA" in line for line in logged)
    lines = [orjson.loads(line) for line in logged if '"malformed request"' in line]
    assert len(lines) == 1
    assert lines[0]["error"] == code and lines[0]["status"] == expected_status and lines[0]["client"] == "127.0.0.1"


async def test_tls_on_the_plain_port_gets_a_json_400(gateway):
    status, headers, body = await exchange(gateway.port, TLS_HELLO)
    assert_json_error(status, headers, body, 400, "invalid_request_line")


async def test_a_large_config_under_the_limit_is_served(gateway, fake_openai):
    """Configs with many targets or long override_params are legitimate: 60 KB passes."""
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url, "override_params": {"user": "u" * 60_000}}
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    request = raw(
        b"x-portkey-config: " + orjson.dumps(config),
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Connection: close",
        line=CHAT,
        body=body,
    )
    status, _, answer = await exchange(gateway.port, request)
    assert status == 200, answer
    assert len(orjson.loads(fake_openai.last.body)["user"]) == 60_000


async def test_a_request_line_longer_than_aiohttps_default_but_under_the_limit_is_served(gateway):
    """The limit applies to the request line too (aiohttp's own default is 8190 bytes)."""
    line = b"GET /health?" + b"q" * 20_000 + b" HTTP/1.1"
    status, _, answer = await exchange(gateway.port, raw(b"Connection: close", line=line))
    assert status == 200, answer


@pytest.mark.parametrize("body_handling", ["streamed", "read-whole"])
async def test_a_chunk_broken_mid_body_is_answered_at_once(gateway, fake_openai, caplog, body_handling):
    """Framing that breaks after the headers were handed on: a JSON 400 now, not a hang.

    (llhttp used to leave the body unfinished, so the gateway waited with a half-sent
    body upstream until the client gave up.)
    """
    if body_handling == "streamed":
        route = [b"Authorization: Bearer " + KEY, b"x-portkey-provider: openai", b"x-portkey-custom-host: " + fake_openai.url.encode()]
    else:
        route = read_whole_route(fake_openai.url)
    status, headers, body = await break_chunks_mid_body(gateway.port, route)
    assert_json_error(status, headers, body, 400, "malformed_request")
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert not any(SECRET in line for line in logged)
    # The client's fault, answered and logged as a malformed request: no error line for the operator.
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


def read_whole_route(upstream_url: str) -> list[bytes]:
    """A config whose override_params make the gateway read the body whole."""
    config = {"provider": "openai", "api_key": SECRET, "custom_host": upstream_url, "override_params": {"user": "u"}}
    return [b"x-portkey-config: " + orjson.dumps(config)]


async def break_chunks_mid_body(port: int, route: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    """Send a chunked request whose framing breaks once the gateway reads its body."""
    head = raw(*route, b"Content-Type: application/json", b"Transfer-Encoding: chunked", b"Expect: 100-continue", line=CHAT)
    transport, collect = await connect(port)
    try:
        transport.write(head)
        await collect.interim.wait()  # the gateway has handed the request on and reads its body
        transport.write(b"2\r\n{}\r\nZZ" + KEY + b"\r\n\r\n")
        return await collect.answer()
    finally:
        transport.close()


@pytest.mark.parametrize("settings", [Settings(max_header_size=16 * 1024)])
async def test_the_header_limit_is_a_setting(gateway, settings):
    status, headers, body = await exchange(gateway.port, raw(b"x-portkey-config: " + b"A" * 20_000))
    assert_json_error(status, headers, body, 431, "header_too_large")
    assert b"limit of 16384 bytes" in body


@pytest.mark.parametrize("extensions", ["llhttp", "pure-python"])
async def test_the_real_gateway_logs_no_secret_with_either_parser(unused_tcp_port, monkeypatch, extensions):
    if extensions == "pure-python":
        monkeypatch.setenv("AIOHTTP_NO_EXTENSIONS", "1")
    else:
        monkeypatch.delenv("AIOHTTP_NO_EXTENSIONS", raising=False)
    process = await start_gateway(unused_tcp_port)
    try:
        for case in CASES:
            request_bytes, expected_status, code = case.values
            status, headers, body = await exchange(unused_tcp_port, request_bytes)
            assert_json_error(status, headers, body, expected_status, code)
        # The body's framing breaking later (no upstream is called: the body is read first).
        status, headers, body = await break_chunks_mid_body(unused_tcp_port, read_whole_route("http://127.0.0.1:9/v1"))
        assert_json_error(status, headers, body, 400, "malformed_request")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    log = stderr.decode()
    assert SECRET not in log and "AAAA" not in log
    lines = [orjson.loads(line) for line in log.splitlines()]
    errors = [(line["status"], line["error"]) for line in lines if line["msg"] == "malformed request"]
    assert errors == [case.values[1:] for case in CASES]
    assert all(line["client"] == "127.0.0.1" for line in lines if line["msg"] == "malformed request")
