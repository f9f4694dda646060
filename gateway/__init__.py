"""An OpenAI-compatible AI gateway that speaks the Portkey header API."""

__version__ = "0.1.0"
