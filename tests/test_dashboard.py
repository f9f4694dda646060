"""docs/grafana-dashboard.json: valid Grafana JSON, and every query asks for what the
gateway really exports (checked against a scrape of a real gateway)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.metrics_rig import running_rig
from tests.redis_server import redis_server_binary
from tests.test_metrics_audit import scrape_until

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range"}


def load_script():
    spec = importlib.util.spec_from_file_location("dashboard_script", REPO / "scripts" / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def expressions(dashboard) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]


def test_the_committed_json_is_what_the_script_writes(dashboard):
    assert dashboard == json.loads(json.dumps(load_script().grafana_json())), "run scripts/dashboard.py json"


def test_structure_grafana_expects(dashboard):
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    api_key = variables["api_key"]
    assert api_key["type"] == "query" and api_key["includeAll"] and api_key["allValue"] == ".*"
    assert "gateway_key_requests_total" in api_key["query"]["query"]
    # Every query goes to the chosen data source.
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
    # Variables the queries use are defined.
    used = {name for expr in expressions(dashboard) for name in re.findall(r"\$(\w+)", expr)}
    assert used - GRAFANA_BUILTINS <= set(variables)
    assert "api_key" in used


def test_panel_ids_are_unique_and_grid_positions_do_not_overlap(dashboard):
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h"))
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for a, b in itertools.combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        apart = (ga["x"] + ga["w"] <= gb["x"] or gb["x"] + gb["w"] <= ga["x"]
                 or ga["y"] + ga["h"] <= gb["y"] or gb["y"] + gb["h"] <= ga["y"])
        assert apart, f"{a['title']!r} overlaps {b['title']!r}"


@pytest.fixture
async def scraped():
    """Every sample of a real gateway's scrape once it has seen every case."""
    redis_server_binary()  # skips (fails under CI=true) without redis-server
    async with running_rig("--metrics-key-labels", "on") as rig, aiohttp.ClientSession() as session:
        await rig.exercise(session)
        wanted = {"gateway_rejections_total", "gateway_cache_requests_total", "gateway_key_cost_usd_total",
                  "gateway_bedrock_credential_refreshes_total", "gateway_client_disconnects_total"}
        return await scrape_until(rig.metrics_url, lambda samples: wanted <= {name for name, _ in samples})


async def test_every_query_names_metrics_and_labels_the_gateway_exports(dashboard, scraped):
    labels_of: dict[str, set[str]] = {}
    for name, labels in scraped:
        labels_of.setdefault(name, set()).update(label for label, _ in labels)
    for expr in expressions(dashboard):
        metrics = set(re.findall(r"\bgateway_[a-z_]+\b", expr))
        assert metrics, expr
        for metric in metrics:
            assert metric in labels_of, f"{metric} (in {expr}) is not in the gateway's scrape"
            # The labels it groups and filters by are the metric's own.
            grouped = {label.strip() for by in re.findall(r"by \(([^)]*)\)", expr) for label in by.split(",")}
            filtered = set(re.findall(r"[{,](\w+)\s*(?:=~|!~|!=|=)", expr))
            assert grouped | filtered <= labels_of[metric], f"{expr}: labels {(grouped | filtered) - labels_of[metric]}"
