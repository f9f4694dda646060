"""A Gemini stream's token usage reaches the access line (it used to be missing)."""

from __future__ import annotations

from tests.providers.google.conftest import GEMINI_KEY


async def test_usage_of_a_translated_stream(client, fake_gemini, gemini_headers, access_lines):
    fake_gemini.usage = {"thoughtsTokenCount": 3, "cachedContentTokenCount": 2}
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hello there"}], "stream": True}
    headers = {**gemini_headers, "Authorization": f"Bearer {GEMINI_KEY}"}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status == 200
    assert (await response.read()).endswith(b"data: [DONE]\n\n")
    [line] = access_lines()
    usage = line.fields["usage"]
    assert usage["reasoning"] == 3 and usage["cache_read"] == 2
    assert usage["output"] == 4 + 3 and usage["input"] > 0  # "You said: hello there" + thoughts
