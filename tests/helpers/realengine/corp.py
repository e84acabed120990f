"""The corp host: a Docker Hub mirror, a GitHub mirror, a download mirror, an apt mirror, a corporate proxy.

- Docker Hub mirror: Debian's docker-registry (distribution 2.8) over TLS at CORP:5000, access log on.
- GitHub mirror and download mirror: corp_http.py over TLS at CORP:443 (`git http-backend`, static files),
  and the same content over plain http at CORP:80 (HTTP) for mirrors that build containers reach without the
  test CA.
- apt mirror: apt-cacher-ng in front of deb.debian.org. It runs in the host namespace (it must reach the
  Debian archive; corp has no route out) on 127.0.0.1, and is reached as CORP:3142 through a relay over a
  unix socket, so the runner never gets a route beyond corp. Its cache lives in the CI cache: a second run
  downloads nothing.
- corporate proxy: tinyproxy at CORP:8888, log level Info (one CONNECT/GET line per request).

The TLS certificates come from a throwaway CA made per run (tls.make_ca).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.helpers.realengine import cache_dir, netns, tls
from tests.helpers.realengine.corp_http import relay

REGISTRY_PORT = 5000
APT_PORT = 3142
PROXY_PORT = 8888
REGISTRY = f"{netns.CORP}:{REGISTRY_PORT}"
APT = f"{netns.CORP}:{APT_PORT}"
PROXY = f"http://{netns.CORP}:{PROXY_PORT}"
HTTPS = f"https://{netns.CORP}"
HTTP = f"http://{netns.CORP}"


class Corp:
    """Starts the corp services in `hosts.corp`; their logs are under `workdir`. `close()` stops them."""

    def __init__(self, hosts: netns.Hosts, workdir: Path) -> None:
        self.hosts = hosts
        self.workdir = workdir
        self.root = workdir / "served"  # git/ (bare repositories by URL path), www/ (files by URL path)
        (self.root / "git").mkdir(parents=True)
        (self.root / "www").mkdir(parents=True)
        self.ca, self._crt, self._key = tls.make_ca(
            workdir, cn="mobyci rehearsal CA", dns=("corp.rehearsal.test",), ips=(netns.CORP,)
        )
        self.http_log = workdir / "corp-http.log"
        self.registry_log = workdir / "registry.log"
        self.proxy_log = workdir / "tinyproxy.log"
        self.apt_log = workdir / "acng" / "apt-cacher.log"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._unix = workdir / "acng-relay.sock"
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _spawn(self, args: list[str], log: Path, *, corp: bool = True) -> subprocess.Popen[bytes]:
        prefix = self.hosts.exec_args(self.hosts.corp) if corp else []
        with log.open("ab") as out:
            proc = subprocess.Popen([*prefix, *args], stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        self._procs.append(proc)
        return proc

    def _start(self) -> None:
        w = self.workdir
        self.http_log.touch()
        self._start_apt()
        self._spawn(
            [
                sys.executable,
                str(Path(__file__).with_name("corp_http.py")),
                "--root",
                str(self.root),
                "--log",
                str(self.http_log),
                "--https",
                f"{netns.CORP}:443",
                "--cert",
                str(self._crt),
                "--key",
                str(self._key),
                "--http",
                f"{netns.CORP}:80",
                "--upstream",
                f"{netns.UPSTREAM}:80",
                "--relay",
                f"{netns.CORP}:{APT_PORT}={self._unix}",
            ],
            w / "corp-http.out",
        )
        (w / "registry.yml").write_text(
            "version: 0.1\nlog: {level: info, formatter: text}\n"
            f"storage: {{filesystem: {{rootdirectory: {w / 'registry-data'}}}}}\n"
            f"http: {{addr: '{REGISTRY}', tls: {{certificate: {self._crt}, key: {self._key}}}}}\n"
        )
        self._spawn(["docker-registry", "serve", str(w / "registry.yml")], self.registry_log)
        self.proxy_log.touch()
        self.proxy_log.chmod(0o666)
        (w / "tinyproxy.conf").write_text(
            f"Port {PROXY_PORT}\nListen {netns.CORP}\nTimeout 20\nMaxClients 50\nLogLevel Info\n"
            f'LogFile "{self.proxy_log}"\nConnectPort 443\nConnectPort 80\n'
        )
        self._spawn(["tinyproxy", "-d", "-c", str(w / "tinyproxy.conf")], w / "tinyproxy.out")
        for port in (443, 80, REGISTRY_PORT, APT_PORT, PROXY_PORT):
            self._wait_port(port)

    def _start_apt(self) -> None:
        conf = self.workdir / "acng-conf"
        conf.mkdir()
        (self.workdir / "acng").mkdir()
        (conf / "backends_debian").write_text("http://deb.debian.org/debian/\n")
        # apt-cacher-ng 3.7.4 refused port 39142 here ("Error resolving address for binding") and took 3143-30000.
        port = _free_port()
        (conf / "acng.conf").write_text(
            f"CacheDir: {cache_dir() / 'apt-cacher-ng'}\nLogDir: {self.workdir / 'acng'}\n"
            f"SupportDir: /usr/lib/apt-cacher-ng\nPort: {port}\nBindAddress: 127.0.0.1\n"
            f"SocketPath: {self.workdir / 'acng-admin.sock'}\nPidFile: {self.workdir / 'acng.pid'}\n"
            "ExThreshold: 4\n"
            "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian\n"
            "Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security"
            " /debian-security ; deb.debian.org/debian-security\n"
        )
        self._spawn(["apt-cacher-ng", "-c", str(conf), "ForeGround=1"], self.workdir / "acng.out", corp=False)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self._unix))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=relay, args=(listener, (socket.AF_INET, ("127.0.0.1", port))), daemon=True).start()

    def _wait_port(self, port: int) -> None:
        probe = [
            *self.hosts.exec_args(self.hosts.corp),
            sys.executable,
            "-c",
            f"import socket; socket.create_connection(('{netns.CORP}', {port}), 1).close()",
        ]
        for _ in range(100):
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return
            if any(p.poll() is not None for p in self._procs):
                break
            time.sleep(0.2)
        raise RuntimeError(f"corp: nothing listens on port {port}; logs in {self.workdir}")

    # --- content -------------------------------------------------------------------------------------------

    def add_git_repo(self, url_path: str, source: Path) -> None:
        """Serve the git repository `source` (all refs) at https://CORP/<url_path> (e.g. github/x/y.git)."""
        target = self.root / "git" / url_path
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--mirror", str(source), str(target)], check=True)

    def add_bare_repo(self, url_path: str, bare: Path) -> None:
        """Serve the bare repository `bare` as it is, moved into place (shallow ones too, which `git clone
        --mirror` refuses to copy): e.g. unpacked from ../shared/upstream/git (realengine.upstream)."""
        target = self.root / "git" / url_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(bare, target)

    def add_tree(self, url_path: str, source: Path) -> None:
        """Serve the files under `source` as static files under https://CORP/<url_path>/ (copied: the server
        serves nothing outside its root)."""
        shutil.copytree(source, self.root / "www" / url_path, dirs_exist_ok=True)

    def add_file(self, url_path: str, content: bytes) -> None:
        target = self.root / "www" / url_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    # --- logs ----------------------------------------------------------------------------------------------

    def logs(self) -> str:
        parts = []
        for path in (self.registry_log, self.http_log, self.proxy_log, self.apt_log):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"==> {path.name} <==\n{text}")
        return "\n".join(parts)

    def close(self) -> None:
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if hasattr(self, "_listener"):
            self._listener.close()


def _free_port() -> int:
    rng = random.Random()  # noqa: S311 - a port, not a secret
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for apt-cacher-ng")
