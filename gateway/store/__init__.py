"""Keys, virtual keys and stored configs: records, the store, and the in-memory view.

* :mod:`.records` — the frozen records, with Portkey's field names.
* :mod:`.base` — the one async :class:`Store` interface; :mod:`.sqlite` (default, a file
  in the state directory) and :mod:`.postgres` (a fleet) implement it, each with the
  versioned migrations of :mod:`.schema` applied at start.
* :mod:`.crypto` — provider credentials sealed with AES-GCM under the master key.
* :mod:`.apikeys` — client API keys: generated once, stored only as a SHA-256 hash.
* :mod:`.view` — the immutable snapshot a worker reads per request, kept fresh by
  :class:`LiveView` within :data:`REFRESH_BOUND_S` seconds of a change.
* :mod:`.location` — where the store lives (``--store``, ``--state-dir``).
* :mod:`.runtime` — the store as a gateway holds it (``app[STORE_RUNTIME]``).

How the request path uses it (no database round trip per request)::

    runtime = request.app.get(STORE_RUNTIME)        # None: this gateway has no store
    view = runtime.view.current                     # StoreView; read once per request
    key = view.api_key(presented)                   # x-portkey-api-key → ApiKey | None
    # key.status ("active" | "revoked"), key.expires_at, key.scopes, key.defaults
    vk = view.virtual_key(slug)                     # x-portkey-virtual-key → VirtualKey | None
    target.update(vk.target_fields())               # {"virtual_key": slug} → provider + credentials
    config = view.config("pc-...")                  # StoredConfig | None; .config is the JSON
    view.api_keys                                   # non-empty: gateway auth is required
    runtime.view.reachable                          # False: the store is down (/ready)
"""

from .apikeys import hash_api_key, new_api_key
from .base import Conflict, Store, StoreError
from .crypto import MasterKey, MasterKeyError
from .location import open_store, resolve_store_url
from .records import ApiKey, ProviderCredentials, StoredConfig, VirtualKey
from .view import REFRESH_BOUND_S, LiveView, StoreView

__all__ = [
    "REFRESH_BOUND_S",
    "ApiKey",
    "Conflict",
    "LiveView",
    "MasterKey",
    "MasterKeyError",
    "ProviderCredentials",
    "Store",
    "StoreError",
    "StoreView",
    "StoredConfig",
    "VirtualKey",
    "hash_api_key",
    "new_api_key",
    "open_store",
    "resolve_store_url",
]
