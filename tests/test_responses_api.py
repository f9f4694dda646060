"""OpenAI's Responses API: relayed untouched to openai and azure-openai (streams too),
usage read for the access line; a clear 400 from every other provider (OpenAI-compatible
or translating), before any call."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import TEST_KEY, openai_sdk


async def test_a_response_is_relayed_with_its_usage_read(sdk, fake_openai, access_lines):
    answer = await sdk.responses.create(model="gpt-4.1-mini", input="Hello there")
    assert answer.output_text == "You said: Hello there"
    assert fake_openai.last.path == "/v1/responses"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (2, 4)
    [line] = access_lines()
    assert line.fields["usage"] == {"input": 2, "output": 4, "cache_read": 1, "cache_write": 0, "reasoning": 2}


async def test_a_streamed_response_keeps_its_event_types(sdk, fake_openai):
    stream = await sdk.responses.create(model="gpt-4.1-mini", input="Hello there", stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "You said: Hello there"
    assert events[-1].response.usage.total_tokens == 6


async def test_azure_serves_it_from_the_resource_with_a_preview_api_version(gateway, fake_openai):
    headers = {
        "x-portkey-provider": "azure-openai",
        "x-portkey-custom-host": fake_openai.url,
        "x-portkey-azure-deployment-id": "unused-here",
    }
    client = openai_sdk(gateway, TEST_KEY, headers)
    try:
        answer = await client.responses.create(model="my-gpt-deployment", input="Hi")
    finally:
        await client.close()
    assert answer.output_text == "You said: Hi"
    assert fake_openai.last.path == "/v1/responses"
    assert fake_openai.last.query == "api-version=2025-04-01-preview"
    assert fake_openai.last.headers["api-key"] == TEST_KEY


@pytest.mark.parametrize("provider", ["groq", "mistral-ai", "ollama", "anthropic", "google", "bedrock", "vertex-ai", "cohere"])
async def test_other_providers_refuse_it_with_a_400(gateway, fake_openai, provider):
    headers = {"x-portkey-provider": provider, "x-portkey-custom-host": fake_openai.url}
    client = openai_sdk(gateway, TEST_KEY, headers)
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(model="some-model", input="Hi")
    finally:
        await client.close()
    assert caught.value.body["code"] == "unsupported_endpoint"
    assert repr(provider) in caught.value.body["message"]
    assert fake_openai.requests == []
