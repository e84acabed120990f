"""Build the release facts table (releases.py) from local clones of moby/moby, docker/cli and
docker/docker-ce-packaging, reading git objects only: nothing of theirs is built or run.

The figures come from the repositories; the rules that read them are here, each next to the file it reads.
`python -m mobyci.facts` is the command (mobyci/facts.py); docs/families.md says when to run it.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mobyci.errors import MobyciError
from mobyci.families import pins
from mobyci.families.detect import condition_key, detect_from, holds_in
from mobyci.families.distros import vendor_names
from mobyci.families.targets import BundleLayout
from mobyci.families.touchpoints import DETECTION
from mobyci.families.versions import Version, tag_version

FIRST = Version(19, 3, 0)
_RELEASE_TAG = re.compile(r"^(?:docker-)?v\d+\.\d+\.\d+$")  # no -rc.N, -beta.N
_PACKAGING_BRANCH = re.compile(r"^(\d+)\.(\d+|x)$")
_CONDITIONS = tuple(dict.fromkeys(c for _, conditions in DETECTION for c in conditions))
_FILES = (
    "Dockerfile",
    "docker-bake.hcl",
    "hack/make/.binary",
    "hack/make/cross",
    "hack/make/binary-daemon",
    *(c.path for c in _CONDITIONS),
)

# golang images without a distro suffix (`FROM golang:1.12.5`, v19.03.0 and v19.03.1) were built on the
# image's default Debian release, which the tree does not name: Docker Hub's golang 1.12.5 tag was the
# stretch variant (buster variants became the default with Go 1.12.7, after Debian 10's release in July 2019).
_GOLANG_DEFAULT_DEBIAN = {"1.12.5": "stretch"}

# Debian architectures of `dpkg --add-architecture` in the Dockerfile's cross stage (19.03, 20.10) and the
# platforms `hack/make/cross` can build with them (it splits linux/arm/vN into GOARCH=arm GOARM=N).
_DEB_ARCH_PLATFORMS = {
    "arm64": ("linux/arm64",),
    "armel": ("linux/arm", "linux/arm/v5"),
    "armhf": ("linux/arm/v6", "linux/arm/v7"),
    "ppc64el": ("linux/ppc64le",),
    "s390x": ("linux/s390x",),
}
# hack/make/cross's default DOCKER_CROSSPLATFORMS, and the platform the runner itself is.
_CROSS_DEFAULT = ("linux/amd64", "windows/amd64")
# Go links -buildmode=pie without a C toolchain (internal linking) only on these linux platforms; elsewhere
# it needs the target's C linker, which hack/make/.binary sets (CC=…) for some platforms only.
_GO_INTERNAL_PIE = ("linux/amd64", "linux/arm64", "linux/ppc64le")


Row = tuple[object, ...]


class Git:
    """Read-only access to a bare or non-bare clone through the git command."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def run(self, *args: str, data: str | None = None) -> bytes:
        try:
            done = subprocess.run(
                ["git", f"--git-dir={self._git_dir()}", *args],
                input=None if data is None else data.encode(),
                capture_output=True,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            raise MobyciError(
                f"{self.dir}: git {' '.join(args)}: {exc.stderr.decode(errors='replace').strip()}"
            ) from None
        return done.stdout

    def _git_dir(self) -> Path:
        dot_git = self.dir / ".git"
        return dot_git if dot_git.exists() else self.dir

    def refs(self, pattern: str, fmt: str) -> list[str]:
        return self.run("for-each-ref", f"--format={fmt}", pattern).decode().splitlines()

    def blobs(self, specs: list[str]) -> dict[str, bytes | None]:
        """The content of each `rev:path` (None where it does not exist), in one `git cat-file --batch`."""
        out = self.run("cat-file", "--batch", data="".join(f"{s}\n" for s in specs))
        found: dict[str, bytes | None] = {}
        position = 0
        for spec in specs:
            end = out.index(b"\n", position)
            header = out[position:end].split()
            position = end + 1
            if header[-1] == b"missing" or header[1] != b"blob":
                found[spec] = None
                continue
            size = int(header[2])
            found[spec] = out[position : position + size]
            position += size + 1
        return found


class PackagingBranch(NamedTuple):
    branch: str
    commit: str
    go_version: str
    go_line: int  # line of `GO_VERSION:=` in common.mk
    deb: tuple[str, ...]
    rpm: tuple[str, ...]
    go_image_debian: str  # the Debian suffix of deb/Makefile's default GO_IMAGE
    go_image_at: str  # its file:line
    # (name, repository, ref, file:line of the pin, Go it needs or None, file:line of that figure at the ref)
    components: tuple[tuple[str, str, str, str, str | None, str], ...]


def _version_key(version: Version) -> tuple[int, int, int]:
    return (version.major, version.minor or 0, version.patch or 0)


def release_tags(git: Git) -> list[tuple[str, str, str]]:
    """(tag, commit, date) of every moby release tag from v19.03.0 on, oldest first."""
    rows = []
    for line in git.refs("refs/tags", "%(refname:short) %(objectname) %(*objectname) %(creatordate:short)"):
        name, obj, peeled, day = line.split(" ")
        version = tag_version(name)
        if version is None or not _RELEASE_TAG.match(name) or _version_key(version) < _version_key(FIRST):
            continue
        rows.append((name, peeled or obj, day))
    return sorted(rows, key=lambda r: _version_key(_tag_version(r[0])))


_PRERELEASE_TAG = re.compile(r"^(?:docker-)?v\d+\.\d+\.\d+-[0-9A-Za-z.]+$")


def prerelease_tags(git: Git) -> list[str]:
    """moby's pre-release tags (-rc.N, -beta.N, -rcN …) from v19.03.0 on, oldest first: validate checks a
    pre-release ref against them."""
    found = []
    for name in git.refs("refs/tags", "%(refname:short)"):
        version = tag_version(name)
        if version is None or not _PRERELEASE_TAG.match(name) or _version_key(version) < _version_key(FIRST):
            continue
        found.append((_version_key(version), _natural(name), name))
    return [name for *_, name in sorted(found)]


def _natural(text: str) -> tuple[tuple[int, str], ...]:
    """rc.2 before rc.10."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", text) if p)


def _tag_version(tag: str) -> Version:
    version = tag_version(tag)
    assert version is not None
    return version


def cli_tags(git: Git) -> list[str]:
    """docker/cli release tags from v19.03.0 on, oldest first."""
    names = [n for n in git.refs("refs/tags", "%(refname:short)") if _RELEASE_TAG.match(n) and n.startswith("v")]
    versions = [(v, n) for n in names if (v := tag_version(n)) is not None and _version_key(v) >= _version_key(FIRST)]
    # tag_version refuses v29+ without the docker- prefix (an engine rule); the CLI keeps plain v29.x tags.
    versions += [
        (Version(*(int(p) for p in n[1:].split("."))), n)
        for n in names
        if tag_version(n) is None and int(n[1:].split(".")[0]) >= 29
    ]
    return [n for _, n in sorted(versions, key=lambda p: _version_key(p[0]))]


def cli_ref(version: Version, tags: list[str]) -> tuple[str, str]:
    """The CLI tag docker-ce-packaging would build with the engine `version`, and how it was chosen."""
    same = f"v{version}"
    if same in tags:
        return same, "same tag"
    below = [
        t for t in tags if (v := _cli_version(t))[:2] == (version.major, version.minor) and v <= _version_key(version)
    ]
    if not below:
        raise MobyciError(f"docker/cli has no tag of the {version.major}.{version.minor} line at or below {same}")
    return below[-1], "newest CLI tag of the line at or below"


def _cli_version(tag: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in tag[1:].split("."))
    return (major, minor, patch)


def packaging_branches(git: Git, repos: dict[str, Git] | None = None) -> list[PackagingBranch]:
    """The release branches (N.M, N.x) and master of docker-ce-packaging, with their Go and distros, the
    components each builds next to the engine and the CLI, and the Go those need (read from `repos`, clones by
    owner/name)."""
    names = [
        line.split(" ", 1)
        for line in git.refs("refs/heads", "%(refname:short) %(objectname)")
        + git.refs("refs/remotes/origin", "%(refname:lstrip=3) %(objectname)")
    ]
    heads = {
        name: commit
        for name, commit in names
        if (_PACKAGING_BRANCH.match(name) and _branch_key(name) >= (FIRST.major, FIRST.minor or 0)) or name == "master"
    }
    branches = []
    for name in sorted(heads, key=_branch_key):
        commit = heads[name]
        common = git.blobs([f"{commit}:common.mk"])[f"{commit}:common.mk"] or b""
        go_version, go_line = _make_assignment(common, "GO_VERSION")
        deb, rpm = (_dirs(git, commit, fmt, tuple(f"{v}-" for v in vendor_names(fmt))) for fmt in ("deb", "rpm"))
        image_debian, image_line = _go_image_debian(git.blobs([f"{commit}:deb/Makefile"])[f"{commit}:deb/Makefile"])
        components = _components(git, name, commit, common, repos or {})
        branches.append(
            PackagingBranch(
                name, commit, go_version, go_line, deb, rpm, image_debian, f"deb/Makefile:{image_line}", components
            )
        )
    return branches


def _go_image_debian(makefile: bytes | None) -> tuple[str, int]:
    """`GO_IMAGE?=$(GO_BASE_IMAGE):$(GO_VERSION)-bookworm` (`=` on 19.03): the golang image variant the branch uses."""
    for number, line in enumerate((makefile or b"").decode().splitlines(), 1):
        match = re.match(r"^GO_IMAGE\s*\??=\s*\$\(GO_BASE_IMAGE\):\$\(GO_VERSION\)-([a-z]+)\s*$", line)
        if match:
            return match.group(1), number
    raise MobyciError("deb/Makefile: no GO_IMAGE default")


def _components(
    git: Git, branch: str, commit: str, common: bytes, repos: dict[str, Git]
) -> tuple[tuple[str, str, str, str, str | None, str], ...]:
    """What the branch builds besides the engine and the CLI: common.mk's pins (27.x on), else the plugins/*.installer
    scripts (19.03, 20.10); with the Go each needs at its ref."""
    found = pins.common_mk_pins(common.decode())
    if not found:
        listing = git.run("ls-tree", "--name-only", commit, "plugins/").decode().split()
        installers = sorted(p for p in listing if p.endswith(".installer"))
        texts = git.blobs([f"{commit}:{p}" for p in installers])
        found = [pins.installer_pin(p, (texts[f"{commit}:{p}"] or b"").decode()) for p in installers]

    def read(name: str, ref: str) -> tuple[bytes | None, bytes | None]:
        clone = repos.get(name)
        if clone is None:
            raise MobyciError(
                f"docker-ce-packaging {branch} builds {name} at {ref}: give a clone of it (--repo {name}=DIR)"
            )
        clone.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")  # a ref the clone lacks stops here
        got = clone.blobs([f"{ref}:go.mod", f"{ref}:vendor/modules.txt"])
        return got[f"{ref}:go.mod"], got[f"{ref}:vendor/modules.txt"]

    return tuple(
        (pin.name, pin.repo, pin.ref, pin.pinned_at, need.go, need.source)
        for pin, need in zip(found, pins.needs(found, read), strict=True)
    )


def _branch_key(name: str) -> tuple[int, float]:
    match = _PACKAGING_BRANCH.match(name)
    if match is None:  # master: after every release branch
        return (10**6, 0)
    return (int(match.group(1)), float("inf") if match.group(2) == "x" else int(match.group(2)))


def packaging_branch_for(version: Version, branches: list[PackagingBranch]) -> str:
    """The branch a release is packaged from: its own line's branch (N.M or N.x), else the oldest later
    release branch (no 25.0 or 26.x branch exists: 27.x builds them), else master."""
    key = (version.major, version.minor or 0)
    for branch in branches:
        if branch.branch != "master" and _branch_key(branch.branch) >= key:
            return branch.branch
    return "master"


def _make_assignment(text: bytes, name: str) -> tuple[str, int]:
    for number, line in enumerate(text.decode().splitlines(), 1):
        match = re.match(rf"^{name}\s*[:?]?=\s*(\S+)", line)
        if match:
            return match.group(1), number
    raise MobyciError(f"common.mk: no {name} assignment")


def _dirs(git: Git, commit: str, top: str, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    listing = git.run("ls-tree", "--name-only", f"{commit}:{top}").decode().splitlines()
    return tuple(sorted(n for n in listing if n.startswith(prefixes)))


class TreeFacts(NamedTuple):
    family: str
    go_version: str
    go_line: int
    debian: str
    debian_line: int
    cross: tuple[str, ...]
    bundles: BundleLayout  # "bake" (bundles/binary …) or "classic" (bundles/binary-daemon …)
    holds: tuple[str, ...]  # condition_key of every detection condition that holds


def tree_facts(tag: str, files: dict[str, bytes | None]) -> TreeFacts:
    """What one tag's tree says, from the contents of _FILES (None: absent)."""
    holds = tuple(condition_key(c) for c in _CONDITIONS if holds_in(files.get(c.path), c))
    family = detect_from(set(holds))
    if family is None:
        raise MobyciError(f"{tag}: no family detection rule matches the tree")
    dockerfile = (files.get("Dockerfile") or b"").decode()
    go_version, go_line = _go_version(tag, dockerfile)
    debian, debian_line = _debian(tag, dockerfile, go_version)
    bake = files.get("docker-bake.hcl")
    if bake is not None:
        cross = _bake_platforms(tag, bake.decode())
    else:
        cross = _classic_cross(dockerfile, (files.get("hack/make/.binary") or b"").decode())
    bundles: BundleLayout = "bake" if bake is not None and b'variable "DESTDIR"' in bake else "classic"
    if bundles == "classic" and files.get("hack/make/binary-daemon") is None:
        raise MobyciError(f"{tag}: neither bake's DESTDIR nor hack/make/binary-daemon: unknown bundles layout")
    return TreeFacts(family, go_version, go_line, debian, debian_line, cross, bundles, holds)


def _go_version(tag: str, dockerfile: str) -> tuple[str, int]:
    for number, line in enumerate(dockerfile.splitlines(), 1):
        match = re.match(r"^ARG GO_VERSION=(\S+)", line) or re.match(r"^FROM golang:([0-9.]+)\S* AS base", line)
        if match:
            return match.group(1), number
    raise MobyciError(f"{tag}: Dockerfile names no GO_VERSION")


def _debian(tag: str, dockerfile: str, go_version: str) -> tuple[str, int]:
    for number, line in enumerate(dockerfile.splitlines(), 1):
        match = re.match(r'^ARG BASE_DEBIAN_DISTRO="?([a-z]+)"?', line) or re.match(
            r"^FROM golang:\S+-([a-z]+) AS base", line
        )
        if match:
            return match.group(1), number
        match = re.match(r"^FROM golang:([0-9.]+) AS base", line)
        if match and match.group(1) in _GOLANG_DEFAULT_DEBIAN:
            return _GOLANG_DEFAULT_DEBIAN[match.group(1)], number
    raise MobyciError(f"{tag}: cannot tell the Debian release of the base image (Go {go_version})")


def _bake_platforms(tag: str, bake: str) -> tuple[str, ...]:
    """docker-bake.hcl's `target "_platforms"`, which binary-cross inherits."""
    match = re.search(r'target "_platforms" \{(.*?)\n\}', bake, re.S)
    if match is None:
        raise MobyciError(f'{tag}: docker-bake.hcl has no target "_platforms"')
    return tuple(re.findall(r'"([a-z0-9]+/[a-z0-9]+(?:/v\d)?)"', match.group(1)))


def _classic_cross(dockerfile: str, binary: str) -> tuple[str, ...]:
    """Platforms `make cross` can build on an amd64 runner: those the dev image has a cross toolchain for
    (Dockerfile `dpkg --add-architecture`) that hack/make/.binary can also link."""
    arches = re.findall(r"dpkg --add-architecture (\S+)", dockerfile)
    candidates = list(_CROSS_DEFAULT)
    for arch in arches:
        candidates += _DEB_ARCH_PLATFORMS.get(arch, ())
    with_cc = _cc_platforms(binary)
    no_pie = _pie_exempt(binary)

    def links(platform: str) -> bool:
        os_arch = "/".join(platform.split("/")[:2])
        return (
            platform in with_cc or platform in _GO_INTERNAL_PIE or any(fnmatch.fnmatchcase(os_arch, p) for p in no_pie)
        )

    return tuple(sorted(dict.fromkeys(p for p in candidates if links(p))))


def _cc_platforms(binary: str) -> set[str]:
    """Platforms hack/make/.binary gives a C cross toolchain (`export CC=…`), as GOOS/GOARCH[/vGOARM]."""
    found: set[str] = set()
    outer: list[str] = []
    inner: list[str] | None = None
    for raw in binary.splitlines():
        line = raw.strip()
        if line.startswith('case "${GOARM}"'):
            inner = []
            continue
        if line == "esac":
            if inner is not None:
                inner = None
                continue
            if outer:
                break
            continue
        label = re.match(r'^([A-Za-z0-9/*"| ]+)\)$', line)
        if label:
            names = [p.strip().strip('"') for p in label.group(1).split("|")]
            if inner is not None:
                inner = names
            else:
                outer = names
            continue
        if line.startswith("export CC=") and outer:
            for pattern in outer:
                if inner:
                    found.update(f"{pattern}/v{goarm}" if goarm else pattern for goarm in inner)
                else:
                    found.add(pattern)
    return found


def _pie_exempt(binary: str) -> tuple[str, ...]:
    """The GOOS/GOARCH patterns hack/make/.binary builds without -buildmode=pie."""
    match = re.search(r'in\s+([^)]+)\)\s*;;\s*\*\)\s*BUILDFLAGS\+=\(\s*"-buildmode=pie"', binary)
    if match is None:
        return ("*",) if "-buildmode=pie" not in binary else ()
    return tuple(p.strip() for p in match.group(1).split("|"))


def build_table(
    moby: Git, cli: Git, packaging: Git, repos: dict[str, Git] | None = None
) -> tuple[list[tuple[object, ...]], list[str], list[PackagingBranch]]:
    """Every release row, the CLI tags and the packaging branches, as releases.py stores them."""
    from mobyci.families import family_of

    tags = release_tags(moby)
    contents = moby.blobs([f"{commit}:{path}" for _, commit, _ in tags for path in _FILES])
    clis = cli_tags(cli)
    branches = packaging_branches(packaging, repos)
    rows: list[Row] = []
    for tag, commit, day in tags:
        version = _tag_version(tag)
        facts = tree_facts(tag, {path: contents[f"{commit}:{path}"] for path in _FILES})
        by_version = family_of(version)
        if by_version is None or by_version.name != facts.family:
            raise MobyciError(
                f"{tag}: the tree looks like family {facts.family}, its version says "
                f"{by_version.name if by_version else 'none'}: fix DETECTION or the families in data.py"
            )
        ref, how = cli_ref(version, clis)
        rows.append(
            (
                tag,
                facts.family,
                commit,
                day,
                facts.go_version,
                facts.go_line,
                facts.debian,
                facts.debian_line,
                ref,
                how,
                packaging_branch_for(version, branches),
                facts.cross,
                facts.bundles,
                facts.holds,
            )
        )
    return rows, clis, branches


def render_module(
    rows: Iterable[tuple[object, ...]],
    clis: list[str],
    branches: list[PackagingBranch],
    made: str,
    prereleases: Iterable[str] = (),
) -> str:
    """releases.py: plain tuples (one constant, loaded from the .pyc without running code per row)."""
    out = [
        "# Generated by `python -m mobyci.facts`; do not edit. tests/test_facts.py checks it.",
        '"""Facts about every moby release, read from moby/moby, docker/cli and docker/docker-ce-packaging.',
        "",
        "Row fields are in facts.py (ReleaseFacts, PackagingFacts); docs/families.md says how to refresh it.",
        '"""',
        "",
        f"MADE = {made!r}",
        "",
        "CLI_TAGS = (",
        *(f"    {t!r}," for t in clis),
        ")",
        "",
        "PRERELEASES = (",
        *(f"    {t!r}," for t in prereleases),
        ")",
        "",
        "PACKAGING = (",
        *(f"    {tuple(b)!r}," for b in branches),
        ")",
        "",
        "RELEASES = (",
        *(f"    {row!r}," for row in rows),
        ")",
        "",
    ]
    return "\n".join(out)
