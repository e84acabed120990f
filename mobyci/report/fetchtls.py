"""TLS in the fetch inventory: whether a fetch opens a TLS connection, and whether its client trusts the CA of
tls.ca_certs, by where mobyci installs it (notes.py `ca_places` lists the same places).

A fetch is over TLS when the URL its client connects to is https (git over https too): the mirror's when a mirror
serves it, else the endpoint's own; a registry is always https (validation refuses a plain-http mirror). Behind an
inspecting proxy, such a fetch fails with `x509: certificate signed by unknown authority` unless its client trusts
the CA. Trust is one of:

- yes: mobyci puts the CA where that client reads it (the job's git and pip, the patched Dockerfile stages, the
  package images, the docker-in-docker daemon, the BuildKit builders' registry config and system bundle);
- no: it does not: `--strict` names these when tls.ca_certs is set (no client is left so today);
- runner: the runner's own daemon or agent fetches it; its administrator installs the CA there.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mobyci.plan.network import Network

TRUSTS = ("yes", "no", "runner")


class Tls(NamedTuple):
    tls: bool
    trust: str  # one of TRUSTS, or "" (not over TLS, or the spec has no tls.ca_certs)
    where: str  # the client, and where it reads the CA


def over_tls(url: str) -> bool:
    """A URL with a scheme, or a GOPROXY list (any https proxy, or `direct`: the module's VCS host over https)."""
    return any(e.strip().startswith("https://") or e.strip() == "direct" for e in re.split(r"[,|]", url))


class Trust:
    """Who fetches what on the plan's CI system, and whether mobyci makes that client trust the CA."""

    def __init__(self, network: Network, builder: str) -> None:
        """`network`: the plan's (its CA entries and registry mirror). `builder`: the BuildKit that runs moby's
        build, as the rendered pipeline has it (fetches._tree_puller): "container" (a docker-container builder: it
        reads its system bundle, where the CA is appended, and the `ca` of its buildkitd config for Docker Hub and
        the registry mirror), "dind" (the docker-in-docker daemon reads the system bundle the service entrypoint
        added the CA to) or "host" (the runner's own daemon)."""
        self.ca = bool(network.ca_certs)
        self.builder = builder
        self.registry_mirror = network.mirrors.registry

    def mark(self, url: str | None, client: str) -> Tls:
        """`url`: what the client connects to (None: nothing is fetched); `client`: a key of _CLIENTS, or
        `builder-add`/`builder-pull`, which depend on the builder."""
        if url is None or not over_tls(url):
            return Tls(False, "", "")
        if not self.ca:
            return Tls(True, "", "")
        if client == "builder-add":
            return {
                "container": Tls(True, "yes", "BuildKit's ADD in a docker-container builder (its system bundle)"),
                "dind": Tls(True, "yes", "BuildKit's ADD in the docker-in-docker daemon (its system bundle)"),
                "host": Tls(True, "runner", "BuildKit's ADD in the runner's own daemon (its administrator's)"),
            }[self.builder]
        if client.endswith("-pull"):
            # builder-pull: the tree's builder; container-/dind-/host-pull: the one a job's pull names.
            puller = self.builder if client == "builder-pull" else client.removesuffix("-pull")
            hub = url.startswith("https://registry-1.docker.io")
            mirror = self.registry_mirror is not None and url.startswith(self.registry_mirror.rstrip("/"))
            if puller == "container":
                if hub or mirror:
                    return Tls(True, "yes", "the docker-container builder (buildkitd config ca = …)")
                return Tls(True, "yes", "the docker-container builder (its system bundle)")
            if puller == "dind":
                return Tls(True, "yes", "the docker-in-docker daemon (certs.d, system bundle)")
            return Tls(True, "runner", "the runner's own daemon (its administrator's certs.d)")
        trust, where = _CLIENTS[client]
        return Tls(True, trust, where)


_CLIENTS = {
    "stage": ("yes", "the build stage's store (patch rule ca)"),
    "job-git": ("yes", "the job's git (GIT_SSL_CAINFO)"),
    "check-pip": ("yes", "the check job's pip (PIP_CERT)"),
    "package-image": ("yes", "the package image's store (packaging patch)"),
    "dind-apk": ("yes", "apk in docker:cli (its bundle)"),
    "runner": ("runner", "the runner itself (its administrator's)"),
}
