"""Non-streaming overhead: direct to the upstream, through a bare relay, through the gateway.

    .venv/bin/python scripts/bench_overhead.py [--duration 10] [--large-kb 200] [--metrics off,on]

Starts on 127.0.0.1: nginx (its own config in a temporary prefix) answering every
POST with a fixed chat.completion JSON body, ``scripts/bare_relay.py`` and the
gateway (one worker; one gateway per ``--metrics`` setting, so that metrics on and
off are measured in the same run), each on a free port. Load comes from ``wrk`` with a Lua
script for the POST (installed with apt-get when missing). With two or more CPUs
the relay and the gateway get a CPU of their own and wrk and nginx share the rest,
so that what is measured is one core of Python. Each case runs in short rounds,
the three targets interleaved, so that a noisy neighbour slows them alike; the CPU
time each proxy used per request is read from /proc (it does not depend on noise).
Prints one table; stops everything.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import benchlib
from benchlib import HOST

NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    server {{
        listen {host}:{port} reuseport;
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""

WRK_LUA = """\
wrk.method = "POST"
wrk.headers = {headers}
local file = io.open("{body_path}", "rb")
wrk.body = file:read("*a")
file:close()

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "duration_us": %d, "p50": %d, "p90": %d, "p99": %d, ' ..
    '"errors": %d, "non2xx": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
