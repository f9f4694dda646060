"""Relaying and translating response streams."""
