"""The listening sockets, bound once by the supervisor and inherited by every worker.

One set of sockets per worker slot. With more than one slot they share the port
through SO_REUSEPORT, so the kernel spreads new connections over the slots; each
generation of workers serves the same sockets, so a reload never closes a socket
that has connections waiting in its queue (closing one resets them).
"""

from __future__ import annotations

import socket


class ListenError(Exception):
    """The address cannot be listened on; the message is one line for the operator."""


def open_listeners(host: str, port: int, slots: int, backlog: int) -> list[list[socket.socket]]:
    """``slots`` lists of listening sockets, one socket per address ``host`` resolves to."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    addresses = list(dict.fromkeys((family, address) for family, _, _, _, address in addresses))
    listeners: list[list[socket.socket]] = []
    try:
        for _ in range(slots):
            listeners.append([])
            for family, address in addresses:
                listeners[-1].append(_listen(family, address, reuse_port=slots > 1, backlog=backlog))
    except OSError as exc:
        close_all(listeners)
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listeners


def _listen(family: int, address: tuple, *, reuse_port: bool, backlog: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def close_all(listeners: list[list[socket.socket]]) -> None:
    for slot in listeners:
        for sock in slot:
            sock.close()
