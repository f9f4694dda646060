"""The Grafana dashboard for the gateway's metrics, and a picture of it from real scrapes.

    .venv/bin/python scripts/dashboard.py json   # writes docs/grafana-dashboard.json
    .venv/bin/python scripts/dashboard.py render [--seconds 60]  # writes docs/grafana-dashboard.png

Both come from one list of panels (``PANELS``), so the picture shows what the JSON
asks Grafana for. ``render`` starts a fake upstream (``fake_upstream.py``) and the
gateway (``--workers 2``), sends a mix of traffic (plain and streamed chats, a
fallback from an unreachable target, retries, clients that hang up, unknown routes,
refused keys), scrapes ``/metrics`` every ``--interval`` seconds, and evaluates each
panel's query from the scraped samples the way Prometheus would (``rate`` between
consecutive scrapes, ``sum by``, ``histogram_quantile`` by linear interpolation
within a bucket), then draws the panels with matplotlib. Grafana itself cannot be
installed on the machine this was made on (no network beyond package registries).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import benchlib
from benchlib import HOST

DOCS = Path(__file__).resolve().parent.parent / "docs"
RATE_WINDOW = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    """One series group: ``rate`` of a counter, a gauge, or a histogram quantile."""

    metric: str
    kind: str = "rate"  # rate | gauge | quantile
    by: tuple[str, ...] = ()
    quantile: float = 0.0
    scale: float = 1.0  # e.g. 1000 for ms, 3600 for per hour
    legend: str = ""
    match: dict[str, str] = field(default_factory=dict)

    def promql(self) -> str:
        selector = self.metric + ("{" + ",".join(f'{k}="{v}"' for k, v in self.match.items()) + "}" if self.match else "")
        by = f" by ({', '.join(self.by)})" if self.by else ""
        if self.kind == "gauge":
            expr = f"sum{by} ({selector})"
        elif self.kind == "rate":
            expr = f"sum{by} (rate({selector}[{RATE_WINDOW}]))"
        else:
            le_by = ", ".join(("le", *self.by))
            expr = (
                f"histogram_quantile({self.quantile}, sum by ({le_by}) "
                f"(rate({selector.replace(self.metric, self.metric + '_bucket', 1)}[{RATE_WINDOW}])))"
            )
        return f"{expr} * {self.scale:g}" if self.scale != 1 else expr


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""


def _quantiles(metric: str, scale: float = 1.0) -> tuple[Query, ...]:
    return tuple(Query(metric, "quantile", quantile=q, scale=scale, legend=f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99))


PANELS = (
    Panel("Requests by status class", "reqps", (Query("gateway_requests_total", by=("status_class",), legend="{{status_class}}"),)),
    Panel("Requests by provider and model", "reqps",
          (Query("gateway_requests_total", by=("provider", "model"), legend="{{provider}} {{model}}"),)),
    Panel("Request duration", "s", _quantiles("gateway_request_duration_seconds")),
    Panel("Time to first byte", "s", _quantiles("gateway_time_to_first_byte_seconds")),
    Panel("Gateway overhead (not waiting for upstreams)", "ms", _quantiles("gateway_overhead_seconds", 1000),
          "Request time until the answer's headers, minus time awaiting the upstream and retry backoffs"),
    Panel("In flight", "short", (Query("gateway_requests_in_flight", "gauge", legend="requests"),
                                 Query("gateway_streams_in_flight", "gauge", legend="streams"))),
    Panel("Upstream attempts by target and status", "reqps",
          (Query("gateway_upstream_attempts_total", by=("target", "status_class"), legend="{{target}} {{status_class}}"),)),
    Panel("Retries and fallbacks", "reqps", (Query("gateway_upstream_retries_total", legend="retries"),
                                             Query("gateway_fallbacks_total", legend="fallbacks"))),
    Panel("Upstream errors by kind", "reqps", (Query("gateway_upstream_errors_total", by=("kind",), legend="{{kind}}"),)),
    Panel("Tokens by type", "short", (Query("gateway_tokens_total", by=("type",), legend="{{type}}"),),
          "Tokens per second; input includes cache_read and cache_write, output includes reasoning"),
    Panel("Cost per hour by model", "currencyUSD",
          (Query("gateway_cost_usd_total", by=("model",), scale=3600, legend="{{model}}"),)),
    Panel("Streamed chunks", "short", (Query("gateway_stream_chunks_total", by=("provider",), legend="{{provider}}"),)),
    Panel("Client disconnects", "reqps", (Query("gateway_client_disconnects_total", by=("phase",), legend="{{phase}}"),)),
    Panel("Rejections (auth, limits, budgets)", "reqps",
          (Query("gateway_rejections_total", by=("reason",), legend="{{reason}}"),)),
    Panel("Cache lookups", "reqps", (Query("gateway_cache_requests_total", by=("status",), legend="{{status}}"),)),
    Panel("Bedrock credential refreshes", "short",
          (Query("gateway_bedrock_credential_refreshes_total", by=("result",), legend="{{result}}"),)),
)


# -- Grafana JSON -------------------------------------------------------------------


def grafana_json() -> dict:
    panels = []
    for index, panel in enumerate(PANELS):
        panels.append({
            "id": index + 1,
            "type": "timeseries",
            "title": panel.title,
            "description": panel.description,
            "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": [
                {"refId": chr(65 + n), "expr": query.promql(), "legendFormat": query.legend,
                 "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}}
                for n, query in enumerate(panel.queries)
            ],
        })
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus",
                      "pluginName": "Prometheus"}],
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
                       {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}],
        "title": "AI gateway",
        "uid": "ai-gateway",
        "tags": ["ai-gateway", "llm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
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


def evaluate(query: Query, scrapes: list[tuple[float, dict]]) -> dict[str, list[tuple[float, float]]]:
    """Series by legend: (seconds since the first scrape, value)."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    start = scrapes[0][0]
    pairs = zip(scrapes, scrapes[1:], strict=False) if query.kind != "gauge" else ((s, s) for s in scrapes)
    for (t0, before), (t1, after) in pairs:
        if query.kind == "gauge":
            groups = _grouped(query, after, query.metric, lambda key, after=after: after[key])
        else:
            name = query.metric + ("_bucket" if query.kind == "quantile" else "")
            def rate(key, before=before, after=after, seconds=t1 - t0):
                return max(0.0, after[key] - before.get(key, 0.0)) / seconds

            groups = _grouped(query, after, name, rate, keep_le=query.kind == "quantile")
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


