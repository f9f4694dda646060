"""The Grafana dashboard for the gateway's metrics, and a picture of it from real scrapes.

    .venv/bin/python scripts/dashboard.py json   # writes docs/grafana-dashboard.json
    .venv/bin/python scripts/dashboard.py render [--seconds 60]  # writes docs/grafana-dashboard.png

Both come from one list of panels (``PANELS``), so the picture shows what the JSON
asks Grafana for. ``render`` starts a real gateway (``--workers 2``) with the fake
upstreams, Redis, keys with limits and the AWS credentials endpoint of
``tests/metrics_rig.py``, sends one request of every case and then a mix that swells
and ebbs (plain and streamed chats, the Responses API, cache hits and refreshes,
retries and fallbacks from 5xx, unreachable and hanging targets, silent and cut
streams, clients that hang up, rate limits and budgets, refused keys, Bedrock with
the gateway's own renewing AWS identity), scrapes ``/metrics`` every ``--interval``
seconds, and evaluates each panel's query from the scraped samples the way
Prometheus would (``rate`` between consecutive scrapes, ``sum by``, label matchers,
``histogram_quantile`` by linear interpolation within a bucket; ``$api_key`` as
"All"), then draws the panels at their grid positions with matplotlib. Grafana
itself cannot be installed where this was made (no Debian, PyPI or npm package, and
no network beyond those registries), so the picture is not a Grafana screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the traffic comes from tests/metrics_rig.py
DOCS = REPO / "docs"
RATE_WINDOW = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    """One series group: ``rate`` of a counter, a gauge, a histogram quantile, or a
    ratio of two rates of one counter (``ratio``: the rate matching ``match`` over
    the rate of every series)."""

    metric: str
    kind: str = "rate"  # rate | gauge | quantile | ratio
    by: tuple[str, ...] = ()
    quantile: float = 0.0
    scale: float = 1.0  # e.g. 1000 for ms, 3600 for per hour
    legend: str = ""
    # Label matchers: (label, operator, value), operator one of = != =~ !~; a value
    # may name a dashboard variable ($api_key).
    match: tuple[tuple[str, str, str], ...] = ()

    def selector(self, metric: str | None = None, matchers=None) -> str:
        matchers = self.match if matchers is None else matchers
        labels = ",".join(f'{label}{op}"{value}"' for label, op, value in matchers)
        return (metric or self.metric) + ("{" + labels + "}" if labels else "")

    def promql(self) -> str:
        by = f" by ({', '.join(self.by)})" if self.by else ""
        if self.kind == "gauge":
            expr = f"sum{by} ({self.selector()})"
        elif self.kind == "rate":
            expr = f"sum{by} (rate({self.selector()}[{RATE_WINDOW}]))"
        elif self.kind == "ratio":
            everything = [m for m in self.match if m[2].startswith("$")]  # variables filter both sides
            expr = (f"sum{by} (rate({self.selector()}[{RATE_WINDOW}])) / "
                    f"sum{by} (rate({self.selector(matchers=everything)}[{RATE_WINDOW}]))")
        else:
            le_by = ", ".join(("le", *self.by))
            expr = (
                f"histogram_quantile({self.quantile}, sum by ({le_by}) "
                f"(rate({self.selector(self.metric + '_bucket')}[{RATE_WINDOW}])))"
            )
        return f"{expr} * {self.scale:g}" if self.scale != 1 else expr


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""


@dataclass(frozen=True)
class Row:
    """A row header: the panels after it, up to the next row, are its section."""

    title: str


def _quantiles(metric: str, scale: float = 1.0) -> tuple[Query, ...]:
    return tuple(Query(metric, "quantile", quantile=q, scale=scale, legend=f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99))


# The limits' refusals (gateway/limits/responses.py); every other rejection is auth.
LIMIT_REASONS = "rate_limit_exceeded|budget_exhausted|model_price_unknown|limits_unavailable"
CACHE_HITS = "HIT|SEMANTIC HIT"
API_KEY = ("api_key", "=~", "$api_key")

PANELS = (
    Row("Traffic and latency"),
    Panel("Requests by status class", "reqps", (Query("gateway_requests_total", by=("status_class",), legend="{{status_class}}"),)),
    Panel("Requests by provider and model", "reqps",
          (Query("gateway_requests_total", by=("provider", "model"), legend="{{provider}} {{model}}"),)),
    Panel("Request duration", "s", _quantiles("gateway_request_duration_seconds")),
    Panel("Time to first byte", "s", _quantiles("gateway_time_to_first_byte_seconds")),
    Panel("Gateway overhead (not waiting for upstreams)", "ms", _quantiles("gateway_overhead_seconds", 1000),
          "Request time until the answer's headers, minus time awaiting the upstream and retry backoffs"),
    Panel("In flight", "short", (Query("gateway_requests_in_flight", "gauge", legend="requests"),
                                 Query("gateway_streams_in_flight", "gauge", legend="streams"))),
    Row("Upstreams"),
    Panel("Upstream attempts by target and status", "reqps",
          (Query("gateway_upstream_attempts_total", by=("target", "status_class"), legend="{{target}} {{status_class}}"),)),
    Panel("Retries and fallbacks", "reqps", (Query("gateway_upstream_retries_total", legend="retries"),
                                             Query("gateway_fallbacks_total", legend="fallbacks"))),
    Panel("Upstream errors by kind", "reqps", (Query("gateway_upstream_errors_total", by=("kind",), legend="{{kind}}"),),
          "connect, timeout (no first byte in time), idle (silent mid-stream), protocol (broken stream), status"),
    Panel("Bedrock credential refreshes", "short",
          (Query("gateway_bedrock_credential_refreshes_total", by=("result",), legend="{{result}}"),)),
    Row("Tokens, cost and streams"),
    Panel("Tokens by type", "short", (Query("gateway_tokens_total", by=("type",), legend="{{type}}"),),
          "Tokens per second; input includes cache_read and cache_write, output includes reasoning"),
    Panel("Cost per hour by model", "currencyUSD",
          (Query("gateway_cost_usd_total", by=("model",), scale=3600, legend="{{model}}"),)),
    Panel("Streamed chunks", "short", (Query("gateway_stream_chunks_total", by=("provider",), legend="{{provider}}"),)),
    Panel("Client disconnects", "reqps", (Query("gateway_client_disconnects_total", by=("phase",), legend="{{phase}}"),)),
    Row("Limits, budgets and auth"),
    Panel("Rate-limit and budget refusals", "reqps",
          (Query("gateway_rejections_total", by=("reason",), legend="{{reason}}",
                 match=(("reason", "=~", LIMIT_REASONS),)),),
          "429 rate_limit_exceeded, 412 budget_exhausted, 400 model_price_unknown, 503 limits_unavailable"),
    Panel("Auth refusals", "reqps",
          (Query("gateway_rejections_total", by=("reason",), legend="{{reason}}",
                 match=(("reason", "!~", LIMIT_REASONS),)),),
          "401 and 403 answers by error code: unknown, revoked or expired keys, refused scopes"),
    Row("Response cache"),
    Panel("Cache hit ratio", "percentunit",
          (Query("gateway_cache_requests_total", "ratio", legend="hits", match=(("status", "=~", CACHE_HITS),)),),
          "Hits over lookups, of the requests a cache config applied to"),
    Panel("Cache lookups by status", "reqps",
          (Query("gateway_cache_requests_total", by=("status",), legend="{{status}}"),)),
    Row("Per API key (--metrics-key-labels on; empty when off)"),
    Panel("Requests by API key", "reqps",
          (Query("gateway_key_requests_total", by=("api_key", "status_class"), legend="{{api_key}} {{status_class}}",
                 match=(API_KEY,)),)),
    Panel("Requests by virtual key", "reqps",
          (Query("gateway_key_requests_total", by=("virtual_key",), legend="{{virtual_key}}", match=(API_KEY,)),)),
    Panel("Tokens by API key", "short",
          (Query("gateway_key_tokens_total", by=("api_key", "type"), legend="{{api_key}} {{type}}", match=(API_KEY,)),)),
    Panel("Cost per hour by API key", "currencyUSD",
          (Query("gateway_key_cost_usd_total", by=("api_key",), scale=3600, legend="{{api_key}}", match=(API_KEY,)),)),
)


# -- Grafana JSON -------------------------------------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_HEIGHT, PANEL_WIDTH, GRID_WIDTH = 8, 12, 24


def layout() -> list[tuple[Row | Panel, dict]]:
    """Each item with its gridPos: rows full width, panels two by two under them."""
    placed, y, x = [], 0, 0
    for item in PANELS:
        if isinstance(item, Row):
            if x:
                y, x = y + PANEL_HEIGHT, 0
            placed.append((item, {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}))
            y += 1
            continue
        placed.append((item, {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y}))
        x += PANEL_WIDTH
        if x >= GRID_WIDTH:
            y, x = y + PANEL_HEIGHT, 0
    return placed


def _variables() -> list[dict]:
    return [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "options": [], "regex": "", "skipUrlSync": False},
        {
            "name": "api_key", "label": "API key", "type": "query", "datasource": DATASOURCE,
            "definition": "label_values(gateway_key_requests_total, api_key)",
            "query": {"query": "label_values(gateway_key_requests_total, api_key)", "refId": "api_key", "qryType": 1},
            "description": "API-key names, exported with --metrics-key-labels on (none when off)",
            "includeAll": True, "allValue": ".*", "multi": True, "current": {}, "options": [], "hide": 0,
            "refresh": 2, "regex": "", "sort": 1, "skipUrlSync": False,
        },
    ]


def grafana_json() -> dict:
    panels = []
    for index, (item, grid) in enumerate(layout()):
        if isinstance(item, Row):
            panels.append({"id": index + 1, "type": "row", "title": item.title, "collapsed": False, "panels": [],
                           "gridPos": grid})
            continue
        panels.append({
            "id": index + 1,
            "type": "timeseries",
            "title": item.title,
            "description": item.description,
            "datasource": DATASOURCE,
            "gridPos": grid,
            "fieldConfig": {"defaults": {"unit": item.unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": [
                {"refId": chr(65 + n), "expr": query.promql(), "legendFormat": query.legend, "datasource": DATASOURCE}
                for n, query in enumerate(item.queries)
            ],
        })
    return {
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
                       {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}],
        "title": "AI gateway",
        "uid": "ai-gateway",
        "tags": ["ai-gateway", "llm"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "panels": panels,
    }


# -- evaluating the panels from scrapes ------------------------------------------------


def parse(text: str) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# What a dashboard variable stands for when the picture is drawn: every value.
VARIABLES = {"$api_key": ".*"}


def evaluate(query: Query, scrapes: list[tuple[float, dict]]) -> dict[str, list[tuple[float, float]]]:
    """Series by legend: (seconds since the first scrape, value)."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    start = scrapes[0][0]
    pairs = zip(scrapes, scrapes[1:], strict=False) if query.kind != "gauge" else ((s, s) for s in scrapes)
    for (t0, before), (t1, after) in pairs:
        if query.kind == "gauge":
            groups = _grouped(query.match, query.by, after, query.metric, lambda key, after=after: after[key])
        else:
            name = query.metric + ("_bucket" if query.kind == "quantile" else "")

            def rate(key, before=before, after=after, seconds=t1 - t0):
                return max(0.0, after[key] - before.get(key, 0.0)) / seconds

            groups = _grouped(query.match, query.by, after, name, rate, keep_le=query.kind == "quantile")
            if query.kind == "ratio":
                variables = tuple(m for m in query.match if m[2].startswith("$"))
                totals = _grouped(variables, query.by, after, name, rate)
                groups = {group: groups.get(group, 0.0) / value for group, value in totals.items() if value > 0}
        if query.kind == "quantile":
            by_group: dict[tuple, list] = defaultdict(list)
            for (group, le), value in groups.items():
                by_group[group].append((float(le), value))
            groups = {group: _quantile(query.quantile, buckets) for group, buckets in by_group.items()}
        for group, value in groups.items():
            if value is not None and not math.isnan(value):
                legend = query.legend
                for label, label_value in group:
                    legend = legend.replace("{{" + label + "}}", label_value)
                series[legend or query.metric].append((t1 - start, value * query.scale))
    return series


