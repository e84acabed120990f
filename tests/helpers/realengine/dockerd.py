"""A private dockerd in the runner namespace: its own data root, socket, short exec root and pid file.

It uses the corp registry as the Docker Hub mirror (`--registry-mirror`) and trusts the corp CA through
SSL_CERT_FILE (Go's system roots; BuildKit's resolver in 20.10 verifies a mirror's certificate even when
the mirror is listed with --insecure-registry). Its iptables rules stay inside the runner namespace.
Stopped by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers.realengine import DOCKER_CLIENT, netns, runc_bounded


class Dockerd:
    def __init__(self, hosts: netns.Hosts, workdir: Path, *, mirror: str, ca: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = workdir / "dockerd.log"
        # unix socket paths are limited to ~100 bytes: containerd's shims live under the exec root.
        self._exec_root = Path(tempfile.mkdtemp(prefix="mdx", dir="/tmp"))
        self._pidfile = workdir / "dockerd.pid"
        bundle = workdir / "ca-certificates.crt"
        bundle.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes() + ca.read_bytes())
        runtime: list[str] = []
        if runc_bounded.missing_caps():
            # This machine's root lacks a capability that `docker run --privileged` asks for (runc_bounded.py).
            runtime = [
                "--add-runtime",
                f"runc-bounded={Path(runc_bounded.__file__)}",
                "--default-runtime",
                "runc-bounded",
            ]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    *hosts.enter_args(hosts.runner),
                    "dockerd",
                    "--data-root",
                    str(workdir / "data"),
                    "--host",
                    self.host,
                    "--exec-root",
                    str(self._exec_root),
                    "--pidfile",
                    str(self._pidfile),
                    "--registry-mirror",
                    mirror,
                    "--storage-driver",
                    "overlay2",
                    *runtime,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SSL_CERT_FILE": str(bundle)},
            )
        try:
            self._wait()
        except BaseException:
            self.close()
            raise

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [str(DOCKER_CLIENT), *args],
            input=stdin,
            capture_output=True,
            check=False,
            env={**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.workdir / "client")},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
        return done

    def _wait(self) -> None:
        for _ in range(300):
            if self._proc.poll() is not None:
                raise RuntimeError(f"dockerd exited: {self.log.read_text()[-3000:]}")
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer: {self.log.read_text()[-3000:]}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        # dockerd leaves its containerd's state mounts under the exec root; the namespace teardown ends the rest.
        subprocess.run(["umount", "-R", str(self._exec_root)], capture_output=True, check=False)
        shutil.rmtree(self._exec_root, ignore_errors=True)
        data = self.workdir / "data"
        if data.exists():
            # overlay2 mounts are gone with the daemon; what remains is files (root-owned, possibly immutable).
            subprocess.run(["umount", "-R", str(data)], capture_output=True, check=False)
