"""OAuth access tokens for Vertex AI: cached per identity, refreshed ahead of expiry.

google-auth does the OAuth work (the JWT-bearer grant for a service account; whatever
Application Default Credentials hold otherwise). It is synchronous, so every fetch runs
in a worker thread (``asyncio.to_thread``) over urllib3 with a bounded timeout; the
event loop never blocks on it. Per identity (a service-account key, or ADC):

* the first call waits for the first token, and concurrent first calls share that one
  fetch;
* ``refresh_ahead_s`` before the token expires a timer fetches the next one in the
  background, while requests keep reading the current token — once a token exists, no
  request waits on Google;
* a failed background refresh is retried with backoff while the current token lasts;
  once it has expired the next request fetches (and sees the error);
* an identity not used since its last fetch is not refreshed again but forgotten, and
  at most ``MAX_IDENTITIES`` are kept (the least recently used goes first), so clients
  sending many keys cannot grow the gateway's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import google.auth
import urllib3
from google.auth import exceptions as auth_errors
from google.auth.transport.urllib3 import Request as Urllib3Request
from google.oauth2 import service_account as google_service_account

from ...errors import BadRequest, GatewayError
from .credentials import GOOGLE_TOKEN_URIS, HEADER, ServiceAccount

log = logging.getLogger("gateway.vertex")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_AHEAD_S = 300.0
# A token is not sent in its last seconds: the call it authorises must arrive in time.
EXPIRY_MARGIN_S = 30.0
# Never refresh more often than this, even for a token that arrives nearly spent (the
# GCE metadata server hands out its cached token with whatever life it has left).
MIN_REFRESH_INTERVAL_S = 60.0
RETRY_DELAYS_S = (1.0, 5.0, 15.0, 30.0, 60.0)
TOKEN_TIMEOUT_S = 10.0
MAX_IDENTITIES = 256
ADC = "adc"

# A fetch, run in a thread: (access token, seconds it lives).
Fetch = Callable[[], tuple[str, float]]


class TokenSource:
    """The token of one identity, and the timer that renews it."""

    def __init__(self, fetch: Fetch, tokens: VertexTokens, key: str) -> None:
        self._fetch_sync = fetch
        self._tokens = tokens
        self._key = key
        self._token: str | None = None
        self._valid_until = 0.0  # loop time
        self._expires_at = 0.0
        self._pending: asyncio.Task[str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._used_since_fetch = False
        self._failures = 0
        self._closed = False

    async def token(self) -> str:
        if self._token is None or asyncio.get_running_loop().time() >= self._valid_until:
            # Shielded: a caller that gives up (its client left) does not cancel the
            # fetch the others wait for.
            await asyncio.shield(self._start_fetch())
        self._used_since_fetch = True  # (after the wait: a use of the token it fetched)
        return self._token

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._pending is not None:
            self._pending.cancel()

    def _start_fetch(self) -> asyncio.Task[str]:
        if self._pending is None:
            self._pending = asyncio.create_task(self._fetch())
            self._pending.add_done_callback(self._fetched)
        return self._pending

    async def _fetch(self) -> str:
        token, lifetime = await asyncio.to_thread(self._fetch_sync)
        now = asyncio.get_running_loop().time()
        self._token = token
        self._expires_at = now + lifetime
        self._valid_until = self._expires_at - min(EXPIRY_MARGIN_S, lifetime / 10)
        self._used_since_fetch = False
        self._failures = 0
        tokens = self._tokens
        self._schedule(max(lifetime - tokens.refresh_ahead_s, tokens.min_refresh_interval_s))
        return token

    def _fetched(self, task: asyncio.Task[str]) -> None:
        self._pending = None
        if task.cancelled() or self._closed:
            return
        error = task.exception()  # retrieved here, whether or not a request awaited it
        if error is None:
            return
        log.warning("vertex-ai: token refresh failed: %s", _describe(error))
        remaining = self._valid_until - asyncio.get_running_loop().time()
        if self._token is not None and remaining > 0:
            delay = RETRY_DELAYS_S[min(self._failures, len(RETRY_DELAYS_S) - 1)]
            self._failures += 1
            self._schedule(min(delay, remaining))

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._closed:
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        if not self._used_since_fetch:
            self._tokens.forget(self._key)  # idle: no token is fetched that nobody uses
            return
        self._start_fetch()


class VertexTokens:
    """Every identity's token source; one per application (a cleanup context owns it).

    ``token_uris`` are the OAuth endpoints a service-account key may name (Google's);
    the other attributes tune the schedule (tests shorten it).
    """

    def __init__(self) -> None:
        self._sources: OrderedDict[str, TokenSource] = OrderedDict()
        self.token_uris = set(GOOGLE_TOKEN_URIS)
        self.refresh_ahead_s = REFRESH_AHEAD_S
        self.min_refresh_interval_s = MIN_REFRESH_INTERVAL_S
        # One connection pool for every fetch (urllib3's is thread-safe), no retries:
        # the schedule above retries.
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=TOKEN_TIMEOUT_S), retries=False)

    async def token(self, account: ServiceAccount | None) -> str:
        key = account.fingerprint if account is not None else ADC
        source = self._sources.get(key)
        if source is None:
            if account is not None and account.token_uri not in self.token_uris:
                raise BadRequest(
                    f"{HEADER}: token_uri must be Google's OAuth endpoint (https://oauth2.googleapis.com/token)",
                    code="invalid_vertex_credentials",
                    param=HEADER,
                )
            fetch = self._service_account_fetch(account.info) if account is not None else self._adc_fetch()
            source = self._sources[key] = TokenSource(fetch, self, key)
            while len(self._sources) > MAX_IDENTITIES:
                _, oldest = self._sources.popitem(last=False)
                oldest.close()
        else:
            self._sources.move_to_end(key)
        return await source.token()

    def forget(self, key: str) -> None:
        source = self._sources.pop(key, None)
        if source is not None:
            source.close()

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()
        self._http.clear()

    def __len__(self) -> int:
        return len(self._sources)

    def _service_account_fetch(self, info: Mapping[str, Any]) -> Fetch:
        info = dict(info)
        credentials = None

        def fetch() -> tuple[str, float]:
            nonlocal credentials
            try:
                if credentials is None:
                    credentials = google_service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
                credentials.refresh(Urllib3Request(self._http))
            except (ValueError, auth_errors.MalformedError) as exc:
                # A key google-auth cannot read (its message may quote it: not echoed).
                raise BadRequest(
                    f"{HEADER}: the private key could not be read ({type(exc).__name__})",
                    code="invalid_vertex_credentials",
                    param=HEADER,
                ) from None
            except auth_errors.GoogleAuthError as exc:
                raise token_error(exc) from None
            return credentials.token, _lifetime(credentials.expiry)

        return fetch

    def _adc_fetch(self) -> Fetch:
        credentials = None

        def fetch() -> tuple[str, float]:
            nonlocal credentials
            try:
                if credentials is None:
                    credentials, _ = google.auth.default(scopes=SCOPES)
                credentials.refresh(Urllib3Request(self._http))
            except auth_errors.DefaultCredentialsError:
                raise BadRequest(
                    f"no Google credentials for vertex-ai: send {HEADER} (or vertex_service_account_json "
                    "in x-portkey-config), or give the gateway Application Default Credentials",
                    code="missing_vertex_credentials",
                    param=HEADER,
                ) from None
            except auth_errors.GoogleAuthError as exc:
                raise token_error(exc) from None
            return credentials.token, _lifetime(credentials.expiry)

        return fetch


def token_error(exc: auth_errors.GoogleAuthError) -> GatewayError:
    """A failed token fetch → the client's error: refused (401) or unreachable (502)."""
    if isinstance(exc, auth_errors.RefreshError) and not getattr(exc, "retryable", False):
        return GatewayError(
            f"vertex-ai: Google refused the token request: {_oauth_error(exc)}",
            status=401,
            type="authentication_error",
            code="vertex_token_refused",
        )
    return GatewayError(
        f"vertex-ai: no access token from Google ({type(exc).__name__})",
        status=502,
        type="api_error",
        code="vertex_token_unavailable",
    )


def _oauth_error(exc: auth_errors.RefreshError) -> str:
    # google-auth puts the token endpoint's JSON answer beside its message: Google's
    # ``error`` and ``error_description`` (which never quote the key).
    for arg in exc.args[1:]:
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            description = arg.get("error_description")
            return arg["error"] + (f" ({description})" if isinstance(description, str) else "")
    return "the token endpoint said no"


def _describe(error: BaseException) -> str:
    return error.message if isinstance(error, GatewayError) else type(error).__name__


def _lifetime(expiry: datetime | None) -> float:
    if expiry is None:
        return 3600.0  # Google's access tokens live an hour
    now = datetime.now(UTC).replace(tzinfo=None)  # google-auth's expiry is naive UTC
    return max((expiry - now).total_seconds(), 0.0)
