"""Label values with a bounded number of distinct values.

Every label value of a metric is a time series kept by every worker and by
Prometheus, for ever; a label fed from what clients send (a model name, a path,
a config's target path) must therefore be bounded. No trace id, key or other
per-request value ever becomes a label.
"""

from __future__ import annotations

import re

OTHER = "other"
NONE = "none"

# API endpoints by the path after /v1/ (their first one or two segments); anything
# else on /v1/ is "other", so an id in a path (/v1/files/file-abc) never is a label.
API_ROUTES = frozenset(
    {
        "chat/completions",
        "completions",
        "embeddings",
        "messages",
        "messages/count_tokens",
        "responses",
        "models",
        "images/generations",
        "images/edits",
        "images/variations",
        "audio/speech",
        "audio/transcriptions",
        "audio/translations",
        "moderations",
        "rerank",
        "files",
        "batches",
        "uploads",
        "fine_tuning/jobs",
        "assistants",
        "threads",
        "vector_stores",
        "realtime",
    }
)
_NON_API = frozenset({"/", "/health", "/ready", "/metrics"})
_ROUTE_CACHE_LIMIT = 1024
# A routing target's path in its config: "config", "config.targets[1].targets[0]".
TARGET_PATH = re.compile(r"[a-z0-9_.\[\]]{1,100}")

# What a model name may look like to be a label of its own (after lowercasing).
_MODEL = re.compile(r"[a-z0-9][a-z0-9._:/+@-]{0,99}")


class RouteLabels:
    """``/v1/chat/completions``, ``/v1/files`` (for ``/v1/files/file-abc``),
    ``/health``...; ``/v1/other`` for other API paths; ``unmatched`` for 404s."""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        label = self._cache.get(path)
        if label is None:
            label = route_label(path)
            if len(self._cache) < _ROUTE_CACHE_LIMIT:  # paths may hold ids: bounded memory
                self._cache[path] = label
        return label


def route_label(path: str) -> str:
    if path in _NON_API:
        return path
    if not path.startswith("/v1/"):
        return "unmatched"
    segments = path[4:].split("/", 2)
    two = "/".join(segments[:2])
    if two in API_ROUTES:
        return "/v1/" + two
    if segments[0] in API_ROUTES:
        return "/v1/" + segments[0]
    return "/v1/other"


class BoundedLabels:
    """The first ``limit`` distinct values seen keep their own label; later ones are
    ``other``. Values that do not look like a name (``pattern``) are ``other`` too.

    Per process: with N workers a family has at most N x ``limit`` values, and in
    practice ``limit``, since the popular values are the first each worker sees.
    """

    def __init__(self, limit: int, pattern: re.Pattern[str] = _MODEL) -> None:
        self._limit = limit
        self._pattern = pattern
        self._known: dict[str, str] = {}  # raw value -> its label (admitted ones only)
        self._labels: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return NONE
        label = self._known.get(value)
        if label is not None:
            return label
        label = self._normalise(value)
        if label is OTHER:
            return OTHER  # not remembered: the dict stays bounded by the admitted values
        if label not in self._labels:
            if len(self._labels) >= self._limit:
                return OTHER
            self._labels.add(label)
        if len(self._known) < 8 * self._limit:  # spellings of admitted labels, bounded too
            self._known[value] = label
        return label

    def _normalise(self, value: str) -> str:
        label = value.strip().lower()
        if label.startswith("@"):
            # "@virtual-key/model": the virtual key's slug is not part of the model.
            label = label.partition("/")[2]
        return label if self._pattern.fullmatch(label) else OTHER


class NameLabels(BoundedLabels):
    """Names an operator gave (API keys, virtual keys), kept as written: any printable
    text up to 100 characters; the first ``limit`` distinct ones, then ``other``."""

    def _normalise(self, value: str) -> str:
        label = value.strip()
        return label if 0 < len(label) <= 100 and label.isprintable() else OTHER


def model_labels(limit: int) -> BoundedLabels:
    return BoundedLabels(limit)


def status_class(status: int) -> str:
    return _STATUS_CLASSES[status // 100] if 100 <= status < 600 else "other"


_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
