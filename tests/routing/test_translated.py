"""A translating provider whose stream reports an error in its first event.

Anthropic and Bedrock streams can answer 200 and then say ``overloaded`` / throttled in
their first event. Routing feeds the translator before committing, so such an answer is
retried (or falls back) invisibly, like a 429 or 5xx status.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import pytest

from gateway.errors import GatewayError
from gateway.middlewares import config as config_middleware
from gateway.providers import registry
from gateway.providers.openai_compatible import OpenAICompatible
from tests.fakes.openai import Fail
from tests.routing.conftest import chat, leaf


class _SSEChecker:
    """Relays OpenAI SSE bytes, raising on an error object as a translator would."""

    def feed(self, data: bytes) -> bytes:
        if data.lstrip().startswith(b'{"error"'):
            raise GatewayError("upstream overloaded", status=529, type="overloaded_error", code="overloaded")
        return data

    def close(self) -> bytes:
        return b""


class _Translator:
    def error(self, status, headers, body: bytes) -> bytes:
        return body

    def body(self, body: bytes) -> bytes:
        return body

    def stream_translator(self) -> _SSEChecker:
        return _SSEChecker()


@dataclass(frozen=True)
class TranslatingOpenAI(OpenAICompatible):
    def translator(self, call):
        return _Translator()


@pytest.fixture(autouse=True)
def translating_provider(monkeypatch):
    providers = MappingProxyType({**registry.PROVIDERS, "translating": TranslatingOpenAI("translating", None)})
    monkeypatch.setattr(registry, "PROVIDERS", providers)
    monkeypatch.setattr(config_middleware, "PROVIDERS", providers)


async def test_an_error_in_the_first_event_is_retried_invisibly(make_fake, sdk_for, access_lines):
    fake = await make_fake()
    fake.script = [Fail(200, "Overloaded", "overloaded_error")]
    config = leaf(fake, provider="translating", retry={"attempts": 1, "on_status_codes": [529]})
    headers, text = await chat(sdk_for(config), stream=True)
    assert text == "You said: Hello there"
    assert headers["x-portkey-retry-attempt-count"] == "1"
    attempts = access_lines()[0].fields["attempts"]
    assert [(a["status"], a.get("error")) for a in attempts] == [(529, "overloaded"), (200, None)]


async def test_an_error_in_the_first_event_falls_back(make_fake, sdk_for):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(200, "Overloaded", "overloaded_error")]
    config = {"strategy": {"mode": "fallback"}, "targets": [leaf(first, provider="translating"), leaf(second)]}
    headers, text = await chat(sdk_for(config), stream=True)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
