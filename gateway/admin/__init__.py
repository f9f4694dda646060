"""The admin API: virtual keys, API keys and configs, as the portkey-ai SDK calls them.

Every route needs the admin key (``--admin-key-file``) in ``x-portkey-api-key``
(compared in constant time); without an admin key configured the admin API answers
403. Each action writes one ``gateway.audit`` log line (who, what, which id — never a
secret). Routes are added before the ``/v1/{tail}`` proxy route, and the admin paths
skip the data plane's auth and config middlewares (:func:`.paths.is_admin_path`).
"""

from __future__ import annotations

from aiohttp import web

from ..store.runtime import store_context
from . import api_keys, configs, usage, virtual_keys
from .common import not_allowed, unknown_admin_route
from .paths import RESOURCES, is_admin_path


def add_admin_routes(app: web.Application) -> None:
    """The admin routes, and the store (opened at start) they and the data plane read."""
    app.cleanup_ctx.append(store_context)
    router = app.router
    routes = (
        ("/v1/virtual-keys", {"POST": virtual_keys.create, "GET": virtual_keys.list_all}),
        ("/v1/virtual-keys/{slug}", {"GET": virtual_keys.retrieve, "PUT": virtual_keys.update, "DELETE": virtual_keys.delete}),
        ("/v1/virtual-keys/{slug}/usage", {"GET": usage.virtual_key_usage}),
        ("/v1/api-keys", {"GET": api_keys.list_all}),
        ("/v1/api-keys/{id}/usage", {"GET": usage.api_key_usage}),  # before {type}/{sub_type}
        ("/v1/api-keys/{type}/{sub_type}", {"POST": api_keys.create}),
        ("/v1/api-keys/{id}", {"GET": api_keys.retrieve, "PUT": api_keys.update, "DELETE": api_keys.delete}),
        ("/v1/configs", {"POST": configs.create, "GET": configs.list_all}),
        ("/v1/configs/{ref}", {"GET": configs.retrieve, "PUT": configs.update, "DELETE": configs.delete}),
    )
    for path, methods in routes:
        resource = router.add_resource(path)
        for method, handler in methods.items():
            resource.add_route(method, handler)
        resource.add_route("*", not_allowed)
    # Anything else under the admin resources is the admin API's 404, never the proxy's.
    router.add_route("*", "/v1/{resource:" + "|".join(RESOURCES) + "}/{rest:.+}", unknown_admin_route)


__all__ = ["add_admin_routes", "is_admin_path"]
