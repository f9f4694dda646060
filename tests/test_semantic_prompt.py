"""What a semantic lookup embeds, and what the rest of the request must match."""

from __future__ import annotations

import pytest

from gateway.cache.semantic.bucket import bucket_id
from gateway.cache.semantic.prompt import MAX_TEXT_CHARS, semantic_query

pytestmark = pytest.mark.unit

CHAT = "chat/completions"


def chat(*messages, **params):
    return {"model": "gpt-4o-mini", "messages": list(messages), **params}


def user(content, **fields):
    return {"role": "user", "content": content, **fields}


SYSTEM = {"role": "system", "content": "You are terse."}


def test_the_last_user_message_is_embedded_and_left_out_of_the_rest():
    body = chat(SYSTEM, user("first question"), {"role": "assistant", "content": "answer"}, user("What is 2+2?"))
    query = semantic_query(CHAT, body)
    assert query.text == "What is 2+2?"
    assert query.rest["messages"][:3] == body["messages"][:3]
    assert query.rest["messages"][3] == {"role": "user", "content": None}
    assert body["messages"][3]["content"] == "What is 2+2?"  # the caller's body is untouched


def test_messages_after_the_last_user_message_stay_in_the_rest():
    tool_turn = {"role": "tool", "tool_call_id": "c1", "content": "42"}
    query = semantic_query(CHAT, chat(user("add them"), tool_turn))
    assert query.text == "add them"
    assert query.rest["messages"][1] == tool_turn


def test_text_parts_are_joined_with_a_newline():
    parts = [{"type": "text", "text": "Translate:"}, {"type": "text", "text": "bonjour"}]
    assert semantic_query(CHAT, chat(user(parts))).text == "Translate:\nbonjour"


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}],
        [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}],
        [{"type": "text", "text": "what is this?"}, {"type": "document", "text": "a file's text"}],
        [],
        "",
        "   ",
        None,
        "x" * (MAX_TEXT_CHARS + 1),
    ],
    ids=["image", "audio", "other-type-with-text", "no-parts", "empty", "blank", "none", "too-long"],
)
def test_requests_whose_meaning_is_not_text_are_not_semantically_cacheable(content):
    assert semantic_query(CHAT, chat(user(content))) is None


@pytest.mark.parametrize(
    "body",
    [None, [], {"model": "m"}, {"messages": "hi"}, chat(SYSTEM), chat({"role": "assistant", "content": "hi"})],
    ids=["none", "list", "no-messages", "messages-not-list", "no-user", "assistant-only"],
)
def test_bodies_without_a_user_message_are_not_semantically_cacheable(body):
    assert semantic_query(CHAT, body) is None


def test_legacy_completions_embed_a_prompt_string_only():
    query = semantic_query("completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "max_tokens": 5})
    assert (query.text, query.rest) == ("Say hi", {"model": "gpt-3.5-turbo-instruct", "prompt": None, "max_tokens": 5})
    assert semantic_query("completions", {"model": "m", "prompt": ["a", "b"]}) is None


def test_anthropic_messages_embed_the_last_user_text_blocks():
    body = {"model": "claude-test-1", "max_tokens": 100, "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Capital"}, {"type": "text", "text": "of France?"}]}]}
    query = semantic_query("messages", body)
    assert query.text == "Capital\nof France?"
    assert query.rest["system"] == "Be brief." and query.rest["messages"] == [{"role": "user", "content": None}]
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    assert semantic_query("messages", {**body, "messages": [{"role": "user", "content": [image]}]}) is None
    tool_result = {"type": "tool_result", "tool_use_id": "t1", "content": "42"}
    assert semantic_query("messages", {**body, "messages": [{"role": "user", "content": [tool_result]}]}) is None


@pytest.mark.parametrize("endpoint", ["embeddings", "responses", "images/generations", "messages/count_tokens"])
def test_other_endpoints_are_not_semantically_cacheable(endpoint):
    assert semantic_query(endpoint, chat(user("hi"))) is None


def bucket(body, scope=("chat/completions", "openai", "caller-1")):
    return bucket_id(scope, semantic_query(CHAT, body).rest)


def test_requests_that_differ_only_in_the_last_user_text_share_a_bucket():
    assert bucket(chat(SYSTEM, user("What is the capital of France?"))) == bucket(
        chat(SYSTEM, user("Which city is France's capital?"))
    )


def test_the_order_of_keys_does_not_change_the_bucket():
    one = {"model": "m", "temperature": 0.2, "messages": [user("hi")], "response_format": {"type": "json_object", "x": 1}}
    two = {"response_format": {"x": 1, "type": "json_object"}, "messages": [{"content": "hey", "role": "user"}],
           "temperature": 0.2, "model": "m"}
    assert bucket(one) == bucket(two)


@pytest.mark.parametrize(
    "other",
    [
        chat(SYSTEM, user("q"), model="gpt-4o"),
        chat(SYSTEM, user("q"), temperature=0.9),
        chat({"role": "system", "content": "You are verbose."}, user("q")),
        chat(user("q")),
        chat(SYSTEM, user("q", name="alice")),
    ],
    ids=["model", "parameter", "system-prompt", "no-system-prompt", "user-name"],
)
def test_anything_else_that_differs_makes_another_bucket(other):
    assert bucket(chat(SYSTEM, user("q"))) != bucket(other)


@pytest.mark.parametrize(
    "scope",
    [("chat/completions", "openai", "caller-2"), ("chat/completions", "groq", "caller-1"), ("completions", "openai", "caller-1")],
    ids=["caller", "provider", "route"],
)
def test_another_scope_makes_another_bucket(scope):
    body = chat(SYSTEM, user("q"))
    assert bucket(body) != bucket(body, scope)


def test_a_text_of_exactly_the_longest_length_is_embedded():
    text = "x" * MAX_TEXT_CHARS
    assert semantic_query(CHAT, chat(user(text))).text == text