def _grouped(query: Query, samples: dict, name: str, value_of, keep_le: bool = False) -> dict:
    groups: dict = defaultdict(float)
    for key in samples:
        if key[0] != name:
            continue
        labels = dict(key[1])
        if any(labels.get(k) != v for k, v in query.match.items()):
            continue
        group = tuple((label, labels.get(label, "")) for label in query.by)
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


def draw(scrapes: list[tuple[float, dict]], path: Path, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 2
    rows = math.ceil(len(PANELS) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(16, 3.1 * rows), facecolor="#111217")
    for ax, panel in zip(axes.flat, PANELS, strict=False):  # the grid may have a spare cell
        ax.set_facecolor("#181b1f")
        ax.set_title(panel.title, color="#d8d9da", fontsize=10, loc="left")
        ax.tick_params(colors="#8e8e8e", labelsize=7)
        for spine in ax.spines.values():
            spine.set_color("#2c3235")
        ax.grid(color="#2c3235", linewidth=0.5)
        drawn = 0
        for query in panel.queries:
            for legend, points in sorted(evaluate(query, scrapes).items()):
                if points:
                    ax.plot([p[0] for p in points], [p[1] for p in points], linewidth=1.2, label=legend)
                    drawn += 1
        if drawn:
            ax.legend(fontsize=6, loc="upper left", facecolor="#181b1f", labelcolor="#d8d9da", edgecolor="#2c3235",
                      ncol=2)
        else:
            ax.text(0.5, 0.5, "No data", color="#8e8e8e", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel(panel.unit, color="#8e8e8e", fontsize=7)
    for ax in list(axes.flat)[len(PANELS):]:
        ax.set_visible(False)
    figure.suptitle(f"AI gateway — {note}", color="#d8d9da", fontsize=12, x=0.01, ha="left")
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(path, dpi=80, facecolor=figure.get_facecolor())


# -- traffic -------------------------------------------------------------------------


async def traffic(gateway: str, upstream_port: int, dead_port: int, until: float) -> None:
    import aiohttp

    key = {"x-portkey-api-key": "gw-dashboard"}
    headers = {**benchlib.gateway_headers(upstream_port), **key}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
    models = ["gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet"]
    fallback = json.dumps({
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "openai", "api_key": "sk-bench", "custom_host": f"http://{HOST}:{dead_port}/v1",
             "retry": {"attempts": 1}},
            {"provider": "openai", "api_key": "sk-bench", "custom_host": f"http://{HOST}:{upstream_port}/v1"},
        ],
    })
    rng = random.Random(7)
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            roll = rng.random()
            body = {**chat, "model": rng.choice(models)}
            url = gateway + "/v1/chat/completions"
            if roll < 0.45:
                async with session.post(url, json=body, headers=headers) as response:
                    await response.read()
            elif roll < 0.75:
                async with session.post(url, json={**body, "stream": True}, headers=headers) as response:
                    await response.read()
            elif roll < 0.85:
                async with session.post(url, json=body, headers={"x-portkey-config": fallback, **key}) as response:
                    await response.read()
            elif roll < 0.9:
                async with session.post(url, json={**body, "stream": True}, headers=headers) as response:
                    await response.content.readline()  # hang up mid-stream
            elif roll < 0.95:
                async with session.get(gateway + "/v1/nowhere/else", headers=headers) as response:
                    await response.read()
            else:
                async with session.post(url, json=body, headers={**headers, "x-portkey-api-key": "wrong"}) as response:
                    await response.read()

        while time.monotonic() < until:
            # A load that swells and ebbs, so the panels have a shape.
            phase = math.sin((until - time.monotonic()) / 8)
            await asyncio.gather(*(one() for _ in range(4 + int(4 * (1 + phase)))))


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
    until = time.monotonic() + seconds
    return await asyncio.gather(
        scrape_loop(RENDER["metrics"], interval, until),
        traffic(RENDER["gateway"], RENDER["upstream_port"], benchlib.free_port(), until),
    )


