"""Two test hosts in network namespaces: `corp` (the mirrors) and `runner` (the engine), one veth between them.

The runner's only route is the corp link; corp has no route out either: an upstream corp may reach lives on
its own loopback (UPSTREAM). Names are private to this process, so concurrent tests never collide; the
addresses live inside the namespaces and never touch the host's network. `close()` kills what runs inside,
deletes both namespaces (their veths go with them) and the per-namespace /etc files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

CORP = "10.203.0.1"
RUNNER = "10.203.0.2"
# "The internet" as the corporate proxy sees it: an address on corp's loopback, unreachable from the runner.
UPSTREAM = "10.204.0.1"
UPSTREAM_NAME = "upstream.rehearsal.test"


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


class Hosts:
    def __init__(self) -> None:
        tag = f"{os.getpid()}-{time.monotonic_ns() % 100000}"
        self.corp = f"mobyci-corp-{tag}"
        self.runner = f"mobyci-runner-{tag}"
        self._etc = [Path("/etc/netns") / self.corp, Path("/etc/netns") / self.runner]
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        for etc in self._etc:
            etc.mkdir(parents=True)
            # No DNS: a lookup of a public name fails at once (nothing listens there), never leaks out.
            (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        (self._etc[0] / "hosts").write_text(f"127.0.0.1 localhost\n{UPSTREAM} {UPSTREAM_NAME}\n")
        (self._etc[1] / "hosts").write_text("127.0.0.1 localhost\n")
        ip("netns", "add", self.corp)
        ip("netns", "add", self.runner)
        ip("-n", self.corp, "link", "add", "corp0", "type", "veth", "peer", "name", "runner0", "netns", self.runner)
        ip("-n", self.corp, "addr", "add", f"{CORP}/24", "dev", "corp0")
        ip("-n", self.runner, "addr", "add", f"{RUNNER}/24", "dev", "runner0")
        ip("-n", self.corp, "addr", "add", f"{UPSTREAM}/32", "dev", "lo")
        for ns, dev in ((self.corp, "corp0"), (self.runner, "runner0")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", dev, "up")

    def exec_args(self, ns: str) -> list[str]:
        """The prefix that runs a command inside namespace `ns` (with its /etc/netns files).

        `ip netns exec` also mounts a new /sys, which hides the cgroup mounts: dockerd needs `enter_args`.
        """
        return ["ip", "netns", "exec", ns]

    def enter_args(self, ns: str) -> list[str]:
        """The prefix that runs a command in the network namespace `ns` only (the host's mounts and /etc)."""
        return ["nsenter", f"--net=/var/run/netns/{ns}"]

    def close(self) -> None:
        for ns in (self.corp, self.runner):
            _kill_inside(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for etc in self._etc:
            shutil.rmtree(etc, ignore_errors=True)


def _kill_inside(ns: str) -> None:
    """Stop every process still running in `ns` (all started by the test), by pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
        pids = [int(p) for p in done.stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for _ in range(50):
            done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
            if not done.stdout.split():
                return
            time.sleep(0.1)


def names() -> list[str]:
    """Network namespaces on this machine (to check that a test left none behind)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]
