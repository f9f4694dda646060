"""The shipped nginx example really passes a stream through unbuffered.

nginx runs the ``server`` block of ``systemd/nginx-gateway.conf`` as shipped, with only
TLS swapped for plain HTTP on a free loopback port and the upstream pointed at the
gateway under test. Skipped where nginx is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import socket
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.conftest import TEST_KEY

EXAMPLE = Path(__file__).resolve().parent.parent / "systemd" / "nginx-gateway.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)



@pytest.fixture(autouse=True)
def _nginx_installed():
    """Skipped without nginx, except under CI=true, where .ci/run installs it."""
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI=true (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed (.ci/run installs it)")


def site_config(gateway_port: int, listen_port: int) -> str:
    site = EXAMPLE.read_text()
    site = site.replace("server 127.0.0.1:8787;", f"server 127.0.0.1:{gateway_port};")
    site = re.sub(r"\n\s*listen 443[^;]*;", f"\n    listen 127.0.0.1:{listen_port};", site)
    site = re.sub(r"\n\s*ssl_certificate[^;]*;", "", site)
    assert "proxy_buffering off;" in site and f"listen 127.0.0.1:{listen_port};" in site
    return site


@pytest.fixture
async def nginx(tmp_path, gateway):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach tmp_path
    temp_paths = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "site.conf").write_text(site_config(gateway.port, port))
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\naccess_log off;\n{temp_paths}include {tmp_path}/site.conf;\n}}\n"
    )
    process = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf"),
        "-g", "daemon off;", stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(200):  # readiness probe, up to ~10 s
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            if process.returncode is not None:
                pytest.fail(f"nginx did not start: {(await process.stderr.read()).decode()}")
            await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    await process.wait()


async def test_stream_through_nginx_arrives_chunk_by_chunk(nginx, fake_openai):
    fake_openai.gate = asyncio.Event()  # the rest of the stream waits until we saw the first word
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    body = {"model": "m", "messages": [{"role": "user", "content": "through nginx"}], "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{nginx}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status == 200
            assert response.headers["x-portkey-provider"] == "openai"
            first = await response.content.readuntil(b"\n\n")
            second = await response.content.readuntil(b"\n\n")
            assert b'"role":"assistant"' in first and b'"content":"You"' in second
            assert not fake_openai.gate.is_set()  # nginx passed them on before the upstream went on
            fake_openai.gate.set()
            rest = await response.read()
    assert rest.endswith(b"data: [DONE]\n\n")


async def test_large_upload_streams_through_nginx(nginx, fake_openai):
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    audio = aiohttp.FormData()
    audio.add_field("model", "whisper-1")
    audio.add_field("file", io.BytesIO(b"\x01" * 3_000_000), filename="long.wav", content_type="audio/wav")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{nginx}/v1/audio/transcriptions", data=audio, headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["text"] == "long.wav:3000000:whisper-1"


async def test_a_large_config_header_passes_nginx(nginx, fake_openai):
    """A 60 KB x-portkey-config (many targets, long override_params) is a legitimate request."""
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url, "override_params": {"user": "u" * 60_000}}
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    body = {"model": "m", "messages": [{"role": "user", "content": "big config"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{nginx}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
    assert len(orjson.loads(fake_openai.last.body)["user"]) == 60_000


async def test_one_client_past_its_burst_gets_a_json_429(nginx):
    # The example allows 20 requests a second and bursts of 50: back-to-back requests
    # outrun the refill well before 200 (each would need to take 50 ms for none to).
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.get(f"{nginx}/health") as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert response.headers["Retry-After"] == "1"
                    body = await response.json()
                    break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert body["error"]["code"] == "rate_limited" and body["error"]["type"] == "rate_limit_error"
    assert body["status"] == "failure"
