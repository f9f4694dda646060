"""Google's Gemini API: chat completions and embeddings, translated both ways."""

from .provider import Google

__all__ = ["Google"]
