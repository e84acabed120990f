"""Where each release family reaches the network inside the moby tree, as data for the patch rules.

Read from the real trees (docs/families.md lists the tags and lines). The patch engine never branches on a
family's name: it looks the family up here. Adding a family means adding an entry to TOUCHPOINTS and, when
its tree looks different, a line to DETECTION.

File patterns are relative to the tree, use `*` only in the last segment, and contain only
[A-Za-z0-9._/*-]: the generated script expands them unquoted.
"""

from __future__ import annotations

from typing import NamedTuple

# Files that must all exist for a directory to be taken for a moby source tree.
TREE_MARKERS: tuple[str, ...] = ("Dockerfile", "Makefile", "hack/make.sh", "contrib/download-frozen-image-v2.sh")


class Exists(NamedTuple):
    path: str


class HasLine(NamedTuple):
    """The file has a line exactly equal to `text`."""

    path: str
    text: str


class LineStarts(NamedTuple):
    """The file has a line starting with `prefix`."""

    path: str
    prefix: str


class Contains(NamedTuple):
    """The file contains `text` somewhere."""

    path: str
    text: str


Condition = Exists | HasLine | LineStarts | Contains

# Family detection from the tree's own files: the first entry whose conditions all hold wins.
# Checked against every release tag v19.03.0 … docker-v29.7.2 (143 tags) with no misclassification.
DETECTION: tuple[tuple[str, tuple[Condition, ...]], ...] = (
    ("29", (HasLine("go.mod", "module github.com/moby/moby/v2"),)),
    ("20.10", (Exists("vendor.conf"), LineStarts("Dockerfile", "ARG BASE_DEBIAN_DISTRO="))),
    ("19.03", (Exists("vendor.conf"),)),
    (
        "24.0",
        (
            LineStarts("docker-bake.hcl", 'variable "APT_MIRROR"'),
            Contains("docker-bake.hcl", 'target "docker-metadata-action"'),
        ),
    ),
    ("23.0", (LineStarts("docker-bake.hcl", 'variable "APT_MIRROR"'),)),
    ("25-28", (Exists("docker-bake.hcl"),)),
)

DETECTION_HINT = "no go.mod for github.com/moby/moby/v2, no vendor.conf, no docker-bake.hcl"


class Touchpoints(NamedTuple):
    """The files and anchors one family's patch rules work on."""

    # Files holding git fetch URLs: `git clone https://…`, `git remote add origin "https://…"`,
    # repository ARG defaults, BuildKit `ADD https://…git?ref=` sources.
    git_files: tuple[str, ...]
    # Files holding download.docker.com static-binary URLs.
    download_files: tuple[str, ...]
    # The frozen-image download script (registryBase, token requests).
    frozen_script: str
    # The Dockerfile the make targets build, and the stage every build stage descends from.
    dockerfile: str
    base_stage: str
    # Stages that run apt without any APT_MIRROR hook: the apt rule injects its own rewrite there.
    apt_unhooked_stages: tuple[str, ...]
    # The Debian stages every other Debian stage descends from (`FROM base AS …`, `FROM dev-base AS …`): a CA
    # installed into their trust store is in every stage built on them. The other stages start from images
    # that never reach the network in this Dockerfile (tonistiigi/xx, busybox, scratch, vpnkit, registry,
    # buildx-bin, compose-bin, docker:dind): they only provide files to COPY --from.
    debian_roots: tuple[str, ...] = ("base", "frozen-images")
    # Plain downloads from GitHub's own URL layouts (/archive/, /releases/download/) inside git_files: a git
    # prefix rule would send them to a git mirror, which serves neither layout. (URL, where it is.)
    github_downloads: tuple[tuple[str, str], ...] = ()
    # The dev image runs `pip3 install` (yamllint: v19.03.12 Dockerfile:289, v20.10.27:310, v24.0.9:542).
    pip_install: bool = False


_GIT = ("Dockerfile", "hack/dockerfile/install/*.installer", "hack/dockerfile/cli.sh")
_DOWNLOADS = ("hack/dockerfile/install/dockercli.installer", "Dockerfile", "hack/dockerfile/cli.sh")
_FROZEN = "contrib/download-frozen-image-v2.sh"
# The criu stage's source tarball (v19.03.12 Dockerfile:56, v20.10.27 Dockerfile:38); 23.0+ install criu from
# openSUSE's apt repository instead.
_CRIU = (("https://github.com/checkpoint-restore/criu/archive/v${CRIU_VERSION}.tar.gz", "Dockerfile, criu stage"),)


def _touchpoints(
    *,
    apt_unhooked: tuple[str, ...],
    debian_roots: tuple[str, ...] = ("base", "frozen-images"),
    github_downloads: tuple[tuple[str, str], ...] = (),
    pip: bool = False,
) -> Touchpoints:
    return Touchpoints(
        git_files=_GIT,
        download_files=_DOWNLOADS,
        frozen_script=_FROZEN,
        dockerfile="Dockerfile",
        base_stage="base",
        apt_unhooked_stages=apt_unhooked,
        debian_roots=debian_roots,
        github_downloads=github_downloads,
        pip_install=pip,
    )


TOUCHPOINTS: dict[str, Touchpoints] = {
    # 19.03: frozen-images is `FROM base`, so the build arg's hook in base covers every apt stage.
    "19.03": _touchpoints(apt_unhooked=(), debian_roots=("base",), github_downloads=_CRIU, pip=True),
    # 20.10 - 24.0: base has the APT_MIRROR hook; frozen-images is `FROM debian:…` and never sees it.
    "20.10": _touchpoints(apt_unhooked=("frozen-images",), github_downloads=_CRIU, pip=True),
    "23.0": _touchpoints(apt_unhooked=("frozen-images",), pip=True),
    "24.0": _touchpoints(apt_unhooked=("frozen-images",), pip=True),
    # 25+: no hook at all; every apt stage descends from base or frozen-images.
    "25-28": _touchpoints(apt_unhooked=("base", "frozen-images")),
    "29": _touchpoints(apt_unhooked=("base", "frozen-images")),
}
