"""Test hosts for builds on a real Docker engine: network namespaces, the corp mirrors, a private dockerd.

Reusable by any test that needs a real build behind a firewall (the firewall rehearsal, CA trust checks).
Everything here needs root and Debian's docker.io, debootstrap, docker-registry, tinyproxy, apt-cacher-ng,
openssl, iproute2 and iptables; `missing()` says what is absent so a test can skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TOOLS = (
    "dockerd",
    "containerd",
    "debootstrap",
    "docker-registry",
    "tinyproxy",
    "apt-cacher-ng",
    "openssl",
    "ip",
    "iptables",
    "git",
    "make",
)
# Debian's 20.10 client: the 28.x one that may come first on PATH refuses BuildKit without buildx.
DOCKER_CLIENT = Path("/usr/bin/docker")


def missing() -> list[str]:
    """Why these helpers cannot run here (empty when they can)."""
    why = [] if os.geteuid() == 0 else ["root"]
    for tool in TOOLS:
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            why.append(tool)
    if not DOCKER_CLIENT.exists():
        why.append(str(DOCKER_CLIENT))
    return why


def cache_dir() -> Path:
    """Outside the clone, next to the CI tool cache: debootstrap results and the apt cache survive runs."""
    base = os.environ.get("MOBYCI_CI_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path(os.environ.get("HOME") or "/root") / ".cache") / "mobyci-ci"
    )
    path = Path(base) / "rehearsal"
    path.mkdir(parents=True, exist_ok=True)
    return path
