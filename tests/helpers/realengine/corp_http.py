"""The corp host's web side, run inside the corp namespace as its own process.

- HTTPS: the GitHub mirror (`git http-backend` smart HTTP for paths ending in `.git/...`) and, for every
  other path, static files (the download mirror; archives under the git mirror's prefix; a static Go module
  proxy tree).
- HTTP on the corp address (--http, optional): the same content without TLS, logged as `mirror-http`, for
  mirrors a build container reaches without the test CA (a plain-http git mirror or GOPROXY).
- HTTP on the upstream address: "the internet" that only the corporate proxy reaches.
- A TCP relay from the corp address to a unix socket: the apt mirror (apt-cacher-ng) runs in the host
  namespace, where it can reach deb.debian.org, and is reached from corp only through that socket.

Every request is logged as `<server> <client> <method> <path> <status>` to --log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

_LOCK = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    root: ClassVar[Path]
    server_name_tag: ClassVar[str]
    log_path: ClassVar[Path]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _log(self, status: int) -> None:
        with _LOCK, self.log_path.open("a") as log:
            log.write(f"{self.server_name_tag} {self.client_address[0]} {self.command} {self.path} {status}\n")

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        if ".git/" in path or path.endswith(".git"):
            self._git(path, query)
            return
        # Clients may percent-encode: Go asks for `shurcoo%21l/…` (the proxy protocol's `!l`, an upper-case L).
        target = (self.root / "www" / unquote(path).lstrip("/")).resolve()
        if not target.is_file() or not target.is_relative_to(self.root / "www"):
            self._log(404)
            self.send_error(404)
            return
        body = target.read_bytes()
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _git(self, path: str, query: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root / "git"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self._log(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _server(tag: str, addr: str, root: Path, log: Path) -> ThreadingHTTPServer:
    host, port = addr.rsplit(":", 1)
    handler = type(f"_{tag}", (_Handler,), {"root": root, "server_name_tag": tag, "log_path": log})
    return ThreadingHTTPServer((host, int(port)), handler)


def _pump(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
    """Copy src to dst until EOF, pass the EOF on; the second direction to finish closes both sockets."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        # A reset or a closed socket on one side ends the connection (apt drops kept-alive connections as a matter
        # of course): shut the other side both ways, so its pump ends now instead of at that peer's idle timeout.
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)
    try:
        done.wait(timeout=600)
    except threading.BrokenBarrierError:
        pass
    finally:
        src.close()


def relay(listener: socket.socket, connect: tuple[int, object]) -> None:
    """Forward every connection accepted on `listener` to `connect` (family, address), both ways."""
    family, address = connect
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # the listener was closed
        upstream = socket.socket(family, socket.SOCK_STREAM)
        try:
            upstream.connect(address)  # type: ignore[arg-type]
        except OSError:
            client.close()
            upstream.close()
            continue
        done = threading.Barrier(2)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b, done), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--https", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--http", help="ADDR:PORT of a plain-http twin of the HTTPS mirror")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--relay", required=True, help="ADDR:PORT=UNIX_SOCKET")
    args = parser.parse_args()

    secure = _server("mirror", args.https, args.root, args.log)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    upstream = _server("upstream", args.upstream, args.root, args.log)
    servers = [secure, upstream]
    if args.http:
        servers.append(_server("mirror-http", args.http, args.root, args.log))

    listen, unix_path = args.relay.split("=", 1)
    host, port = listen.rsplit(":", 1)
    listener = socket.create_server((host, int(port)))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=relay, args=(listener, (socket.AF_UNIX, unix_path)), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()  # runs until the test closes our stdin or kills us


if __name__ == "__main__":
    main()
