"""OpenAI tool-call ids for Gemini's function calls, which have none of their own.

Gemini matches a ``functionResponse`` to its call by function name, so the id only
has to lead the gateway back to that name (through the conversation's assistant
turn). Gemini 3 models also sign their function calls (``thoughtSignature``) and
refuse a later turn that replays a call without its signature; OpenAI's tool call
has no field for it, so the signature rides in the id, which every client sends back
verbatim: ``call_<24 hex>`` or ``call_<24 hex>.sig.<signature>``.
"""

from __future__ import annotations

import uuid

_SEPARATOR = ".sig."


def new_call_id(signature: str | None = None) -> str:
    call_id = "call_" + uuid.uuid4().hex[:24]
    if signature:
        call_id += _SEPARATOR + signature
    return call_id


def signature_of(call_id: str) -> str | None:
    _, separator, signature = call_id.partition(_SEPARATOR)
    return signature if separator and signature else None
