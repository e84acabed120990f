"""The corp relay of the real-engine tests (realengine/corp_http.py `relay`), on loopback sockets (no engine): bytes
go both ways, and a client that resets its connection ends the upstream one too, instead of leaving it open until
the upstream's idle timeout."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from tests.helpers.realengine.corp_http import relay


@pytest.fixture
def connected() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client, inside): a client connected through the relay, and the upstream server's end of that connection."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=relay, args=(listener, (socket.AF_INET, server.getsockname())), daemon=True).start()
    client = socket.create_connection(listener.getsockname(), timeout=10)
    inside, _ = server.accept()
    inside.settimeout(10)
    try:
        yield client, inside
    finally:
        for sock in (client, inside, listener, server):
            sock.close()


def test_bytes_pass_both_ways(connected: tuple[socket.socket, socket.socket]) -> None:
    client, inside = connected
    client.sendall(b"GET /\n")
    assert inside.recv(100) == b"GET /\n"
    inside.sendall(b"200\n")
    assert client.recv(100) == b"200\n"


def test_a_client_reset_ends_the_upstream_connection(connected: tuple[socket.socket, socket.socket]) -> None:
    client, inside = connected
    client.sendall(b"x")
    assert inside.recv(1) == b"x"
    # SO_LINGER with a zero timeout: close() sends a RST, as a client that drops its connection does.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    assert inside.recv(1) == b""  # EOF within the timeout, not a socket.timeout
