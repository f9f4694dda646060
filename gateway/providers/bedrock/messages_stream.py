"""ConverseStream event frames → Anthropic Messages named SSE events: the Converse
translator shared with chat (:class:`.converse_stream.ConverseEvents`) composed with
the Anthropic Messages encoder (:mod:`gateway.translate.anthropic_events`)."""

from __future__ import annotations

from .converse_stream import ConverseMessagesStream

__all__ = ["ConverseMessagesStream"]
