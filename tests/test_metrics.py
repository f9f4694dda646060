"""Metrics in one process: each family moves when its event happens, labels stay bounded.

Through the real HTTP surface (the OpenAI SDK or aiohttp's client against the gateway,
the fake OpenAI upstream); values are read from the scrape the gateway serves.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability import METRICS, OVERHEAD_HEADER
from gateway.observability.labels import BoundedLabels, RouteLabels, route_label
from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.fakes.openai import DROP, MODEL, Fail

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}


@pytest.fixture
def settings() -> Settings:
    return Settings(metrics_max_models=3)


async def scrape(client) -> dict[tuple, float]:
    """Every sample of GET /metrics, by (name, sorted labels)."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def config(*targets, **strategy) -> dict:
    return {"x-portkey-config": json.dumps({"strategy": strategy, "targets": list(targets)})} if strategy else {}


def target(fake, **fields) -> dict:
    return {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url, **fields}


async def test_a_chat_request_moves_requests_latencies_overhead_and_tokens(client, auth_headers):
    # The body is streamed upstream unread: the model is the one the answer names.
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 200
    samples = await scrape(client)
    route = {"route": "/v1/chat/completions", "provider": "openai"}
    assert value(samples, "gateway_requests_total", **route, model=MODEL, status_class="2xx") == 1
    assert value(samples, "gateway_request_duration_seconds_count", **route) == 1
    assert value(samples, "gateway_time_to_first_byte_seconds_count", **route) == 1
    assert value(samples, "gateway_overhead_seconds_count", route="/v1/chat/completions") == 1
    assert value(samples, "gateway_upstream_attempts_total", provider="openai", target="config", status_class="2xx") == 1
    body = await response.json()
    tokens = {"provider": "openai", "model": MODEL}
    assert value(samples, "gateway_tokens_total", **tokens, type="input") == body["usage"]["prompt_tokens"]
    assert value(samples, "gateway_tokens_total", **tokens, type="output") == body["usage"]["completion_tokens"]
    # gpt-4o-mini's shipped price (gateway/limits/pricing.json): $0.15 and $0.60 per million.
    expected = body["usage"]["prompt_tokens"] * 0.15e-6 + body["usage"]["completion_tokens"] * 0.6e-6
    assert value(samples, "gateway_cost_usd_total", **tokens) == pytest.approx(expected)
    # Nothing is in flight once it is answered (the scrape itself is one).
    assert value(samples, "gateway_requests_in_flight") == 1
    assert value(samples, "gateway_streams_in_flight") == 0


async def test_a_stream_counts_chunks_and_is_in_flight_while_it_streams(client, auth_headers, fake_openai):
    fake_openai.gate = asyncio.Event()
    stream = {**CHAT, "stream": True}
    response = await client.post("/v1/chat/completions", json=stream, headers=auth_headers)
    await response.content.readline()  # the first event is out; the fake waits on its gate
    samples = await scrape(client)
    assert value(samples, "gateway_streams_in_flight") == 1
    assert value(samples, "gateway_requests_in_flight") == 2  # the stream and the scrape
    fake_openai.gate.set()
    events = [line for line in (await response.read()).split(b"\n\n") if line.strip()]
    samples = await scrape(client)
    assert value(samples, "gateway_streams_in_flight") == 0
    # The first chunk went before the gate, the rest after it: two writes at least.
    assert events and value(samples, "gateway_stream_chunks_total", provider="openai") >= 2


async def test_retries_fallbacks_and_upstream_errors_by_kind(client, make_fake):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503), DROP]
    headers = config(target(first, retry={"attempts": 1}), target(second), mode="fallback")
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    samples = await scrape(client)
    first_path, second_path = "config.targets[0]", "config.targets[1]"
    assert value(samples, "gateway_upstream_attempts_total", provider="openai", target=first_path, status_class="5xx") == 2
    assert value(samples, "gateway_upstream_attempts_total", provider="openai", target=second_path, status_class="2xx") == 1
    assert value(samples, "gateway_upstream_retries_total", provider="openai", target=first_path) == 1
    assert value(samples, "gateway_fallbacks_total", provider="openai", target=first_path) == 1
    assert value(samples, "gateway_upstream_errors_total", provider="openai", kind="status") == 1
    assert value(samples, "gateway_upstream_errors_total", provider="openai", kind="connect") == 1  # dropped before answering


