"""What targets inherit down the tree, and which request headers beat the config."""

from __future__ import annotations

import aiohttp.test_utils
import openai
import orjson
import pytest

from tests.conftest import TEST_KEY
from tests.fakes.openai import HANG, Fail
from tests.routing.conftest import chat, leaf
from tests.routing.test_fallback import fallback
from tests.routing.test_strategies import group


def nowhere() -> str:
    return f"http://127.0.0.1:{aiohttp.test_utils.unused_port()}/v1"


async def test_override_params_merge_down_the_tree_child_wins(make_fake, sdk_for):
    fake = await make_fake()
    config = {
        "override_params": {"model": "root-model", "temperature": 0.5, "user": "root"},
        **fallback(
            group(
                "single",
                leaf(fake, override_params={"model": "leaf-model"}),
                override_params={"temperature": 0.9, "top_p": 0.3},
            )
        ),
    }
    await chat(sdk_for(config), temperature=0.1, max_tokens=7)
    sent = orjson.loads(fake.last.body)
    assert sent["model"] == "leaf-model"
    assert (sent["temperature"], sent["top_p"], sent["user"]) == (0.9, 0.3, "root")
    assert sent["max_tokens"] == 7  # the client's own params stay unless overridden


async def test_retry_is_replaced_whole_by_the_childs(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [Fail(500)] * 5
    # The root retries only 503s, three times; the child's retry has the default statuses.
    config = {"retry": {"attempts": 3, "on_status_codes": [503]}, **group("single", leaf(fake, retry={"attempts": 1}))}
    with pytest.raises(openai.InternalServerError):
        await chat(sdk_for(config))
    assert len(fake.requests) == 2


async def test_retry_is_inherited_when_the_child_has_none(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [Fail(503)] * 5
    config = {"retry": {"attempts": 2}, **group("single", group("single", leaf(fake)))}
    with pytest.raises(openai.InternalServerError):
        await chat(sdk_for(config))
    assert len(fake.requests) == 3


async def test_timeouts_hosts_and_forwarded_headers_are_inherited(make_fake, sdk_for):
    slow, fast = await make_fake(), await make_fake()
    slow.script = [HANG]
    config = {
        "request_timeout": 100,
        "forward_headers": ["x-team"],
        **fallback(
            {"provider": "openai", "api_key": TEST_KEY, "custom_host": slow.url},
            group("single", {"provider": "openai", "api_key": TEST_KEY}, custom_host=fast.url),
        ),
    }
    headers, _ = await chat(sdk_for(config, **{"x-team": "search"}))
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1].targets[0]"
    assert fast.last.headers["x-team"] == "search"


async def test_a_child_sets_its_own_timeout(make_fake, sdk_for):
    slow = await make_fake()
    slow.script = [HANG]
    config = {"request_timeout": 600_000, **group("single", leaf(slow, request_timeout=100))}
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(config))
    assert caught.value.status_code == 408


async def test_custom_host_header_beats_the_config_at_every_target(make_fake, sdk_for):
    fake = await make_fake()
    config = fallback(leaf(fake, custom_host=nowhere()), group("single", leaf(fake), custom_host=nowhere()))
    headers, _ = await chat(sdk_for(config, **{"x-portkey-custom-host": fake.url}))
    assert headers["x-portkey-last-used-option-index"] == "config.targets[0]"


async def test_request_timeout_header_beats_the_config(make_fake, sdk_for):
    slow = await make_fake()
    slow.script = [HANG]
    config = group("single", leaf(slow, request_timeout=600_000))
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(config, **{"x-portkey-request-timeout": "100"}))
    assert caught.value.status_code == 408


async def test_forward_headers_header_beats_the_config(make_fake, sdk_for):
    fake = await make_fake()
    config = group("single", leaf(fake, forward_headers=["x-a"]))
    await chat(sdk_for(config, **{"x-a": "1", "x-b": "2", "x-portkey-forward-headers": "x-b"}))
    assert "x-a" not in fake.last.headers and fake.last.headers["x-b"] == "2"


async def test_provider_option_headers_fill_in_what_the_config_leaves_out(make_fake, sdk_for):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503)]
    config = fallback(leaf(first, openai_project="proj_config"), leaf(second))
    await chat(sdk_for(config, **{"x-portkey-openai-project": "proj_header"}))
    assert first.last.headers["OpenAI-Project"] == "proj_config"
    assert second.last.headers["OpenAI-Project"] == "proj_header"


async def test_the_clients_key_goes_only_to_its_own_provider(make_fake, sdk_for, access_lines):
    other, own = await make_fake(), await make_fake()
    config = fallback(
        {"provider": "groq", "custom_host": other.url},
        {"provider": "openai", "custom_host": own.url},
    )
    headers, _ = await chat(sdk_for(config, **{"x-portkey-provider": "openai"}))
    assert other.requests == []  # never sent the OpenAI key
    assert own.last.headers["Authorization"] == "Bearer " + TEST_KEY
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert access_lines()[0].fields["attempts"][0]["error"] == "missing_api_key"


async def test_a_target_without_provider_takes_the_headers(make_fake, sdk_for):
    fake = await make_fake()
    config = group("single", {"custom_host": fake.url})
    headers, _ = await chat(sdk_for(config, **{"x-portkey-provider": "openai"}))
    assert headers["x-portkey-provider"] == "openai"
    assert fake.last.headers["Authorization"] == "Bearer " + TEST_KEY


async def test_camel_case_configs_work_and_query_fields_stay_verbatim(make_fake, sdk_for):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(500), Fail(503)]
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.userTier": "gold"}, "then": "main"}],
            "default": "main",
        },
        "targets": [
            {
                "name": "main",
                "strategy": {"mode": "fallback", "onStatusCodes": [503]},
                "targets": [
                    {"provider": "openai", "apiKey": TEST_KEY, "customHost": first.url,
                     "retry": {"attempts": 1, "onStatusCodes": [500]}, "overrideParams": {"maxTokens": 3}},
                    {"provider": "openai", "apiKey": TEST_KEY, "customHost": second.url},
                ],
            }
        ],
    }
    headers, _ = await chat(sdk_for(config, **{"x-portkey-metadata": '{"userTier": "gold"}'}))
    assert headers["x-portkey-last-used-option-index"] == "config.targets[0].targets[1]"
    assert len(first.requests) == 2  # retried the 500, then fell back on the 503
    assert orjson.loads(first.last.body)["maxTokens"] == 3  # override_params are data: kept verbatim
