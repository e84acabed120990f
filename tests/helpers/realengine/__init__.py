"""Test hosts for builds on a real Docker engine: a private dockerd, debootstrap images, network namespaces, a
test CA and TLS registry, the corp mirrors.

Shared by every engine test (the firewall rehearsal, the corporate-CA checks, the dind service). Everything here
needs root and Debian's docker.io & co.; `require()` skips a test where they are missing, or fails it where the
run promised they are there (`.ci/run` installs them and sets MOBYCI_REQUIRE_EXTERNAL=1).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

# What a private engine and its images need; the firewall rehearsal needs REHEARSAL_TOOLS besides.
ENGINE_TOOLS = ("dockerd", "containerd", "debootstrap", "openssl", "docker-registry")
NETNS_TOOLS = ("ip", "iptables", "nsenter")
REHEARSAL_TOOLS = (*ENGINE_TOOLS, *NETNS_TOOLS, "tinyproxy", "apt-cacher-ng", "git", "make")
# Debian's 20.10 client: the 28.x one that may come first on PATH refuses BuildKit without buildx.
DOCKER_CLIENT = Path("/usr/bin/docker")


def missing(tools: Iterable[str] = REHEARSAL_TOOLS) -> list[str]:
    """Why these helpers cannot run here (empty when they can)."""
    why = [] if os.geteuid() == 0 else ["root"]
    for tool in tools:
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            why.append(tool)
    if not DOCKER_CLIENT.exists():
        why.append(str(DOCKER_CLIENT))
    return why


def require(what: str, tools: Iterable[str], *, strict_var: str = "MOBYCI_REQUIRE_EXTERNAL") -> None:
    """Skip `what` where `tools` (or root) are missing; fail instead when `strict_var` is 1, as .ci/run sets it."""
    why = missing(tools)
    if not why:
        return
    message = f"{what} needs {', '.join(why)}"
    if os.environ.get(strict_var) == "1":
        pytest.fail(f"{message} ({strict_var}=1: install them, as .ci/run does)")
    pytest.skip(f"{message} (bash .ci/run runs it)")


def cache_dir() -> Path:
    """Outside the clone, next to the CI tool cache: root filesystems and the apt cache survive runs."""
    base = os.environ.get("MOBYCI_CI_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path(os.environ.get("HOME") or "/root") / ".cache") / "mobyci-ci"
    )
    path = Path(base) / "real-engine"
    path.mkdir(parents=True, exist_ok=True)
    return path