async def test_an_upstream_that_answers_400_is_an_upstream_error_by_status(client, auth_headers, fake_openai):
    fake_openai.script = [Fail(400, "Invalid value for 'temperature'", "invalid_request_error")]
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 400
    samples = await scrape(client)
    assert value(samples, "gateway_upstream_attempts_total", provider="openai", target="config", status_class="4xx") == 1
    assert value(samples, "gateway_upstream_errors_total", provider="openai", kind="status") == 1


async def test_cached_input_tokens_cost_the_cache_read_price(client, auth_headers):
    # The fake's Responses API reports one of the input tokens as cached (input_tokens includes it).
    body = {"model": "gpt-4.1-mini", "input": "one two three"}
    response = await client.post("/v1/responses", json=body, headers=auth_headers)
    assert response.status == 200
    usage = (await response.json())["usage"]
    cached = usage["input_tokens_details"]["cached_tokens"]
    assert cached == 1
    samples = await scrape(client)
    tokens = {"provider": "openai", "model": "gpt-4.1-mini"}
    assert value(samples, "gateway_tokens_total", **tokens, type="cache_read") == cached
    # gpt-4.1-mini's shipped price: $0.40 per million input, $0.10 cached input, $1.60 output.
    expected = (usage["input_tokens"] - cached) * 0.4e-6 + cached * 0.1e-6 + usage["output_tokens"] * 1.6e-6
    assert value(samples, "gateway_cost_usd_total", **tokens) == pytest.approx(expected)


async def test_an_unreachable_upstream_is_a_connect_error(client, unused_tcp_port):
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{unused_tcp_port}/v1",
               "Authorization": f"Bearer {TEST_KEY}"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 502
    samples = await scrape(client)
    assert value(samples, "gateway_upstream_errors_total", provider="openai", kind="connect") == 1
    # The body went upstream unread and no answer named a model.
    assert value(samples, "gateway_requests_total", route="/v1/chat/completions", provider="openai",
                 model="none", status_class="5xx") == 1


async def test_a_client_that_hangs_up_mid_stream_is_counted(gateway, client, auth_headers, fake_openai):
    fake_openai.gate = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        response = await session.post(gateway.make_url("/v1/chat/completions"), json={**CHAT, "stream": True},
                                      headers=auth_headers)
        await response.content.readline()
        response.close()  # hang up with the stream open
    await asyncio.wait_for(fake_openai.disconnected.wait(), 10)
    for _ in range(100):  # the handler's end runs just after the upstream is cancelled
        samples = await scrape(client)
        if value(samples, "gateway_client_disconnects_total", route="/v1/chat/completions", phase="after_first_byte"):
            break
        await asyncio.sleep(0.01)
    assert value(samples, "gateway_client_disconnects_total", route="/v1/chat/completions", phase="after_first_byte") == 1


@pytest.mark.parametrize("settings", [Settings(api_keys=frozenset({"gw-key-1"}))])
async def test_a_refused_gateway_key_is_a_rejection(client, auth_headers):
    response = await client.post("/v1/chat/completions", json=CHAT, headers={**auth_headers, "x-portkey-api-key": "no"})
    assert response.status == 401
    code = (await response.json())["error"]["code"]
    samples = await scrape(client)
    assert value(samples, "gateway_rejections_total", reason=code) == 1


