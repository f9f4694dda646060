"""Rate limits and budgets on API keys and virtual keys.

Layers, each usable alone:

- :mod:`.model`: the Portkey ``rate_limits`` / ``usage_limits`` objects parsed into frozen
  dataclasses (errors name the field);
- :mod:`.windows`: fixed rate-limit windows and calendar budget periods, in UTC;
- :mod:`.pricing`: the shipped price table, operator overrides, ``cost()``;
- :mod:`.decision`: what a check answered, and the headers it implies;
- :mod:`.counters`: the async counter interface, with an embedded backend (SQLite, shared by
  the workers of one machine) and a Redis backend (shared by a fleet);
- :mod:`.responses`: a decision turned into a 429 / 412 error or the remaining-headers.
"""
