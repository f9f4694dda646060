"""Neutral stream events: what an answer says, whatever protocol it came in or goes out in.

A provider's translator turns upstream events (SSE events, event-stream frames)
into these; an encoder per client protocol turns these into bytes
(:mod:`.openai_chunks`, :mod:`.anthropic_events`); :mod:`.chat_completion` builds a
whole answer from the same events. Frozen and slotted: one small object per delta.

``choice`` is the OpenAI choice an event belongs to (Gemini's candidates; 0
elsewhere). ``block`` is the upstream's content-block index, so that an encoder whose
protocol has blocks (Anthropic Messages) opens and closes them where the upstream did.
``call`` is the tool call's OpenAI index (0, 1, ... in order of arrival).

Finish reasons are OpenAI's (``stop``, ``length``, ``tool_calls``,
``content_filter``) plus ``stop_sequence``, which OpenAI calls ``stop`` and
Anthropic keeps apart; ``Finish.stop_sequence`` names the sequence matched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GatewayError
from ..usage import Usage


@dataclass(frozen=True, slots=True)
class MessageStart:
    """The answer (or one choice of it) begins; None means "the encoder's default"."""

    id: str | None = None
    model: str | None = None
    choice: int = 0


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    block: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Thinking text, and/or the signature that lets it be sent back (Anthropic, Converse)."""

    text: str = ""
    signature: str = ""
    block: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class RedactedReasoning:
    """Encrypted thinking, whole: only a protocol that can carry it back uses it."""

    data: str
    block: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    call: int
    id: str | None
    name: str | None
    block: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call's arguments (JSON text; the pieces joined are the object)."""

    call: int
    arguments: str
    block: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class BlockEnd:
    block: int
    choice: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str
    stop_sequence: str | None = None
    choice: int = 0


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True, slots=True)
class End:
    """The upstream ended the answer properly: nothing follows."""


@dataclass(frozen=True, slots=True)
class Error:
    """The upstream reported an error: the stream ends with it."""

    error: GatewayError


StreamEvent = (
    MessageStart | TextDelta | ReasoningDelta | RedactedReasoning | ToolCallStart | ToolCallDelta
    | BlockEnd | Finish | UsageReport | End | Error
)
