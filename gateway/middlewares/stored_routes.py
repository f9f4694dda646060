"""What the config middleware adds for stored objects: the key's default config, the
``@slug/model`` model string, scope checks, and the key's default metadata.

Kept apart from the route cache: everything here is per request (the client's key,
the body's model), and costs nothing for a request without a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ..config import CONFIG_HEADER, METADATA_HEADER, RouteSpec, parse_metadata
from ..config.stored import VIRTUAL_KEY_HEADER
from ..errors import BrokenBody
from ..request_keys import preset
from ..store.runtime import STORE_RUNTIME
from .keys import ClientKey, check_model, check_route, default_config

# Set when this middleware read the body: the handler must then take it whole
# (request.read() keeps it) instead of streaming what was already consumed.
BODY_READ = preset(web.RequestKey("body_read_for_keys", bool))  # None until the keys' checks read the body

RoutingHeaders = tuple[tuple[str, str], ...]


async def stored_routing_headers(
    request: web.Request, headers: RoutingHeaders, client: ClientKey | None
) -> RoutingHeaders:
    """The routing headers, with the key's default config or a model ``@slug/model``
    standing in when the request names no config, provider or virtual key."""
    names = {name for name, _ in headers}
    if names & {CONFIG_HEADER, "x-portkey-provider", VIRTUAL_KEY_HEADER}:
        return headers
    config_id = default_config(client)
    if config_id is not None:
        return (*headers, (CONFIG_HEADER, config_id))
    model = await body_model(request)
    if isinstance(model, str) and model.startswith("@") and "/" in model:
        slug, _, name = model[1:].partition("/")
        config = {"virtual_key": slug, "override_params": {"model": name}}
        return (*headers, (CONFIG_HEADER, orjson.dumps(config).decode()))
    return headers


async def body_model(request: web.Request) -> Any:
    """The JSON body's ``model`` (None without one); the body is kept for the handler."""
    if request.method != "POST" or not request.body_exists or request.content_type != "application/json":
        return None
    try:
        body = await request.read()  # bounded by the application's client_max_size
    except web.RequestPayloadError:
        raise BrokenBody() from None
    request[BODY_READ] = True
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # the handler answers the 400
    return parsed.get("model") if isinstance(parsed, dict) else None


async def check_scopes(request: web.Request, route: RouteSpec, client: ClientKey) -> None:
    """A 403 when the key's scopes refuse the route or the model it asks for."""
    scopes = client.scopes
    if scopes.unrestricted:
        return
    check_route(route, scopes)
    if scopes.models is None:
        return
    asked = await body_model(request)
    for leaf in route.leaves:
        model = leaf.target.override_params.get("model", asked)
        if model is not None:
            check_model(model, scopes)


# The request's metadata merged with its key's defaults (read by routing/attempt.py).
MERGED_METADATA = web.RequestKey("merged_metadata", dict)


def merge_default_metadata(request: web.Request, defaults: Mapping[str, Any]) -> None:
    """The key's default metadata under the request's own ``x-portkey-metadata``."""
    request[MERGED_METADATA] = {**defaults, **parse_metadata(request.headers.get(METADATA_HEADER))}


def request_metadata(request: web.Request) -> Mapping[str, Any]:
    """What ``metadata.*`` means for this request: its own, over its key's defaults."""
    merged = request.get(MERGED_METADATA)
    return merged if merged is not None else parse_metadata(request.headers.get(METADATA_HEADER))


def store_readiness(app: web.Application) -> dict[str, str]:
    """For ``/ready``: whether the store answers. Still ready when it does not: known
    keys keep working from memory, so taking the worker out would refuse them too."""
    runtime = app.get(STORE_RUNTIME)
    if runtime is None:
        return {}
    return {"store": "reachable" if runtime.view.reachable else "unreachable"}