async def test_model_labels_are_bounded_and_ids_never_become_labels(client, auth_headers, fake_openai):
    retried = config(target(fake_openai, retry={"attempts": 1}), mode="single")  # the body is read: its model counts
    for index in range(6):
        response = await client.post("/v1/chat/completions", json={**CHAT, "model": f"model-{index}"}, headers=retried)
        assert response.status == 200
    await client.get("/v1/files/file-abc123", headers=auth_headers)
    samples = await scrape(client)
    models = {dict(labels)["model"] for name, labels in samples if name == "gateway_requests_total"}
    assert models == {"model-0", "model-1", "model-2", "other", "none"}  # limit 3 (settings)
    assert value(samples, "gateway_requests_total", route="/v1/chat/completions", provider="openai",
                 model="other", status_class="2xx") == 3
    routes = {dict(labels)["route"] for name, labels in samples if name == "gateway_requests_total"}
    assert "/v1/files" in routes and not any("abc123" in route for route in routes)
    trace_ids = [labels for _, labels in samples if any(len(v) == 32 for _, v in labels)]
    assert trace_ids == []


async def test_every_answer_has_the_overhead_header(client, auth_headers):
    for path, kwargs in (("/health", {}), ("/v1/chat/completions", {"json": CHAT, "headers": auth_headers}),
                         ("/nowhere", {})):
        method = client.post if kwargs else client.get
        response = await method(path, **kwargs)
        assert float(response.headers[OVERHEAD_HEADER]) >= 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_overhead_leaves_out_the_time_spent_waiting_for_the_upstream(client, auth_headers, fake_openai,
                                                                               access_lines, stream):
    # A stream's header goes out from the relay (answer_starting), a whole answer's
    # from the context middleware: each must see the upstream's time reported by routing.
    fake_openai.hang = asyncio.Event()
    answer = asyncio.ensure_future(
        client.post("/v1/chat/completions", json={**CHAT, "stream": stream}, headers=auth_headers)
    )
    await fake_openai.request_seen.wait()
    # Hold the upstream for longer than a gateway's whole overhead could be (0.3 s).
    await asyncio.sleep(0.3)
    fake_openai.hang.set()
    response = await answer
    await response.read()
    line = [record for record in access_lines() if record.fields["path"] == "/v1/chat/completions"][-1]
    assert line.fields["duration_ms"] >= 300
    assert line.fields["overhead_ms"] == float(response.headers[OVERHEAD_HEADER])
    assert line.fields["overhead_ms"] < line.fields["duration_ms"] - 250



async def test_the_overhead_leaves_out_a_retrys_backoff(client, make_fake, access_lines):
    # The upstream asks for a 0.3 s wait (longer than a gateway's whole overhead could
    # be), really waited: it is routing's waiting, not the gateway's work.
    fake = await make_fake()
    fake.script = [Fail(429, type="requests", headers={"retry-after-ms": "300"})]
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url,
              "retry": {"attempts": 1, "use_retry_after_header": True}}
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"x-portkey-config": json.dumps(config)})
    assert response.status == 200 and response.headers["x-portkey-retry-attempt-count"] == "1"
    [line] = [record for record in access_lines() if record.fields["path"] == "/v1/chat/completions"]
    assert line.fields["duration_ms"] >= 300
    assert line.fields["overhead_ms"] < line.fields["duration_ms"] - 250

@pytest.mark.parametrize("settings", [Settings(metrics=False)])
async def test_metrics_off_means_no_route_and_no_families(client, auth_headers):
    assert (await client.get("/metrics")).status == 404
    assert not client.app[METRICS].enabled
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert OVERHEAD_HEADER in response.headers  # the header does not depend on metrics


def test_bounded_labels_normalise_and_cap():
    labels = BoundedLabels(2)
    assert labels(" GPT-4o ") == "gpt-4o"
    assert labels("@my-virtual-key/claude-3") == "claude-3"
    assert labels("gpt-4o") == "gpt-4o"
    assert labels("third") == "other"
    assert labels("bad model name!") == "other"
    assert labels(None) == "none"
    assert route_label("/v1/chat/completions") == "/v1/chat/completions"
    assert route_label("/v1/models/gpt-4o") == "/v1/models"
    assert route_label("/v1/whatever/else") == "/v1/other"
    assert route_label("/v1/messages") == "/v1/messages"
    assert route_label("/v1/messages/count_tokens") == "/v1/messages/count_tokens"  # not merged into /v1/messages
    assert route_label("/admin") == "unmatched"


