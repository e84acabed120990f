"""The CA of tls.ca_certs in docker-ce-packaging's package images.

Every branch's deb/Makefile and rpm/Makefile build the image with `docker build … -f <distro>/Dockerfile .` run
from their own directory (`make -C deb|rpm`): the build context is deb/ or rpm/ (docs/packaging.md has the lines
per branch), so the CA goes to `<kind>/.mobyci/ca.crt` and the inserted COPY reads it from there. The packaging
patch copies it there from MOBYCI_CA_FILE (the file the job assembled from tls.ca_certs, plan/ca.py) and inserts
the lines right after every `FROM ${BUILD_IMAGE}`, above the distro-mirror block and every apt-get/dnf/yum line.
The package build containers run the same image, so its trust store also serves their Go module downloads and
git. The golang stage (`FROM ${GO_IMAGE} AS golang`) only provides /usr/local/go to COPY --from: left alone.
"""

from __future__ import annotations

from mobyci.patch.packaging import dockerfile_rule
from mobyci.patch.rules import CA_TREE_FILE, DEBIAN_CA_LINES, MARKER_PREFIX, Rule

RULE_ID = "ca"
MARKER = f"{MARKER_PREFIX}{RULE_ID}"
CONTEXT_FILE = CA_TREE_FILE  # relative to the build context, deb/ or rpm/
_ANCHOR = "/etc/pki/ca-trust/source/anchors/mobyci-ca.crt"
# Fedora, CentOS and RHEL (UBI) images: update-ca-trust (in ca-certificates, which the images' dnf/yum and openssl
# need) rebuilds /etc/pki/ca-trust/extracted, which /etc/pki/tls/certs/ca-bundle.crt links to; `extract` is the
# syntax every version accepts. Without the command, the CA goes straight into the bundle that dnf, curl and Go
# read, as the Debian lines do.
_RPM_LINES = (
    f"COPY {CA_TREE_FILE} {_ANCHOR}",
    "RUN if command -v update-ca-trust >/dev/null 2>&1; then update-ca-trust extract; \\",
    f"    else mkdir -p /etc/pki/tls/certs && cat {_ANCHOR} >> /etc/pki/tls/certs/ca-bundle.crt; fi",
)


def _ca_lines(kind: str) -> tuple[str, ...]:
    # deb/: Debian, Ubuntu, Raspbian images; bare ones have no ca-certificates until the Dockerfile's own
    # `apt-get install … curl … git` brings it, and its update-ca-certificates keeps /usr/local/share's CA.
    return DEBIAN_CA_LINES if kind == "deb" else _RPM_LINES


def ca_block(kind: str) -> tuple[str, ...]:
    """The marked lines that make a `kind` (deb or rpm) package image trust the CA."""
    return (MARKER, *_ca_lines(kind))


def ca_rule(kind: str, dockerfile: str) -> Rule:
    """The insertion of ca_block(kind) into the package Dockerfile `dockerfile`."""
    title = f"the {kind} package images trust the CA of tls.ca_certs ({trust_store(kind)})"
    return dockerfile_rule(RULE_ID, title, _ca_lines(kind), (dockerfile,))


def trust_store(kind: str) -> str:
    """For people: where the CA lands in a `kind` package image."""
    if kind == "deb":
        return "/usr/local/share/ca-certificates + update-ca-certificates"
    return "/etc/pki/ca-trust/source/anchors + update-ca-trust"
