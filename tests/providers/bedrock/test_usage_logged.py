"""Bedrock answers' token usage reaches the access line (Converse counts cached input
apart; the line counts it inside input, as OpenAI does)."""

from __future__ import annotations

import pytest

from tests.providers.bedrock.samples import MODEL, SCRIPT

# SCRIPT calls the weather tool, which the fake refuses unless the request declares it.
WEATHER = {"name": "weather", "parameters": {"type": "object"}}
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": WEATHER}]}
MESSAGES = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 50,
    "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
}
# samples.USAGE: inputTokens 30 + cacheRead 8 + cacheWrite 2.
EXPECTED = {"input": 40, "output": 20, "cache_read": 8, "cache_write": 2, "reasoning": 0}


@pytest.mark.parametrize(("endpoint", "body"), [("chat/completions", CHAT), ("messages", MESSAGES)])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 7])
async def test_usage_of_translated_answers(
    client, fake_bedrock, bedrock_headers, access_lines, endpoint, body, stream, chunk_size
):
    fake_bedrock.script = SCRIPT
    fake_bedrock.chunk_size = chunk_size
    response = await client.post(f"/v1/{endpoint}", json={**body, "stream": stream}, headers=bedrock_headers)
    assert response.status == 200
    await response.read()
    [line] = access_lines()
    assert line.fields["usage"] == EXPECTED
    assert line.fields["model"] == MODEL
    assert line.fields["upstream_request_id"] == ("req-2" if stream else "req-1")
