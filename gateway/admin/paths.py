"""Which paths belong to the admin API (they skip the data plane's auth and config)."""

from __future__ import annotations

RESOURCES = ("virtual-keys", "api-keys", "configs")
_PREFIXES = tuple(f"/v1/{resource}" for resource in RESOURCES)


def is_admin_path(path: str) -> bool:
    """``/v1/virtual-keys``, ``/v1/api-keys``, ``/v1/configs`` and anything below them."""
    if not path.startswith(_PREFIXES):  # the common case: one C-level check
        return False
    return path[4:].split("/", 1)[0] in RESOURCES
