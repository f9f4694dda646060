from tests.conftest import TEST_KEY


async def test_plain_chat(sdk, fake_openai):
    completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}])
    assert completion.choices[0].message.content == "You said: Hello there"


async def test_stream_chat(sdk):
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}], stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "You said: Hello there"
    assert usage.completion_tokens == 4
