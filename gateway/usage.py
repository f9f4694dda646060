"""Token usage of one answer, in one typed shape whatever the provider's dialect.

Providers count tokens in three dialects:

* OpenAI (and every OpenAI-compatible provider): ``prompt_tokens`` counts every input
  token, cached ones included; ``prompt_tokens_details.cached_tokens`` and
  ``completion_tokens_details.reasoning_tokens`` are parts of the totals. The Responses
  API says ``input_tokens`` / ``output_tokens`` with ``*_details`` and a
  ``total_tokens``, with the same meaning.
* Anthropic: ``input_tokens`` leaves out ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``, which are counted beside it.
* Bedrock Converse: ``inputTokens`` leaves out ``cacheReadInputTokens`` and
  ``cacheWriteInputTokens``.
* Gemini (``usageMetadata``): ``promptTokenCount`` includes ``cachedContentTokenCount``;
  ``thoughtsTokenCount`` is counted beside ``candidatesTokenCount``.
* Cohere v2: ``billed_units`` (what Cohere charges) and ``tokens`` (raw counts), each
  with ``input_tokens`` / ``output_tokens``.

:class:`Usage` always means what OpenAI means: ``input`` is every input token,
``cache_read`` and ``cache_write`` are the parts of it read from or written to a
prompt cache, ``output`` is every output token and ``reasoning`` the part of it spent
thinking. A count the provider did not report is 0. ``estimated``: the counts are the
gateway's estimate of a stream cut short before its usage (``streaming/cut_usage.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple


class Usage(NamedTuple):
    """A value (immutable, compared by its counts); a named tuple rather than a frozen
    dataclass: built for every answer, in a third of the time."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    estimated: bool = False

    @property
    def total(self) -> int:
        return self.input + self.output

    def fields(self) -> dict[str, int]:
        """For a log line: the counts, under short names (``estimated`` only when true)."""
        fields = {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "reasoning": self.reasoning,
        }
        if self.estimated:
            fields["estimated"] = True
        return fields

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any]) -> Usage:
        """Chat Completions (``prompt_tokens``) or Responses (``input_tokens`` + ``total_tokens``)."""
        if type(usage) is dict and _OPENAI_PLAIN.isdisjoint(usage):  # no details: the usual small answer
            return cls(_count(usage, "prompt_tokens"), _count(usage, "completion_tokens"))
        prompt = _details(usage, "prompt_tokens_details") or _details(usage, "input_tokens_details")
        completion = _details(usage, "completion_tokens_details") or _details(usage, "output_tokens_details")
        return cls(
            input=_count(usage, "prompt_tokens") or _count(usage, "input_tokens"),
            output=_count(usage, "completion_tokens") or _count(usage, "output_tokens"),
            cache_read=_count(prompt, "cached_tokens"),
            # Not OpenAI's own: the gateway's translated answers, and some compatible
            # providers, report prompt-cache writes under one of these names.
            cache_write=_count(prompt, "cache_write_tokens") or _count(usage, "cache_creation_input_tokens"),
            reasoning=_count(completion, "reasoning_tokens"),
        )

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any]) -> Usage:
        cache_read = _count(usage, "cache_read_input_tokens")
        cache_write = _count(usage, "cache_creation_input_tokens")
        return cls(
            input=_count(usage, "input_tokens") + cache_read + cache_write,
            output=_count(usage, "output_tokens"),
            cache_read=cache_read,
            cache_write=cache_write,
        )

    @classmethod
    def from_converse(cls, usage: Mapping[str, Any]) -> Usage:
        cache_read = _count(usage, "cacheReadInputTokens")
        cache_write = _count(usage, "cacheWriteInputTokens")
        return cls(
            input=_count(usage, "inputTokens") + cache_read + cache_write,
            output=_count(usage, "outputTokens"),
            cache_read=cache_read,
            cache_write=cache_write,
        )

    @classmethod
    def from_gemini(cls, usage: Mapping[str, Any]) -> Usage:
        """Gemini ``usageMetadata``: ``promptTokenCount`` includes the cached part;
        thinking (``thoughtsTokenCount``) is counted apart from ``candidatesTokenCount``."""
        thoughts = _count(usage, "thoughtsTokenCount")
        return cls(
            input=_count(usage, "promptTokenCount") + _count(usage, "toolUsePromptTokenCount"),
            output=_count(usage, "candidatesTokenCount") + thoughts,
            cache_read=_count(usage, "cachedContentTokenCount"),
            reasoning=thoughts,
        )

    @classmethod
    def from_cohere(cls, usage: Mapping[str, Any]) -> Usage:
        """Cohere v2: the billed units (what Cohere charges), else the raw token counts."""
        counts = _details(usage, "billed_units")
        if not any(isinstance(counts.get(k), int | float) for k in ("input_tokens", "output_tokens")):
            counts = _details(usage, "tokens")
        return cls(input=_whole(counts, "input_tokens"), output=_whole(counts, "output_tokens"))

    @classmethod
    def from_any(cls, usage: Mapping[str, Any]) -> Usage | None:
        """A usage object of unknown dialect (one read from relayed bytes); None if it
        is none of the five."""
        if "prompt_tokens" in usage or "completion_tokens" in usage:
            return cls.from_openai(usage)
        if "inputTokens" in usage or "outputTokens" in usage:
            return cls.from_converse(usage)
        if "input_tokens" in usage or "output_tokens" in usage:
            # Anthropic reports no total; OpenAI's Responses API always does.
            if "total_tokens" in usage or "input_tokens_details" in usage:
                return cls.from_openai(usage)
            return cls.from_anthropic(usage)
        if "promptTokenCount" in usage or "candidatesTokenCount" in usage or "totalTokenCount" in usage:
            return cls.from_gemini(usage)
        if "billed_units" in usage or "tokens" in usage:
            return cls.from_cohere(usage)
        return None


# Keys whose presence needs from_openai's whole reading (else two counts are all).
_OPENAI_PLAIN = frozenset(
    (
        "prompt_tokens_details",
        "input_tokens_details",
        "completion_tokens_details",
        "output_tokens_details",
        "cache_creation_input_tokens",
        "input_tokens",
        "output_tokens",
    )
)


def _count(usage: Mapping[str, Any], name: str) -> int:
    value = usage.get(name)
    # bool is an int, and a provider's bug is no reason to log True tokens.
    return value if type(value) is int and value > 0 else 0


def _whole(counts: Mapping[str, Any], name: str) -> int:
    """A count Cohere may write as a float (``5.0``)."""
    value = counts.get(name)
    if type(value) is float and value > 0:
        return int(value)
    return _count(counts, name)


_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


def _details(usage: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = usage.get(name)
    # Parsed JSON holds dicts, and most answers none of these keys: neither pays for
    # an isinstance check against the Mapping ABC (about 0.3 us each, four an answer).
    if type(value) is dict:
        return value
    return value if value is not None and isinstance(value, Mapping) else _NO_DETAILS
