"""The corp relay of the real-engine tests (realengine/corp_http.py `relay`), on loopback sockets (no engine): bytes
go both ways, and a client that resets its connection ends the upstream one too, instead of leaving it open until
the upstream's idle timeout."""

from __future__ import annotations

import socket
import struct
import threading

from tests.helpers.realengine.corp_http import relay


def _relay_to(upstream: socket.socket) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=relay, args=(listener, (socket.AF_INET, upstream.getsockname())), daemon=True).start()
    return listener


def _server() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)
    return server


def test_bytes_pass_both_ways() -> None:
    server = _server()
    listener = _relay_to(server)
    try:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        inside, _ = server.accept()
        inside.settimeout(10)
        client.sendall(b"GET /\n")
        assert inside.recv(100) == b"GET /\n"
        inside.sendall(b"200\n")
        assert client.recv(100) == b"200\n"
        client.close()
        inside.close()
    finally:
        listener.close()
        server.close()


def test_a_client_reset_ends_the_upstream_connection() -> None:
    server = _server()
    listener = _relay_to(server)
    try:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        inside, _ = server.accept()
        inside.settimeout(10)
        client.sendall(b"x")
        assert inside.recv(1) == b"x"
        # SO_LINGER with a zero timeout: close() sends a RST, as a client that drops its connection does.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        assert inside.recv(1) == b""  # EOF within the timeout, not a socket.timeout
        inside.close()
    finally:
        listener.close()
        server.close()