"""


def chat_body(size: int) -> bytes:
    """A chat request whose JSON is ``size`` bytes or a little more (at least a tiny one)."""
    base = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ""}], "max_tokens": 16}
    filler = max(0, size - len(json.dumps(base)))
    base["messages"][0]["content"] = "Hello there, how are you? " * (filler // 26 + 1) if filler else "Hello there"
    return json.dumps(base).encode()


def start_nginx(procs: benchlib.Processes, prefix: Path, cpus) -> int:
    port = benchlib.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, host=HOST, port=port, body=benchlib.CHAT_COMPLETION.decode()))
    # -e: nginx opens its default error log before reading the config; keep it here too.
    procs.start(
        ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf), "-g", "daemon off;"],
        port=port,
        cpus=cpus,
    )
    return port


def check(url: str, headers: dict[str, str]) -> None:
    """One request first: the load must measure correct answers, not fast errors."""
    request = urllib.request.Request(url, data=chat_body(0), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    except Exception as exc:
        raise SystemExit(f"{url} did not answer the check request: {exc}") from None
    if json.loads(body)["object"] != "chat.completion":
        raise SystemExit(f"{url} answered something else: {body[:200]!r}")


def wrk(url: str, lua: Path, connections: int, duration: float, cpus) -> dict:
    threads = 1 if connections == 1 else 2
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(lua), url]
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=duration + 60,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    for line in result.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line[len("WRK_RESULT "):])
    raise SystemExit(f"wrk gave no result:\n{result.stdout}\n{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each target")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds each case is split into")
    parser.add_argument("--large-kb", type=int, default=200, help="size of the large prompt case")
    parser.add_argument("--connections", default="1,64", help="comma-separated connection counts")
    parser.add_argument("--gateway-workers", type=int, default=1, help="the gateway's --workers")
    parser.add_argument("--no-pin", action="store_true", help="do not give the proxies a CPU of their own")
    parser.add_argument("--log-level", default="info",
                        help="the gateways' --log-level (info: the access line on, written to /dev/null)")
    parser.add_argument("--metrics", default="off,on", help="gateway rows: comma-separated --metrics settings")
    parser.add_argument("--no-limits", action="store_true",
                        help="leave out the gateway that counts a rate limit in Redis (redis-server)")
    parser.add_argument("--baseline", metavar="TREE",
                        help="also run the gateway of another checkout (its root directory), same rounds")
    parser.add_argument("--no-keys", action="store_true",
                        help="leave out the gateway that resolves an API key and a virtual key per request")
    args = parser.parse_args()
    benchlib.need_commands({"wrk": "wrk", "nginx": "nginx-light"})
    load_cpus, proxy_cpus = (None, None) if args.no_pin else benchlib.cpu_split()
    connections = [int(c) for c in args.connections.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, benchlib.Processes() as procs:
        tmp = Path(tmp)
        nginx_port = start_nginx(procs, tmp, load_cpus)
        relay_port = benchlib.free_port()
        upstream = f"http://{HOST}:{nginx_port}"
        relay = procs.start([sys.executable, str(benchlib.SCRIPTS / "bare_relay.py"), str(relay_port), upstream],
                            port=relay_port, cpus=proxy_cpus)
        headers = benchlib.gateway_headers(nginx_port)
        targets = {
            "direct": f"{upstream}/v1/chat/completions",
            "bare relay": f"http://{HOST}:{relay_port}/v1/chat/completions",
        }
        pids = {"direct": None, "bare relay": relay.pid}
        for metrics in args.metrics.split(","):
            gateway_port = benchlib.free_port()
            # Several workers share the port (SO_REUSEPORT) and may use every CPU.
            gateway = procs.start(benchlib.gateway_args(gateway_port, args.gateway_workers, args.log_level)
                                  + ["--metrics", metrics], port=gateway_port,
                                  cpus=proxy_cpus if args.gateway_workers == 1 else None, **benchlib.gateway_log(args.log_level))
            name = gateway_name(metrics)
            targets[name] = f"http://{HOST}:{gateway_port}/v1/chat/completions"
            pids[name] = gateway.pid
        if args.baseline:
            # The same gateway from another tree (e.g. a checkout of main), measured in
            # the same rounds: python -m gateway run from there imports that tree's code.
            baseline_port = benchlib.free_port()
            baseline = procs.start(benchlib.gateway_args(baseline_port, args.gateway_workers, args.log_level)
                                   + ["--metrics", args.metrics.split(",")[0]], port=baseline_port,
                                   cpus=proxy_cpus if args.gateway_workers == 1 else None, cwd=args.baseline,
                                   **benchlib.gateway_log(args.log_level))
            targets[BASELINE_TARGET] = f"http://{HOST}:{baseline_port}/v1/chat/completions"
            pids[BASELINE_TARGET] = baseline.pid
        target_headers = dict.fromkeys(targets, headers)
        # The keys and limits rows run with the first --metrics setting, as the plain row they are compared with.
        plain_metrics = args.metrics.split(",")[0]
        if not args.no_keys:
            # The same gateway with a store: each request presents an API key and a
            # virtual key (resolved from the in-memory view) instead of a raw key.
            keys_port = benchlib.free_port()
            env, keys_headers = keys_store(tmp, nginx_port)
            keyed = procs.start([*benchlib.gateway_args(keys_port, args.gateway_workers, args.log_level), "--metrics",
                                 plain_metrics], port=keys_port, env=env,
                                cpus=proxy_cpus if args.gateway_workers == 1 else None, **benchlib.gateway_log(args.log_level))
            targets[KEYS_TARGET] = f"http://{HOST}:{keys_port}/v1/chat/completions"
            target_headers[KEYS_TARGET] = keys_headers
            pids[KEYS_TARGET] = keyed.pid
        if not args.no_keys and not args.no_limits:
            # The same again with a rate limit on the API key (never reached), counted
            # in a Redis on loopback: one admit per request, charges batched, all of one
            # event-loop turn's commands in one write (gateway/redis_client.py).
            redis_port = benchlib.free_port()
            benchlib.need_commands({"redis-server": "redis-server"})
            procs.start(["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no",
                         "--dir", str(tmp)], port=redis_port, stdout=subprocess.DEVNULL, cpus=load_cpus)
            limits_port = benchlib.free_port()
            env, limits_headers = keys_store(tmp / "limited", nginx_port, {"rate_limits": [
                {"type": "requests", "unit": "rpm", "value": 1_000_000_000}]})
            limited = procs.start([*benchlib.gateway_args(limits_port, args.gateway_workers, args.log_level), "--metrics",
                                   plain_metrics, "--redis", f"redis://{HOST}:{redis_port}/0"], port=limits_port, env=env,
                                  cpus=proxy_cpus if args.gateway_workers == 1 else None, **benchlib.gateway_log(args.log_level))
            targets[LIMITS_TARGET] = f"http://{HOST}:{limits_port}/v1/chat/completions"
            target_headers[LIMITS_TARGET] = limits_headers
            pids[LIMITS_TARGET] = limited.pid
            redis_reads = functools.partial(redis_stat, redis_port, "total_reads_processed")
        bodies = {"small": chat_body(0), f"{args.large_kb} KB": chat_body(args.large_kb * 1024)}
        scripts = {}
        for name, body in bodies.items():
            body_path = tmp / f"body-{len(body)}.json"
            body_path.write_bytes(body)
            for target, sent in target_headers.items():
                lua = tmp / f"post-{len(body)}-{len(scripts)}.lua"
                lua_headers = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in sent.items()) + "}"
                lua.write_text(WRK_LUA.format(headers=lua_headers, body_path=body_path))
                scripts[name, target] = (lua, len(body))

        for target, url in targets.items():
            check(url, target_headers[target])
            wrk(url, scripts["small", target][0], 64, args.warmup, load_cpus)
        # Short runs, interleaved round by round: a noisy neighbour then slows all
        # three targets alike instead of whichever ran at the wrong moment.
        runs: dict[tuple, list[dict]] = {}
        cpu: dict[tuple, float] = {}
        reads: dict[tuple, int] = {}  # the limits row: reads Redis made (its round trips)
        for round_ in range(args.rounds):
            for body_name in bodies:
                for conns in connections:
                    print(f"  round {round_ + 1}/{args.rounds}: {body_name} body, {conns} connection(s)",
                          file=sys.stderr, flush=True)
                    for target, url in targets.items():
                        lua = scripts[body_name, target][0]
                        key = target, body_name, conns
                        before = benchlib.cpu_seconds_tree(pids[target]) if pids[target] else 0.0
                        reads_before = redis_reads() if target == LIMITS_TARGET else 0
                        runs.setdefault(key, []).append(wrk(url, lua, conns, args.duration / args.rounds, load_cpus))
                        if pids[target]:
                            cpu[key] = cpu.get(key, 0.0) + benchlib.cpu_seconds_tree(pids[target]) - before
                        if target == LIMITS_TARGET:
                            reads[key] = reads.get(key, 0) + redis_reads() - reads_before
        results = {key: merge(r) for key, r in runs.items()}
        rows = []
        for target in targets:
            for body_name in bodies:
                size = scripts[body_name, target][1]
                for conns in connections:
                    key = target, body_name, conns
                    r = results[key]
                    cpu_us = cpu[key] / r["requests"] * 1e6 if key in cpu and r["requests"] else float("nan")
                    rows.append([target, f"{body_name} ({size} B)", conns, round(r["rps"]), r["p50"] / 1000,
                                 r["p90"] / 1000, r["p99"] / 1000, round(cpu_us) if cpu_us == cpu_us else "-",
                                 r["errors"] + r["non2xx"]])

    print(f"\nbench_overhead: {benchlib.machine()}")
    print(f"gateway workers: {args.gateway_workers}, log level {args.log_level}; {args.duration:g} s per case in {args.rounds} interleaved rounds (latency: median of the rounds' "
          f"percentiles); proxies pinned to CPU {sorted(proxy_cpus) if proxy_cpus else 'none'}, "
          f"wrk and nginx to {sorted(load_cpus) if load_cpus else 'any'}\n")
    print(benchlib.table(["target", "body", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "CPU us/req", "errors"], rows))
    print()
    cpu_per_request = {key: cpu[key] / results[key]["requests"] for key in cpu if results[key]["requests"]}
    print(summary(results, connections, list(bodies), [t for t in targets if t.startswith("gateway (")], cpu_per_request))
    plain = gateway_name(args.metrics.split(",")[0])
    if KEYS_TARGET in targets:
        print(keys_summary(results, cpu, connections, list(bodies), plain))
    if LIMITS_TARGET in targets:
        for body in bodies:
            most = max(connections)
            ratio = results[LIMITS_TARGET, body, most]["rps"] / results[KEYS_TARGET, body, most]["rps"]
            print(f"{body} body: with a rate limit counted in Redis, throughput at {most} connections = {ratio:.0%} "
                  "of the same gateway without limits")
            # CPU per request barely depends on a noisy neighbour; at saturation throughput is its inverse.
            for conns in connections:
                key = body, conns
                keyed, limited = cpu_per_request[KEYS_TARGET, *key], cpu_per_request[LIMITS_TARGET, *key]
                requests = results[LIMITS_TARGET, *key]["requests"]
                print(f"{body} body, {conns} connections: CPU per request with the Redis rate limit {limited * 1e6:.0f} us, "
                      f"without {keyed * 1e6:.0f} us: it keeps {keyed / limited:.0%} of the throughput per core; "
                      f"Redis reads per request {reads[LIMITS_TARGET, *key] / requests:.2f}")
    return 0


def redis_stat(port: int, name: str) -> int:
    """One counter of the Redis server's INFO stats (total_reads_processed: the reads it
    made, so the round trips clients made to it)."""
    with socket.create_connection((HOST, port), timeout=5) as connection:
        connection.sendall(b"INFO stats\r\n")
        reply = b""
        while b"\r\n" not in reply or len(reply) < reply.index(b"\r\n") + 2 + int(reply[1:reply.index(b"\r\n")]):
            chunk = connection.recv(65536)  # a bulk string: $LENGTH, then the text
            if not chunk:
                break
            reply += chunk
    for line in reply.decode().splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise RuntimeError(f"{name} not in Redis INFO stats")


KEYS_TARGET = "gateway, API key + virtual key"
BASELINE_TARGET = "gateway (baseline tree)"
LIMITS_TARGET = "gateway, keys + rate limit (Redis)"


def keys_store(tmp: Path, upstream_port: int, key_fields: dict | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """A SQLite store with one virtual key (to the upstream) and one API key, made with
    the command line; the gateway's environment, and the headers a client then sends."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "master.key").write_text("bench master key, thirty-two bytes or more\n")
    env = {**os.environ, "GATEWAY_STATE_DIR": str(tmp / "state"), "GATEWAY_MASTER_KEY_FILE": str(tmp / "master.key")}
    vk = {"name": "bench", "slug": "bench", "provider": "openai", "key": "sk-bench",
          "custom_host": f"http://{HOST}:{upstream_port}/v1"}
    cli = [sys.executable, "-m", "gateway"]
    subprocess.run([*cli, "virtual-keys", "create", "--json", "-"], input=json.dumps(vk), text=True, env=env,
                   check=True, capture_output=True)
    created = subprocess.run([*cli, "keys", "create", "--json", "-"], input=json.dumps({"name": "bench", **(key_fields or {})}),
                             text=True, env=env, check=True, capture_output=True)
    api_key = json.loads(created.stdout)["key"]
    return env, {"Content-Type": "application/json", "x-portkey-api-key": api_key, "x-portkey-virtual-key": "bench"}