def _matches(matchers, labels: dict) -> bool:
    for label, op, value in matchers:
        value = VARIABLES.get(value, value)
        actual = labels.get(label, "")
        if op == "=":
            ok = actual == value
        elif op == "!=":
            ok = actual != value
        else:  # PromQL regexes are anchored
            ok = re.fullmatch(value, actual) is not None
            ok = ok if op == "=~" else not ok
        if not ok:
            return False
    return True


def _grouped(matchers, by, samples: dict, name: str, value_of, keep_le: bool = False) -> dict:
    groups: dict = defaultdict(float)
    for key in samples:
        if key[0] != name:
            continue
        labels = dict(key[1])
        if not _matches(matchers, labels):
            continue
        group = tuple((label, labels.get(label, "")) for label in by)
        groups[(group, labels["le"]) if keep_le else group] += value_of(key)
    return groups


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket rates."""
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


# Inches per grid unit: Grafana's 24 columns across 16 in, rows of 30 px at 80 dpi.
GRID_X, GRID_Y = 16 / GRID_WIDTH, 0.42


def draw(scrapes: list[tuple[float, dict]], path: Path, note: str) -> None:
    """Every panel where its gridPos puts it in Grafana, with what the queries give."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    placed = layout()
    units = max(grid["y"] + grid["h"] for _, grid in placed)
    header = 0.5  # inches for the title line
    height = units * GRID_Y + header
    figure = plt.figure(figsize=(16, height), facecolor="#111217")
    figure.text(0.005, 1 - 0.3 / height, f"AI gateway — {note}", color="#d8d9da", fontsize=12, va="center")

    def rect(grid, pad_left=0.45, pad_top=0.3, pad_bottom=0.3, pad_right=0.12):
        left = grid["x"] * GRID_X + pad_left
        top = header + grid["y"] * GRID_Y + pad_top
        width = grid["w"] * GRID_X - pad_left - pad_right
        tall = grid["h"] * GRID_Y - pad_top - pad_bottom
        return (left / 16, 1 - (top + tall) / height, width / 16, tall / height)

    for item, grid in placed:
        if isinstance(item, Row):
            figure.text(grid["x"] * GRID_X / 16 + 0.004, 1 - (header + (grid["y"] + 0.6) * GRID_Y) / height, item.title,
                        color="#d8d9da", fontsize=11, fontweight="bold", va="center")
            continue
        ax = figure.add_axes(rect(grid))
        ax.set_facecolor("#181b1f")
        ax.set_title(item.title, color="#d8d9da", fontsize=10, loc="left")
        ax.tick_params(colors="#8e8e8e", labelsize=7)
        for spine in ax.spines.values():
            spine.set_color("#2c3235")
        ax.grid(color="#2c3235", linewidth=0.5)
        drawn = 0
        for query in item.queries:
            for legend, points in sorted(evaluate(query, scrapes).items()):
                if points:
                    ax.plot([p[0] for p in points], [p[1] for p in points], linewidth=1.2, label=legend)
                    drawn += 1
        if drawn:
            ax.legend(fontsize=7, loc="upper left", facecolor="#181b1f", labelcolor="#d8d9da", edgecolor="#2c3235",
                      ncol=3, framealpha=0.8)
        else:
            ax.text(0.5, 0.5, "No data", color="#8e8e8e", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel(item.unit, color="#8e8e8e", fontsize=7)
    figure.savefig(path, dpi=72, facecolor=figure.get_facecolor())
    plt.close(figure)
    _palette(path)


def _palette(path: Path) -> None:
    """256 colours are plenty for flat panels and lines: a third of the bytes."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


# -- traffic and scrapes ---------------------------------------------------------------


async def scrape_loop(url: str, interval: float, until: float) -> list[tuple[float, dict]]:
    import aiohttp

    scrapes = []
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < until:
            async with session.get(url) as response:
                scrapes.append((time.monotonic(), parse(await response.text())))
            await asyncio.sleep(interval)
    return scrapes


async def run(seconds: float, interval: float) -> list[tuple[float, dict]]:
    """A real gateway (``tests/metrics_rig.py``) under mixed traffic, scraped all along."""
    import aiohttp

    from tests.metrics_rig import running_rig

    async with running_rig("--metrics-key-labels", "on") as rig, aiohttp.ClientSession() as session:
        await rig.exercise(session)  # one of every case first, so every panel has something
        until = time.monotonic() + seconds
        scrapes, _ = await asyncio.gather(scrape_loop(rig.metrics_url, interval, until), rig.mixed(session, until))
    return scrapes


def render(seconds: float, interval: float) -> None:
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # the fakes' hung-up streams
    scrapes = asyncio.run(run(seconds, interval))
    note = (f"drawn with matplotlib from {len(scrapes)} scrapes of a live gateway (--workers 2), {seconds:g} s of "
            "mixed traffic (not Grafana)")
    draw(scrapes, DOCS / "grafana-dashboard.png", note)
    print(f"wrote {DOCS / 'grafana-dashboard.png'} from {len(scrapes)} scrapes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("json", "render"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between scrapes")
    args = parser.parse_args()
    if args.what == "json":
        path = DOCS / "grafana-dashboard.json"
        path.write_text(json.dumps(grafana_json(), indent=2) + "\n")
        print(f"wrote {path}")
    else:
        render(args.seconds, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
