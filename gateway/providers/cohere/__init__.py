"""Cohere (API v2): chat and embeddings, translated both ways (provider.py)."""

from .provider import Cohere

__all__ = ["Cohere"]
