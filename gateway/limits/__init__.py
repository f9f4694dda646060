"""Rate limits and budgets on API keys and virtual keys.

Layers, each usable alone:

- :mod:`.model`: the Portkey ``rate_limits`` / ``usage_limits`` objects parsed into frozen
  dataclasses (errors name the field);
- :mod:`.windows`: fixed rate-limit windows and calendar budget periods, in UTC;
- :mod:`.pricing`: the shipped price table, operator overrides, ``cost()``;
- :mod:`.decision`: what a check answered, and the headers it implies;
- :mod:`.counters`: the async counter interface (admit before the call; charges after it,
  queued and written in batches), with an embedded backend (SQLite, shared by the workers
  of one machine) and a Redis backend (shared by a fleet);
- :mod:`gateway.redis_client`: the Redis backend's client (the worker's one, shared
  with the response cache): one connection, every command of an event-loop turn in
  one write;
- :mod:`.responses`: a decision turned into a 429 / 412 error or the remaining-headers.

**The most a budget can overshoot**: token windows and budgets are checked before the
call and charged after it, so the requests in flight when one is crossed are all
charged: with at most C requests of at most T tokens between admission and charge, the
count ends at no more than ``limit - 1 + C × T`` (tested through the gateway in
``tests/keys/test_limits_overshoot.py``). Request limits never overshoot. A stream cut
short is charged an estimate of what it streamed (``gateway/streaming/cut_usage.py``).

Wiring (``gateway/middlewares/limits.py``), per worker and per request of a key with limits::

    counters = open_counters(settings, os.environ)    # in each worker's cleanup_ctx; close() at the end
    prices = load_price_table(settings.pricing_file)  # once, at start (PricingError -> exit 2)

    subjects = [Subject(f"api-key:{key.id}", key.limits), Subject(f"virtual-key:{vk.slug}", vk.limits)]
    decision = await counters.admit(subjects, priced=prices.price(provider, model) is not None)
    if not decision.allowed:
        raise limit_error(decision, model=model)       # 429 / 412 / 400 / 503
    response.headers.update(limit_headers(decision))
    ...                                                # at the end of the answer, cancelled streams too:
    cost = prices.cost_nano(provider, answered_model, usage)  # integer nano-USD (10^-9 USD), rounded up
    if cost is None:                                   # the answer named a model without a price
        cost = prices.cost_nano(provider, model, usage)
    counters.charge_nano_soon(subjects, usage, cost)  # queued; close() writes what is left
"""
