"""A real Docker engine for tests: a private dockerd, Debian images made by debootstrap, and the rule that such
tests skip where no engine can run but fail under `.ci/run` (which installs one and sets MOBYCI_REQUIRE_EXTERNAL=1).

The daemon gets its own data root, socket and short exec root, no bridge and no iptables rules (builds use the
host network), so that it neither touches nor collides with any other daemon on the machine; it is stopped by
its pid and its directories removed, also when a test fails.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DOCKER = "/usr/bin/docker"  # Debian's 20.10 client: builds with the daemon's BuildKit without the buildx plugin
CACHE = Path(os.environ.get("MOBYCI_CI_CACHE") or Path.home() / ".cache" / "mobyci-ci") / "real-engine"
# The official debian:bookworm image's sources (deb822; no sources.list), which moby's Dockerfiles rewrite.
BOOKWORM_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def require_real_engine() -> None:
    """Skip without root or the tools; under .ci/run (MOBYCI_REQUIRE_EXTERNAL=1) a missing piece is a failure."""
    missing = [tool for tool in ("dockerd", "debootstrap", "openssl", "docker-registry") if not shutil.which(tool)]
    if not os.path.exists(DOCKER):
        missing.append(DOCKER)
    reason = "needs root" if os.geteuid() != 0 else (f"missing {', '.join(missing)}" if missing else "")
    if not reason:
        return
    if os.environ.get("MOBYCI_REQUIRE_EXTERNAL") == "1":
        pytest.fail(f"real-engine test cannot run ({reason}) but MOBYCI_REQUIRE_EXTERNAL=1: .ci/run installs docker.io")
    pytest.skip(f"real-engine test: {reason} (bash .ci/run runs it)")


def rootfs(name: str, include: tuple[str, ...] = ()) -> Path:
    """A cached `debootstrap --variant=minbase bookworm` tarball with the official image's apt sources."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"rootfs-bookworm-{name}.tar"
    with (CACHE / f"{tarball.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be making the same one
        if tarball.exists():
            return tarball
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            root = Path(tmp) / "root"
            args = ["debootstrap", "--variant=minbase"]
            if include:
                args.append("--include=" + ",".join(include))
            subprocess.run(
                [*args, "bookworm", str(root), "http://deb.debian.org/debian"],
                check=True,
                capture_output=True,
                timeout=1200,
            )
            (root / "etc/apt/sources.list").unlink(missing_ok=True)
            (root / "etc/apt/sources.list.d/debian.sources").write_text(BOOKWORM_SOURCES)
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True, timeout=600)
            partial.rename(tarball)
    return tarball


class Engine:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{home}/docker.sock", "DOCKER_CONFIG": str(home / "cli")}

    def docker(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [DOCKER, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def import_rootfs(self, tarball: Path, image: str) -> None:
        with tarball.open("rb") as data:
            subprocess.run(
                [DOCKER, "import", "-", image], stdin=data, env=self.env, check=True, capture_output=True, timeout=600
            )


@contextmanager
def dockerd(tmp: Path) -> Iterator[Engine]:
    home = tmp / "engine"
    home.mkdir()
    exec_root = Path(tempfile.mkdtemp(prefix="mci", dir="/tmp"))  # unix socket paths are short
    log = (home / "dockerd.log").open("w")
    process = subprocess.Popen(
        [
            "dockerd",
            "--data-root", str(home / "data"),
            "--exec-root", str(exec_root),
            "--host", f"unix://{home}/docker.sock",
            "--pidfile", str(home / "dockerd.pid"),
            "--bridge", "none",
            "--iptables=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    engine = Engine(home)
    try:
        deadline = time.monotonic() + 60
        while engine.docker("version", check=False, timeout=30).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dockerd did not start:\n" + (home / "dockerd.log").read_text()[-3000:])
            time.sleep(0.5)
        yield engine
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()
        # Mounts left by a killed daemon would keep the data root busy.
        subprocess.run(["umount", "-R", str(home / "data")], capture_output=True, check=False)
        shutil.rmtree(home / "data", ignore_errors=True)
        shutil.rmtree(exec_root, ignore_errors=True)
