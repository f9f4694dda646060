"""Anthropic's Messages API: chat completions translated, native endpoints relayed."""

from .provider import Anthropic

__all__ = ["Anthropic"]
