"""A fake Vertex AI and a fake Google OAuth token endpoint, as the references describe.

``FakeGoogleOAuth`` serves ``POST /token`` (the service-account key's ``token_uri``):
the JWT-bearer grant, form-encoded ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
and ``assertion=<JWT>``. Like Google it checks the assertion: RS256, the signature
against the public key registered for the key's ``kid`` (and ``iss``), ``aud`` =
Google's token endpoint, a ``scope``, and ``iat`` / ``exp`` at most an hour apart; a bad one is 400
``{"error": "invalid_grant", "error_description": ...}``. It answers
``{"access_token", "expires_in", "token_type": "Bearer"}`` and remembers what it issued.
Knobs: ``expires_in``; ``gate_from``: fetches from that number on (1-based) wait for
``gate``; ``fetched``: an Event set at each fetch; ``wait_fetches(n)``.

``FakeVertex`` serves
``POST /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}``
and checks ``Authorization: Bearer <token>`` against the tokens the OAuth fake issued
and did not expire (else 401 ``UNAUTHENTICATED``, in Google's error shape). Publisher
``google``: ``generateContent`` / ``streamGenerateContent`` answered by the fake Gemini
(same wire format as the Gemini API) and ``predict`` (text embeddings: one prediction per
instance, ``embeddings.values`` and ``statistics.token_count``). Publisher ``anthropic``:
``rawPredict`` / ``streamRawPredict`` take the Messages body without ``model`` and with
``anthropic_version: "vertex-2023-10-16"`` (400 otherwise; the stream method needs
``stream: true``), answered by the fake Anthropic. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from multidict import CIMultiDict

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.anthropic import error_response as anthropic_error
from tests.fakes.google import FakeGemini, error_response

# Google checks the audience against its own token endpoint, wherever the POST went.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@dataclass
class FakeGoogleOAuth:
    # kid → (client email, public key): the keys "Google" knows.
    keys: dict[str, tuple[str, rsa.RSAPublicKey]] = field(default_factory=dict)
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)  # token → (email, expiry)
    assertions: list[dict] = field(default_factory=list)
    expires_in: int = 3600
    gate_from: int | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    fetched: asyncio.Event = field(default_factory=asyncio.Event)
    fetches: int = 0
    _counted: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""  # the token URI, set by the fixture

    def register(self, kid: str, email: str, public_key: rsa.RSAPublicKey) -> None:
        self.keys[kid] = (email, public_key)

    async def wait_fetches(self, count: int) -> None:
        """Until ``count`` fetches have arrived (whether answered or gated)."""
        async with self._counted:
            await self._counted.wait_for(lambda: self.fetches >= count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        return app

    async def token(self, request: web.Request) -> web.Response:
        self.fetches += 1
        number = self.fetches
        self.fetched.set()
        async with self._counted:
            self._counted.notify_all()
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        claims = self.verify(str(form.get("assertion", "")))
        if isinstance(claims, web.Response):
            return claims
        self.assertions.append(claims)
        if self.gate_from is not None and number >= self.gate_from:
            await self.gate.wait()
        token = f"ya29.fake-{number}"
        self.issued[token] = (claims["iss"], time.time() + self.expires_in)
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    def verify(self, assertion: str) -> dict | web.Response:
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header, claims = orjson.loads(_b64decode(header_b64)), orjson.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except ValueError:
            return _oauth_error("invalid_grant", "Invalid JWT: malformed.")
        if header.get("alg") != "RS256":
            return _oauth_error("invalid_grant", "Invalid JWT: algorithm must be RS256.")
        known = self.keys.get(header.get("kid"))
        if known is None or known[0] != claims.get("iss"):
            return _oauth_error("invalid_grant", "Invalid grant: account not found")
        try:
            known[1].verify(signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return _oauth_error("invalid_grant", "Invalid JWT: aud must be Google's token endpoint.")
        if not isinstance(claims.get("scope"), str) or not claims["scope"]:
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not 0 < exp - iat <= 3600:
            return _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes).")
        return claims


def _oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


@dataclass
class Recorded:
    path: str
    query: str
    headers: CIMultiDict
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class FakeVertex:
    oauth: FakeGoogleOAuth
    gemini: FakeGemini = field(default_factory=FakeGemini)
    anthropic: FakeAnthropic = field(default_factory=FakeAnthropic)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""  # the host, set by the fixture

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model:[^:/]+}:{method}",
            self.handle,
        )
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.path, request.query_string, CIMultiDict(request.headers), body))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        issued = self.oauth.issued.get(token) if scheme == "Bearer" else None
        if issued is None or issued[1] < time.time():
            return error_response(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
            )
        publisher, model, method = (request.match_info[name] for name in ("publisher", "model", "method"))
        if publisher == "google":
            if method == "predict":
                return self.predict(body)
            return await self.gemini.answer(request, body, f"models/{model}", method)
        if publisher == "anthropic" and method in ("rawPredict", "streamRawPredict"):
            return await self.raw_predict(request, body, model, method)
        return error_response(
            404,
            "NOT_FOUND",
            f"Publisher Model `{publisher}/{model}` was not found or your project does not have access to it.",
        )

    async def raw_predict(self, request: web.Request, body: bytes, model: str, method: str) -> web.StreamResponse:
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return anthropic_error(400, "invalid_request_error", "request body is not valid JSON")
        if not isinstance(params, dict):
            return anthropic_error(400, "invalid_request_error", "request body must be an object")
        if "model" in params:
            return anthropic_error(400, "invalid_request_error", "model: Extra inputs are not permitted")
        if params.get("anthropic_version") != VERTEX_ANTHROPIC_VERSION:
            return anthropic_error(
                400, "invalid_request_error", "anthropic_version: Input should be 'vertex-2023-10-16'"
            )
        if (method == "streamRawPredict") != bool(params.get("stream")):
            return anthropic_error(
                400, "invalid_request_error", f"{method}: stream must be {method == 'streamRawPredict'}"
            )
        params = {key: value for key, value in params.items() if key != "anthropic_version"}
        return await self.anthropic.answer(request, {"model": model, **params})

    def predict(self, body: bytes) -> web.Response:
        params = orjson.loads(body)
        instances = params.get("instances")
        if (
            not isinstance(instances, list)
            or not instances
            or not all(isinstance(i, dict) and isinstance(i.get("content"), str) for i in instances)
        ):
            return error_response(400, "INVALID_ARGUMENT", "Invalid instances: each needs a string content.")
        size = (params.get("parameters") or {}).get("outputDimensionality", 4)
        predictions = [
            {
                "embeddings": {
                    "values": [round(0.1 * (n + 1) + len(i["content"]) / 100, 4) for n in range(size)],
                    "statistics": {"truncated": False, "token_count": len(i["content"].split())},
                }
            }
            for i in instances
        ]
        return web.json_response({"predictions": predictions, "metadata": {"billableCharacterCount": 10}})
