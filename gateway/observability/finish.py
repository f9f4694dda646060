"""Finish reasons read on the side of an answer, for trace spans only.

``"finish_reason": "stop"`` (OpenAI chunks and bodies, and every translated stream,
which is OpenAI chunks by then) and ``"stop_reason": "end_turn"`` (Anthropic's own
Messages API). Read from the bytes the client gets, without parsing them; a reason
split between two chunks is missed (events are written whole in practice).
"""

from __future__ import annotations

import re

_REASON = re.compile(rb'"(?:finish_reason|stop_reason)"\s*:\s*"([A-Za-z_]{1,40})"')


def finish_reasons(data: bytes) -> list[str]:
    if b"_reason" not in data:  # the common chunk: one substring search, no regex
        return []
    return [match.decode() for match in _REASON.findall(data)]


def watching(holder, produce):
    """``produce`` (a translator's ``feed(chunk)`` or ``close()``, both returning the
    bytes out), noting each finish reason in ``holder.finish_reasons`` (the relay's
    result, or the request's state for a whole answer)."""

    def watched(*args: bytes) -> bytes:
        out = produce(*args)
        if out:
            note(holder, out)
        return out

    return watched


def note(holder, data: bytes) -> None:
    for reason in finish_reasons(data):
        if reason not in holder.finish_reasons:
            holder.finish_reasons.append(reason)
