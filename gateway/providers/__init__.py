"""Providers: declarations of how to call each upstream. No I/O happens here."""
