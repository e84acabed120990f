"""A private dockerd: its own data root, socket, short exec root and pid file; never the host's /var/lib/docker
or default socket.

In the host's network namespace it gets no bridge and writes no iptables rules (`HOST_NETWORK_ARGS`: builds use
the host network); in a test namespace (`netns`) it keeps its bridge and its iptables rules stay in that
namespace. `ca`: a CA the daemon trusts through SSL_CERT_FILE (Go's system roots, which its registry client and
BuildKit's resolver read; 20.10's BuildKit verifies a mirror's certificate even when the mirror is listed with
--insecure-registry). Stopped by pid, its mounts and directories removed, also when a test fails.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.helpers.realengine import DOCKER_CLIENT, runc_bounded

HOST_NETWORK_ARGS = ("--bridge", "none", "--iptables=false", "--ip-masq=false")


class Dockerd:
    def __init__(
        self, workdir: Path, *, netns: str | None = None, args: Sequence[str] = (), ca: Path | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = workdir / "dockerd.log"
        # unix socket paths are limited to ~100 bytes: containerd's shims live under the exec root.
        self._exec_root = Path(tempfile.mkdtemp(prefix="mdx", dir="/tmp"))
        self._pidfile = workdir / "dockerd.pid"
        env = dict(os.environ)
        if ca is not None:
            bundle = workdir / "ca-certificates.crt"
            bundle.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes() + ca.read_bytes())
            env["SSL_CERT_FILE"] = str(bundle)
        runtime: list[str] = []
        if runc_bounded.missing_caps():
            # This machine's root lacks a capability that `docker run --privileged` asks for (runc_bounded.py).
            runtime = [
                "--add-runtime",
                f"runc-bounded={Path(runc_bounded.__file__)}",
                "--default-runtime",
                "runc-bounded",
            ]
        enter = ["nsenter", f"--net=/var/run/netns/{netns}"] if netns else []
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    *enter,
                    "dockerd",
                    "--data-root",
                    str(workdir / "data"),
                    "--host",
                    self.host,
                    "--exec-root",
                    str(self._exec_root),
                    "--pidfile",
                    str(self._pidfile),
                    *args,
                    *runtime,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 1800,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(DOCKER_CLIENT), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, "DOCKER_CONFIG": str(self.workdir / "client"), **(env or {}), **self.env()},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: exit {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One Engine API call (for what the docker CLI cannot say, e.g. an entrypoint of several words)."""
        connection = _UnixHTTPConnection(str(self.socket))
        try:
            data = None if body is None else json.dumps(body)
            connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {text}")
        return json.loads(text) if text else None

    def _wait(self) -> None:
        for _ in range(300):
            if self._proc.poll() is not None:
                raise RuntimeError(f"dockerd exited: {self.log.read_text()[-3000:]}")
            if self.socket.exists() and self.docker("version", check=False, timeout=30).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer: {self.log.read_text()[-3000:]}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        # dockerd leaves its containerd's state mounts under the exec root, and a killed daemon its layer mounts.
        for path in (self._exec_root, self.workdir / "data"):
            subprocess.run(["umount", "-R", str(path)], capture_output=True, check=False)
            shutil.rmtree(path, ignore_errors=True)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(120)
        sock.connect(self._path)
        self.sock = sock
