"""Vertex URLs: host per region (and ``global``), project, publisher by model name."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import Target
from gateway.errors import BadRequest
from gateway.providers.base import Call
from gateway.providers.vertex.provider import VertexAI


def prepare(model: str, **options: str):
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    call = Call("POST", "chat/completions", "", CIMultiDictProxy(CIMultiDict()), orjson.dumps(body), body)
    return VertexAI().prepare(call, Target("vertex-ai", options={"vertex_project_id": "my-project-1", **options}))


def test_regional_and_global_hosts():
    assert str(prepare("gemini-2.5-pro").url) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project-1/locations/us-central1"
        "/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    assert str(prepare("claude-opus-4@20250514", vertex_region="global").url) == (
        "https://aiplatform.googleapis.com/v1/projects/my-project-1/locations/global"
        "/publishers/anthropic/models/claude-opus-4@20250514:rawPredict"
    )


@pytest.mark.parametrize("region", ["us-central1.evil.com", "US", "europe-west4/x"])
def test_a_region_must_be_a_location(region):
    with pytest.raises(BadRequest) as caught:
        prepare("gemini-2.5-pro", vertex_region=region)
    assert caught.value.code == "invalid_vertex_region"


def test_a_project_must_be_a_project_id():
    with pytest.raises(BadRequest) as caught:
        prepare("gemini-2.5-pro", vertex_project_id="../other")
    assert caught.value.code == "invalid_vertex_project"
