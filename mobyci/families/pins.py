"""What each docker-ce-packaging branch builds next to the engine and the CLI, and the Go each of those needs: read
by the facts generator (generate.py) from the branch heads and from clones of the pinned repositories.

A package image builds every component with the one Go it copies out of GO_IMAGE, and from 24.0 the package
Dockerfiles set `ENV GOTOOLCHAIN=local` (24.0 `deb/debian-bookworm/Dockerfile:19`, 28.x `:19`), so Go refuses a
module whose `go` line is newer than itself instead of downloading a toolchain. Older toolchains compile such a
module but fail on the language features it uses: buildx v0.10.4 (20.10's `plugins/buildx.installer:9`) says
`go 1.17` in its go.mod, but vendors github.com/moby/buildkit v0.11.2, `## explicit; go 1.18`
(`vendor/modules.txt:437`), whose `solver/result/result.go:105` declares type parameters. So a component's need
is the highest `go` line of its go.mod and of the modules it vendors (vendor/modules.txt records each one's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from mobyci.errors import MobyciError

# common.mk (27.x on): `DOCKER_<NAME>_REPO ?= URL` and `DOCKER_<NAME>_REF ?= ref`; CLI and ENGINE are the sources
# mobyci puts in place itself.
_MK_VAR = re.compile(r"^DOCKER_([A-Z]+)_(REPO|REF)\s*\?=\s*(\S+)")
_OWN = ("CLI", "ENGINE")
# plugins/<name>.installer (19.03, 20.10): `PKG=github.com/docker/buildx`, `REPO=https://${PKG}.git`,
# `: "${BUILDX_COMMIT=v0.10.4}"` or `COMMIT=v0.9.1-beta3`.
_INSTALLER_PKG = re.compile(r"^PKG=(\S+)")
_INSTALLER_REPO = re.compile(r"^REPO=(\S+)")
_INSTALLER_REF = re.compile(r'^(?::\s*"\$\{[A-Z_]*COMMIT:?=([^}]+)\}"|COMMIT=(\S+))')
_GO_LINE = re.compile(r"^go\s+(1\.\d+(?:\.\d+)?)\s*$")
_VENDORED_GO = re.compile(r"^## explicit; go (1\.\d+(?:\.\d+)?)\s*$")


class Pin(NamedTuple):
    """A component a branch builds, at the ref it pins."""

    name: str  # buildx, compose, model, app
    repo: str  # the URL the branch clones
    ref: str
    pinned_at: str  # file:line of the ref on the branch


class Need(NamedTuple):
    go: str | None  # the lowest Go that builds it; None: no go.mod (a GOPATH build, no go line to honour)
    source: str  # where that figure is read, file:line at the ref


def github_name(url: str) -> str:
    """owner/name of a github.com clone URL."""
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?", url)
    if match is None:
        raise MobyciError(f"{url}: not a github.com repository URL")
    return match.group(1)


def common_mk_pins(text: str) -> list[Pin]:
    """The components common.mk pins (27.x on), in the file's order of their REF lines."""
    repos: dict[str, str] = {}
    refs: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _MK_VAR.match(line)
        if match is None or match.group(1) in _OWN:
            continue
        name, kind, value = match.groups()
        if kind == "REPO":
            repos[name] = value
        else:
            refs[name] = (value.strip('"'), number)
    pins = []
    for name, (ref, number) in refs.items():
        if name not in repos:
            raise MobyciError(f"common.mk:{number}: DOCKER_{name}_REF without a DOCKER_{name}_REPO")
        pins.append(Pin(name.lower(), repos[name], ref, f"common.mk:{number}"))
    return pins


def installer_pin(path: str, text: str) -> Pin:
    """The repository and ref a plugins/<name>.installer (19.03, 20.10) clones and checks out."""
    pkg = repo = ref = None
    ref_line = 0
    for number, line in enumerate(text.splitlines(), 1):
        if (match := _INSTALLER_PKG.match(line)) is not None:
            pkg = match.group(1)
        elif (match := _INSTALLER_REPO.match(line)) is not None:
            repo = match.group(1)
        elif ref is None and (match := _INSTALLER_REF.match(line)) is not None:
            ref, ref_line = match.group(1) or match.group(2), number
    if repo is not None and pkg is not None:
        repo = repo.replace("${PKG}", pkg)
    if repo is None or ref is None or "$" in repo:
        raise MobyciError(f"{path}: cannot read the repository and the ref it checks out")
    name = path.rsplit("/", 1)[-1].removesuffix(".installer")
    return Pin(name, repo, ref, f"{path}:{ref_line}")


def go_need(gomod: bytes | None, modules_txt: bytes | None) -> Need:
    """The Go a module needs: the highest `go` line of its go.mod and of vendor/modules.txt."""
    if gomod is None:
        return Need(None, "no go.mod: built in GOPATH mode, no go line")
    best: tuple[tuple[int, ...], str, str] | None = None
    for path, text in (("go.mod", gomod), ("vendor/modules.txt", modules_txt)):
        pattern = _GO_LINE if path == "go.mod" else _VENDORED_GO
        for number, line in enumerate((text or b"").decode().splitlines(), 1):
            match = pattern.match(line)
            if match is None:
                continue
            key = go_key(match.group(1))
            if best is None or key > best[0]:
                best = (key, match.group(1), f"{path}:{number}")
    if best is None:
        return Need(None, "go.mod has no go line")
    return Need(best[1], best[2])


def go_key(version: str) -> tuple[int, ...]:
    """A Go version (1.22, 1.22.0, 1.22.10) as a comparable tuple; 1.22 and 1.22.0 compare equal."""
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def needs(pins: list[Pin], read: Callable[[str, str], tuple[bytes | None, bytes | None]]) -> list[Need]:
    """The need of every pin; `read(owner/name, ref)` gives (go.mod, vendor/modules.txt) at the ref."""
    return [go_need(*read(github_name(pin.repo), pin.ref)) for pin in pins]
