"""The usage of a stream cut short before its usage event (the client left, the
upstream broke off): the gateway's estimate of what was streamed, flagged
``Usage.estimated``. The relay puts it in its result, so the limits charge it and
the access line and metrics report the same counts.

- A translated stream (Anthropic, Bedrock, Gemini, Cohere, ...):
  :meth:`.TranslatedStream.partial_usage`: the provider's own counts where it sent
  them before the end (Anthropic's and Gemini's input tokens), the output counted
  from the text deltas produced, and the input estimated from the request (characters
  ÷ 4, :func:`.usage_filter.estimate_input_tokens`) when the provider had not said.
- A passthrough stream: the usage filter's count (one token per text delta, the same
  input estimate), which only a request whose key has token limits carries.

Nothing is estimated for a stream that sent nothing (the request alone is charged).
The request's input estimate comes with the usage filter, which only a key with token
limits gets: for other requests (never charged) a cut translated stream whose provider
had not reported its input logs an input of 0, its output estimated all the same.
"""

from __future__ import annotations

from ..usage import Usage
from .usage_filter import UsageChunkFilter


def translated_cut_usage(stream, usage_filter: UsageChunkFilter | None) -> Usage | None:
    """``stream``'s partial usage (None when it cannot tell: not a TranslatedStream)."""
    partial = getattr(stream, "partial_usage", None)
    if partial is None:
        return None
    return partial(usage_filter.input_estimate if usage_filter is not None else 0)


def passthrough_cut_usage(usage_filter: UsageChunkFilter | None) -> Usage | None:
    return usage_filter.estimated_usage() if usage_filter is not None else None