def test_route_labels_remember_a_bounded_number_of_paths():
    routes = RouteLabels()
    for number in range(5000):  # ids in paths: clients can send any number of them
        assert routes(f"/v1/files/file-{number}") == "/v1/files"
    assert len(routes._cache) <= 1024


class _RotatingCredentials:
    """botocore-like refreshable credentials whose keys change when told to."""

    def __init__(self) -> None:
        self.token = "token-1"

    async def get_frozen_credentials(self):
        from botocore.credentials import ReadOnlyCredentials

        return ReadOnlyCredentials("AKIDEXAMPLE", "secret", self.token)


class _Session:
    def __init__(self, credentials) -> None:
        self.credentials = credentials

    async def get_credentials(self):
        return self.credentials


async def test_bedrock_credential_resolutions_and_refreshes_are_counted():
    from botocore.exceptions import NoCredentialsError

    from gateway.errors import GatewayError
    from gateway.observability.metrics import Metrics
    from gateway.providers.bedrock.credentials import AwsCredentialChain

    metrics = Metrics()
    credentials = _RotatingCredentials()
    chain = AwsCredentialChain(_Session(credentials), on_event=metrics.aws_credentials)
    await chain.current()
    await chain.current()  # the same keys: nothing new
    credentials.token = "token-2"  # aiobotocore renewed them
    await chain.current()

    async def broken():
        raise NoCredentialsError()

    credentials.get_frozen_credentials = broken
    with pytest.raises(GatewayError):
        await chain.current()
    metrics.flush()
    registry = metrics.registry
    for result, count in (("resolved", 1), ("refreshed", 1), ("failed", 1)):
        assert registry.get_sample_value("gateway_bedrock_credential_refreshes_total", {"result": result}) == count


def test_batched_histograms_equal_observing_each_value():
    """The batches written at a flush give the buckets, sum and count that
    Histogram.observe() of each value would have."""
    from prometheus_client import CollectorRegistry, Histogram

    from gateway.middlewares.state import RequestState
    from gateway.observability.metrics import DURATION_BUCKETS, Metrics

    metrics = Metrics()
    reference = Histogram("reference", "", buckets=DURATION_BUCKETS, registry=CollectorRegistry())
    durations = [0.0, 0.01, 0.0100001, 0.3, 2.5, 599.0, 601.0, 5000.0]
    for duration in durations:
        state = RequestState(trace_id="t", started=0.0)
        state.provider = "openai"
        metrics.request_started()
        metrics.request_finished("/v1/chat/completions", state, 200, duration, None)
        reference.observe(duration)
    metrics.flush()
    labels = {"route": "/v1/chat/completions", "provider": "openai"}
    for bound in (*DURATION_BUCKETS, float("inf")):
        le = "+Inf" if bound == float("inf") else str(float(bound))
        got = metrics.registry.get_sample_value("gateway_request_duration_seconds_bucket", {**labels, "le": le})
        assert got == reference.collect()[0].samples[list(DURATION_BUCKETS + (float("inf"),)).index(bound)].value
    assert metrics.registry.get_sample_value("gateway_request_duration_seconds_sum", labels) == sum(durations)
    assert metrics.registry.get_sample_value("gateway_request_duration_seconds_count", labels) == len(durations)


async def test_an_upstream_refusal_the_gateway_turns_into_its_own_error_is_no_rejection(client, aiohttp_server):
    """A 429 an upstream reports in its stream's first event becomes the gateway's own
    error before the first byte (a GatewayError), yet the gateway refused nothing."""
    from tests.fakes.anthropic import FakeAnthropic

    fake = FakeAnthropic(error_event_after=0, error_event_type="rate_limit_error")
    server = await aiohttp_server(fake.app())
    headers = {"x-portkey-provider": "anthropic", "x-portkey-custom-host": str(server.make_url("/v1")),
               "Authorization": "Bearer sk-ant-test-0123456789"}
    body = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 16, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status == 429, await response.text()
    samples = await scrape(client)
    assert value(samples, "gateway_upstream_attempts_total", provider="anthropic", target="config", status_class="4xx") == 1
    assert not [key for key in samples if key[0] == "gateway_rejections_total"]
