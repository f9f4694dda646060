"""The middleware chain, in the order requests pass through it.

1. context — trace id, timing, the access-log line, and every error → OpenAI JSON;
             counts the worker's in-flight requests around the handler, for a bounded
             shutdown (drain.py), so a request the drain's deadline ends still gets
             its access line.
2. auth    — the gateway's own client keys (when set), then provider credentials.
3. config  — x-portkey-* headers and x-portkey-config → a validated RouteSpec.
4. limits  — the key's rate limits and budgets: admitted before the call (429/412),
             charged after the answer.

Auth comes before config so that a client without a gateway key learns nothing
about config validation. Only API routes (``/v1/...``) pass auth and config.
"""

from .auth import auth_middleware
from .config import config_middleware
from .context import context_middleware
from .limits import limits_middleware

MIDDLEWARES = (context_middleware, auth_middleware, config_middleware, limits_middleware)

__all__ = ["MIDDLEWARES"]
