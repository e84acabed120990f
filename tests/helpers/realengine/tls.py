"""A throwaway test CA with a server certificate, and Debian's docker-registry (distribution 2.8) serving TLS
with it: the registry behind an inspecting proxy, whose certificate only the corporate CA vouches for."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(workdir: Path, *, cn: str, dns: Sequence[str] = (), ips: Sequence[str] = ()) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key) in `workdir`: a CA `cn` and a server certificate for `dns` and `ips`."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=workdir)  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=mobyci test server", cwd=workdir)
    names = ",".join([*(f"DNS:{name}" for name in dns), *(f"IP:{ip}" for ip in ips)])
    (workdir / "server.ext").write_text(
        f"subjectAltName={names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "server.ext", cwd=workdir)  # fmt: skip
    return workdir / "ca.crt", workdir / "server.crt", workdir / "server.key"


def free_port(ip: str) -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        port: int = probe.getsockname()[1]
    return port


class TlsRegistry:
    """docker-registry at `addr` (ip:port) with `cert`/`key`, data and access log (`log`) under `workdir`.

    `prefix` runs it elsewhere, e.g. `ip netns exec NS` for a test namespace. Stopped by pid on close.
    """

    def __init__(self, workdir: Path, addr: str, cert: Path, key: Path, *, prefix: Sequence[str] = ()) -> None:
        self.addr = addr
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "registry.log"
        config = workdir / "registry.yml"
        config.write_text(
            "version: 0.1\nlog: {level: info, formatter: text}\n"
            f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}}}\n"
            f"http: {{addr: '{addr}', tls: {{certificate: {cert}, key: {key}}}}}\n"
        )
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [*prefix, "docker-registry", "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait(prefix)
        except BaseException:
            self.close()
            raise

    def _wait(self, prefix: Sequence[str]) -> None:
        host, port = self.addr.rsplit(":", 1)
        probe = [*prefix, sys.executable, "-c", f"import socket; socket.create_connection(('{host}', {port}), 1)"]
        for _ in range(100):
            if self._proc.poll() is not None:
                break
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"docker-registry does not answer at {self.addr}: {self.log.read_text()[-2000:]}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
