"""How long SIGTERM takes with a stream that never ends, and how the stream ends.

    python scripts/shutdown_time.py [--shutdown-timeout 3] [--workers 1]

Starts the fake upstream (a stream of a chunk a second, for days) and the gateway,
opens one stream through it, sends the gateway SIGTERM after the first chunk, and
prints the seconds until the gateway exited and the last bytes the client received.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import sys
import time

from benchlib import HOST, Processes, free_port, gateway_args, gateway_headers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shutdown-timeout", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    upstream_port, gateway_port = free_port(), free_port()
    with Processes() as processes:
        processes.start([sys.executable, "scripts/fake_upstream.py", str(upstream_port), "--chunks", "1000000",
                         "--gap-ms", "1000"], port=upstream_port)
        gateway = processes.start(
            gateway_args(gateway_port, args.workers) + ["--shutdown-timeout", str(args.shutdown_timeout)],
            port=gateway_port,
        )
        connection = http.client.HTTPConnection(HOST, gateway_port, timeout=120)
        connection.request("POST", "/v1/chat/completions", body=b'{"model":"m","messages":[],"stream":true}',
                           headers=gateway_headers(upstream_port))
        response = connection.getresponse()
        response.read1()  # the first chunk: the stream is open
        signalled = time.monotonic()
        gateway.send_signal(signal.SIGTERM)
        received = b""
        try:
            while chunk := response.read1():
                received += chunk
        except http.client.HTTPException as exc:
            received += f"[{type(exc).__name__}]".encode()
        code = gateway.wait()
        took = time.monotonic() - signalled
    print(f"--shutdown-timeout {args.shutdown_timeout:g}: exited {took:.2f} s after SIGTERM, code {code}")
    print(f"the stream ended with: {received[-160:]!r}")


if __name__ == "__main__":
    main()
