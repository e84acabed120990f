"""Distro mirrors (and the CA of tls.ca_certs, plan/packagingca.py) for docker-ce-packaging's package images: which
blocks each package Dockerfile gets.

Every deb/<distro>/Dockerfile and rpm/<distro>/Dockerfile builds `FROM ${BUILD_IMAGE}` (the distro image) and then
runs apt-get or dnf against the distro's own archives (docs/packaging.md lists the lines per branch). The packaging
patch (patch/packaging.py, the engine moby's patch runs) inserts, right after that FROM, a marked block of RUN lines
that rewrite the image's package sources to the spec's mirror. This module decides the lines, per distro and spec.
"""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

from mobyci.families import distros
from mobyci.families.packaging_data import RASPBIAN_HOSTS, http_form, plain_http_apt, serving_setting
from mobyci.patch.packaging import dockerfile_rule
from mobyci.patch.rules import MARKER_PREFIX, Rule, debian_apt_lines
from mobyci.plan.packagingca import ca_rule
from mobyci.specmodel.compiled import Mirrors

PATCH_FILE = "mobyci-packaging-patch.sh"

# CentOS Stream repositories enabled by default or by the Dockerfiles (crb), as the metalink names them, and their
# directory on a mirror laid out like mirror.stream.centos.org.
_STREAM_REPOS = (
    ("baseos", "$stream/BaseOS/$basearch/os/"),
    ("appstream", "$stream/AppStream/$basearch/os/"),
    ("crb", "$stream/CRB/$basearch/os/"),
    ("extras-sig-extras-common", "SIGs/$stream/extras/$basearch/extras-common/"),
)


class DistroMirror(NamedTuple):
    distro: str
    setting: str  # the spec key that serves it
    dockerfile: str  # relative to the packaging checkout
    lines: tuple[str, ...]  # inserted after the marker, after every FROM of the distro image

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}{self.rule_id}"

    @property
    def rule_id(self) -> str:
        return f"distro-mirror-{self.distro}"

    @property
    def body(self) -> tuple[str, ...]:
        return (self.marker, *self.lines)

    @property
    def rules(self) -> tuple[Rule, ...]:
        title = f"the {self.distro} package image uses {self.setting}"
        return (dockerfile_rule(self.rule_id, title, self.lines, (self.dockerfile,)),)


class DockerfileBlock(NamedTuple):
    """Everything the patch inserts after the FROM of the distro image in one Dockerfile: marked blocks, the CA's
    first (tls.ca_certs), then the distro mirror's."""

    distro: str
    setting: str  # what the patch reports when it writes the file
    dockerfile: str
    rules: tuple[Rule, ...]


def dockerfile_blocks(mirrors: Mirrors, targets: list[tuple[str, str]], *, ca: bool) -> list[DockerfileBlock]:
    """The blocks of every Dockerfile the patch changes, in spec order: the distro mirror's where one serves it
    and, with `ca`, the CA's in every one."""
    out = []
    for kind, distro in targets:
        mirror = distro_mirror(mirrors, kind, distro, ca=ca)
        dockerfile = f"{kind}/{distro}/Dockerfile"
        rules = ((ca_rule(kind, dockerfile),) if ca else ()) + (mirror.rules if mirror else ())
        settings = (["tls.ca_certs"] if ca else []) + ([mirror.setting] if mirror else [])
        if rules:
            out.append(DockerfileBlock(distro, ", ".join(settings), dockerfile, rules))
    return out