RENDER: dict = {}


def render(seconds: float, interval: float) -> None:
    with tempfile.TemporaryDirectory(prefix="dashboard-"), benchlib.Processes() as procs:
        upstream_port, port, metrics_port = benchlib.free_port(), benchlib.free_port(), benchlib.free_port()
        procs.start([sys.executable, str(benchlib.SCRIPTS / "fake_upstream.py"), str(upstream_port), "--chunks", "20",
                     "--gap-ms", "5"], port=upstream_port)
        procs.start(benchlib.gateway_args(port, 2) + ["--metrics-listen", f"{HOST}:{metrics_port}",
                                                      "--api-keys-file", str(_keys_file())], port=port)
        RENDER.update(gateway=f"http://{HOST}:{port}", metrics=f"http://{HOST}:{metrics_port}/metrics",
                      upstream_port=upstream_port)
        scrapes, _ = asyncio.run(run(seconds, interval))
    note = f"rendered from {len(scrapes)} scrapes of a live gateway (--workers 2), {seconds:g} s of mixed traffic"
    draw(scrapes, DOCS / "grafana-dashboard.png", note)
    print(f"wrote {DOCS / 'grafana-dashboard.png'} from {len(scrapes)} scrapes")


def _keys_file() -> Path:
    """A key file whose key the traffic sends (x-portkey-api-key), except for the refusals."""
    path = Path(tempfile.mkdtemp(prefix="dashboard-keys-")) / "keys"
    path.write_text("gw-dashboard\n")
    return path


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
