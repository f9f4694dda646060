"""Semantic mode of the response cache (``"cache": {"mode": "semantic"}``).

* :mod:`.prompt` — what is embedded (the last user message's text) and the rest;
* :mod:`.bucket` — which cached answers a request may be compared with;
* :mod:`.embeddings_target` / :mod:`.embedder` — the operator's embeddings target,
  called through the gateway's providers; a failure is a miss;
* :mod:`.vectors` — unit float32 vectors and their Redis encoding;
* :mod:`.memory_index` / :mod:`.redis_index` — where vectors live;
* :mod:`.lookup` — the ``"semantic"`` :class:`~gateway.cache.lookup.CacheLookup`;
* :mod:`.runtime` — the app's, built from the settings.

numpy is needed (the ``semantic`` extra); nothing imports this package unless the
operator sets ``--semantic-cache-embeddings``.
"""
