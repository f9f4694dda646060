"""API-key and virtual-key names as metric labels (--metrics-key-labels): only when
the operator turns them on, names and never key values or slugs, at most
--metrics-max-keys names per label before the rest count as ``other``.

A real scrape of /metrics through the gateway, with keys made through the admin API.
"""

from __future__ import annotations

import pytest

from gateway.settings import Settings
from tests.fakes.openai import MODEL
from tests.keys.admin_setup import ADMIN_KEY, settled, store_settings
from tests.keys.test_wiring import PROVIDER_KEY, post_chat
from tests.test_metrics import scrape, value

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
SLUG = "team-openai-7f3a"
VK_NAME = "Team OpenAI (prod)"


@pytest.fixture
def settings(tmp_path, request) -> Settings:
    return store_settings(tmp_path, **getattr(request, "param", {"metrics_key_labels": True, "metrics_max_keys": 2}))


async def keys_and_traffic(admin, view, client, fake_openai) -> list[str]:
    await admin.virtual_keys.create(name=VK_NAME, provider="openai", key=PROVIDER_KEY, slug=SLUG, custom_host=fake_openai.url)
    keys = []
    for name in ("svc-a", "svc-b", "svc-c"):
        created = await admin.api_keys.create(type="workspace", sub_type="service", name=name)
        keys.append(created.key)
    await settled(view)
    for key in keys:
        status, _ = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": SLUG}, CHAT)
        assert status == 200
    status, _ = await post_chat(client, {"x-portkey-api-key": "pk-unknown", "x-portkey-virtual-key": SLUG}, CHAT)
    assert status == 401
    return keys


async def test_requests_tokens_and_cost_by_key_names(admin, view, client, fake_openai):
    keys = await keys_and_traffic(admin, view, client, fake_openai)
    samples = await scrape(client)
    for name in ("svc-a", "svc-b"):
        labels = {"api_key": name, "virtual_key": VK_NAME}
        assert value(samples, "gateway_key_requests_total", **labels, status_class="2xx") == 1
        assert value(samples, "gateway_key_tokens_total", **labels, type="input") == 2  # "hello there"
        assert value(samples, "gateway_key_tokens_total", **labels, type="output") == 4  # "You said: hello there"
        assert value(samples, "gateway_key_cost_usd_total", **labels) == pytest.approx(2 * 0.15e-6 + 4 * 0.6e-6)
    # The third name is past --metrics-max-keys 2; a refused key has no name (and was
    # refused before its route was read).
    assert value(samples, "gateway_key_requests_total", api_key="other", virtual_key=VK_NAME, status_class="2xx") == 1
    assert value(samples, "gateway_key_requests_total", api_key="none", virtual_key="none", status_class="4xx") == 1
    text = await (await client.get("/metrics")).text()
    for secret in (*keys, PROVIDER_KEY, SLUG, ADMIN_KEY):
        assert secret not in text  # names only: no key value, no slug


@pytest.mark.parametrize("settings", [{}], indirect=True)
async def test_off_by_default_no_key_series(admin, view, client, fake_openai):
    await keys_and_traffic(admin, view, client, fake_openai)
    samples = await scrape(client)
    assert value(samples, "gateway_requests_total", route="/v1/chat/completions", provider="openai",
                 model=MODEL, status_class="2xx") == 3
    assert not [name for name, _ in samples if name.startswith("gateway_key_")]


def test_the_settings_from_flags_and_the_environment():
    from gateway.settings import parse_settings

    assert parse_settings([], {}).metrics_key_labels is False
    settings = parse_settings(["--metrics-key-labels", "on", "--metrics-max-keys", "5"], {})
    assert (settings.metrics_key_labels, settings.metrics_max_keys) == (True, 5)
    assert parse_settings([], {"GATEWAY_METRICS_KEY_LABELS": "on"}).metrics_key_labels is True
