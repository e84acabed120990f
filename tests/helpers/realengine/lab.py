"""The whole test network in one object: corp with its mirrors, the runner with its engine, the base images.

    with Lab(workdir, images={"library/debian:bullseye": ("bullseye", False)}) as lab:
        lab.runner(["curl", ...])            # a command with the runner's network only
        lab.dockerd.docker("build", ...)      # the runner's engine

Closing stops the engine and the corp services by pid, deletes the namespaces, and checks that the host
namespace's iptables rules are what they were before.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine import dockerd as dockerdmod
from tests.helpers.realengine import images as imagesmod
from tests.helpers.realengine import netns


def iptables_rules() -> str:
    """The host namespace's iptables rules, without counters and comments (iptables-save's timestamps)."""
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("#") and not line.startswith(":"))


class Lab:
    def __init__(self, workdir: Path, *, images: dict[str, tuple[str, bool]]) -> None:
        """`images`: registry name -> (Debian release, golang flavour), pushed to the corp registry."""
        self.workdir = workdir
        self._images = images
        self._iptables_before = iptables_rules()
        self.hosts: netns.Hosts | None = None
        self.corp: corpmod.Corp | None = None
        self.dockerd: dockerdmod.Dockerd | None = None

    def __enter__(self) -> Self:
        try:
            self.hosts = netns.Hosts()
            (self.workdir / "corp").mkdir(parents=True)
            (self.workdir / "runner").mkdir(parents=True)
            self.corp = corpmod.Corp(self.hosts, self.workdir / "corp")
            self.dockerd = dockerdmod.Dockerd(
                self.workdir / "runner",
                netns=self.hosts.runner,
                # The corp registry stands in for Docker Hub, as the runners' daemon.json would say.
                args=("--registry-mirror", f"https://{corpmod.REGISTRY}", "--storage-driver", "overlay2"),
                ca=self.corp.ca,
            )
            same: dict[tuple[str, bool], list[str]] = {}
            for name, flavour in self._images.items():
                same.setdefault(flavour, []).append(name)
            for (release, golang), names in same.items():
                imagesmod.publish(self.dockerd.docker, corpmod.REGISTRY, names, release, golang=golang, ca=self.corp.ca)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def runner(
        self, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `args` with the runner's network (and the host's files), DOCKER_HOST at the runner's engine.

        The environment is `env` over a minimal one: none of this process's variables (CA bundle overrides,
        proxies) leak into what the runner does.
        """
        assert self.hosts is not None
        assert self.dockerd is not None
        return subprocess.run(
            [*self.hosts.enter_args(self.hosts.runner), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": os.environ.get("HOME", "/root"),
                "LANG": "C.UTF-8",
                **self.dockerd.env(),
                **(env or {}),
            },
            cwd=cwd,
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        for part in (self.dockerd, self.corp):
            if part is not None:
                part.close()
        if self.hosts is not None:
            self.hosts.close()
        self.dockerd = self.corp = self.hosts = None

    def host_leftovers(self) -> list[str]:
        """What the lab left in the host namespace (call after close): namespaces, iptables changes."""
        mine = f"-{os.getpid()}-"
        left = [n for n in netns.names() if n.startswith("mobyci-") and mine in n]
        left += [str(p) for p in Path("/etc/netns").glob(f"mobyci-*{mine}*")]
        if iptables_rules() != self._iptables_before:
            left.append("iptables rules changed in the host namespace")
        return left
