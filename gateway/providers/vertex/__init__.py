"""Vertex AI: Gemini and Claude on Google Cloud (provider.py), with OAuth tokens (tokens.py)."""

from .provider import VertexAI

__all__ = ["VertexAI"]
