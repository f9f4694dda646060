"""The official OpenAI SDK, pointed at the gateway, works as if it called OpenAI."""

from __future__ import annotations

import io

import orjson

from tests.conftest import TEST_KEY

HELLO = [{"role": "user", "content": "Hello"}]


async def test_chat_plain(sdk, fake_openai):
    completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert completion.choices[0].message.content == "You said: Hello"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    # The provider key went upstream exactly as the client sent it.
    assert fake_openai.last.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert fake_openai.last.path == "/v1/chat/completions"


async def test_chat_stream_with_usage(sdk):
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, usage, ids = "", None, set()
    async for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "You said: Hello"
    assert usage is not None and usage.completion_tokens == 3
    assert len(ids) == 1


async def test_legacy_completions(sdk):
    completion = await sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello")
    assert completion.choices[0].text == " world"


async def test_embeddings_base64_default(sdk, fake_openai):
    result = await sdk.embeddings.create(model="text-embedding-3-small", input=["abc", "hello"])
    assert [item.embedding for item in result.data] == [[3.0, 0.5, -0.25], [5.0, 0.5, -0.25]]
    assert orjson.loads(fake_openai.last.body)["encoding_format"] == "base64"


async def test_embeddings_float(sdk):
    result = await sdk.embeddings.create(model="text-embedding-3-small", input="abcd", encoding_format="float")
    assert result.data[0].embedding == [4.0, 0.5, -0.25]


async def test_images_generate(sdk):
    result = await sdk.images.generate(model="dall-e-3", prompt="a red fox")
    assert result.data[0].url == "https://images.example/1.png"
    assert result.data[0].revised_prompt == "a red fox"


async def test_audio_speech_binary_body(sdk):
    from tests.fakes.openai import speech_audio

    response = await sdk.audio.speech.create(model="tts-1", voice="alloy", input="hi there")
    assert response.response.headers["content-type"] == "audio/mpeg"
    assert response.content == b"".join(speech_audio("hi there"))


async def test_audio_transcription_multipart_upload(sdk, fake_openai):
    audio = io.BytesIO(b"\x00\x01" * 150_000)
    audio.name = "meeting.wav"
    result = await sdk.audio.transcriptions.create(model="whisper-1", file=audio)
    assert result.text == "meeting.wav:300000:whisper-1"
    assert fake_openai.last.headers["Content-Type"].startswith("multipart/form-data; boundary=")


async def test_models_list(sdk):
    models = [model.id async for model in sdk.models.list()]
    assert models == ["gpt-4o-mini", "text-embedding-3-small"]


async def test_any_other_v1_path_passes_through(client, fake_openai):
    response = await client.delete(
        "/v1/files/file-abc%2F1?limit=2",
        headers={"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url},
    )
    assert response.status == 200
    echoed = await response.json()
    assert echoed["method"] == "DELETE"
    assert echoed["raw_path"] == "/v1/files/file-abc%2F1?limit=2"  # encoding kept as sent
    assert response.headers["x-request-id"] == "req_echo"


async def test_upstream_error_passes_through_with_its_status(sdk, fake_openai):
    import openai
    import pytest

    fake_openai.error = (429, {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}})
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert caught.value.response.headers["x-ratelimit-limit-requests"] == "10000"