def keys_summary(results: dict, cpu: dict, connections: list[int], bodies: list[str], plain_name: str) -> str:
    """What resolving the API key and the virtual key adds per request: CPU time."""
    lines = []
    for body in bodies:
        for conns in connections:
            plain, keyed = (plain_name, body, conns), (KEYS_TARGET, body, conns)
            per_request = [cpu[key] / results[key]["requests"] * 1e6 for key in (plain, keyed)]
            lines.append(f"{body} body, {conns} connection(s): API key + virtual key add "
                         f"{per_request[1] - per_request[0]:.1f} us CPU per request")
    return "\n".join(lines)


def merge(runs: list[dict]) -> dict:
    """Rounds of one case → throughput over all of them, median of each percentile."""
    merged = {q: statistics.median(r[q] for r in runs) for q in ("p50", "p90", "p99")}
    merged["rps"] = sum(r["requests"] for r in runs) / (sum(r["duration_us"] for r in runs) / 1e6)
    for name in ("requests", "errors", "non2xx"):
        merged[name] = sum(r[name] for r in runs)
    return merged


def gateway_name(metrics: str) -> str:
    return f"gateway (metrics {metrics})"


def summary(
    results: dict, connections: list[int], bodies: list[str], gateways: list[str], cpu_per_request: dict
) -> str:
    lines = []
    most, one = max(connections), min(connections)
    for body in bodies:
        for name in gateways:
            ratio = results[name, body, most]["rps"] / results["bare relay", body, most]["rps"]
            lines.append(f"{body} body: {name} throughput at {most} connections = {ratio:.0%} of the bare relay's")
            # At saturation throughput is the inverse of CPU per request, which barely
            # depends on a noisy neighbour: the figure to compare across runs.
            cpu_gateway, cpu_relay = cpu_per_request[name, body, most], cpu_per_request["bare relay", body, most]
            lines.append(f"{body} body: {name} CPU per request {cpu_gateway * 1e6:.0f} us, bare relay "
                         f"{cpu_relay * 1e6:.0f} us: {cpu_relay / cpu_gateway:.0%} of its throughput per core")
            direct, gateway = results["direct", body, one], results[name, body, one]
            lines.append(
                f"{body} body: {name} adds at {one} connection(s) p50 {(gateway['p50'] - direct['p50']) / 1000:.2f} ms, "
                f"p99 {(gateway['p99'] - direct['p99']) / 1000:.2f} ms over direct"
            )
        on, off = gateway_name("on"), gateway_name("off")
        if on in gateways and off in gateways:
            ratio = results[on, body, most]["rps"] / results[off, body, most]["rps"]
            lines.append(f"{body} body: metrics on keeps {ratio:.1%} of the throughput of metrics off at {most} connections")
            # CPU per request barely depends on a noisy neighbour; at saturation
            # throughput is its inverse.
            cpu_on, cpu_off = cpu_per_request[on, body, most], cpu_per_request[off, body, most]
            lines.append(
                f"{body} body: CPU per request metrics on {cpu_on * 1e6:.0f} us, off {cpu_off * 1e6:.0f} us: "
                f"on keeps {cpu_off / cpu_on:.1%} of off's throughput per core"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