def distro_mirror(mirrors: Mirrors, kind: str, distro: str, *, ca: bool) -> DistroMirror | None:
    """The block that points `distro`'s package image at the spec's mirror, or None when no mirror serves it.
    `ca`: the image trusts tls.ca_certs (a bundle its apt can verify https with); without it, a deb image reaches an
    https mirror in its http form (packaging_data.plain_http_apt)."""
    found = distros.distro(distro)
    assert found is not None, distro  # validated: a distro of the branch
    family, release = found.vendor.name, found.release
    setting = serving_setting(mirrors, distro)

    def url(value: str) -> str:
        return (http_form(value) or value) if plain_http_apt(distro, ca=ca) else value

    lines: list[str] | None = None
    if family == "debian" and mirrors.apt is not None:
        lines = debian_apt_lines(mirrors, release, url)
    elif family == "raspbian" and mirrors.raspbian is not None:
        hosts = "|".join(re.escape(h) for h in RASPBIAN_HOSTS)
        lines = _sed_run(
            ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list"),
            [f"s#https?://({hosts})/raspbian/?#{_repl(url(mirrors.raspbian))}/#g"],
        )
    elif family == "ubuntu" and mirrors.ubuntu is not None and mirrors.ubuntu.archive is not None:
        exprs = [rf"s#https?://(archive|security)\.ubuntu\.com/ubuntu/?#{_repl(url(mirrors.ubuntu.archive))}/#g"]
        if mirrors.ubuntu.ports is not None:
            exprs.append(rf"s#https?://ports\.ubuntu\.com/ubuntu-ports/?#{_repl(url(mirrors.ubuntu.ports))}/#g")
        # jammy and older: sources.list; noble and later: deb822 ubuntu.sources.
        lines = _sed_run(
            ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"), exprs
        )
    elif family == "fedora" and mirrors.fedora is not None:
        # fedora.repo and fedora-updates.repo carry a metalink and a commented baseurl on download.example.
        lines = _sed_run(
            ("/etc/yum.repos.d/fedora.repo", "/etc/yum.repos.d/fedora-updates.repo"),
            [
                "s|^metalink=|#metalink=|",
                f"s|^#baseurl=http://download[.]example/pub/fedora/linux/|baseurl={_repl(mirrors.fedora, '|')}/|",
            ],
        )
        # fedora-cisco-openh264.repo (enabled, a metalink too) is not on Fedora's mirrors: Cisco's CDN serves its
        # rpms (Fedora release engineering, "Generating Openh264 Composes"); no package build needs it: disabled.
        lines += _sed_run(("/etc/yum.repos.d/fedora-cisco-openh264.repo",), ["s|^enabled=1|enabled=0|"])
    elif family == "centos" and setting is not None and mirrors.centos_stream is not None:
        base = _repl(mirrors.centos_stream, "|")
        lines = _sed_run(
            ("/etc/yum.repos.d/centos.repo", "/etc/yum.repos.d/centos-addons.repo"),
            [
                f"s|^metalink=https://mirrors[.]centos[.]org/metalink[?]repo=centos-{repo}-[$]stream&.*|"
                f"baseurl={base}/{path}|"
                for repo, path in _STREAM_REPOS
            ],
        )
    if lines is None or setting is None:
        return None
    return DistroMirror(distro, setting, f"{kind}/{distro}/Dockerfile", tuple(lines))


def _repl(url: str, delimiter: str = "#") -> str:
    """`url` (without a trailing slash) as the replacement of a sed `s` command with `delimiter`."""
    return re.sub(rf"([\\&{re.escape(delimiter)}])", r"\\\1", url.rstrip("/"))


def _sed_run(files: tuple[str, ...], exprs: list[str]) -> list[str]:
    options = " ".join(f"-e {shlex.quote(e)}" for e in exprs)
    return [
        f"RUN for f in {' '.join(files)}; do \\",
        f'        if [ -f "$f" ]; then sed -E -i {options} "$f"; fi; \\',
        "    done",
    ]


def distro_mirrors(mirrors: Mirrors, targets: list[tuple[str, str]], *, ca: bool) -> list[DistroMirror]:
    """The blocks for every (kind, distro) the spec packages that a mirror serves, in spec order."""
    found = (distro_mirror(mirrors, kind, distro, ca=ca) for kind, distro in targets)
    return [m for m in found if m is not None]
