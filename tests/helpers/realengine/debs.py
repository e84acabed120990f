"""Debian packages unpacked outside any image: the Go toolchains the stand-in images are made of.

`apt-get download` with a private sources list and state (the host's apt configuration is never touched), the
archive's signatures checked against the host's debian-archive-keyring (bookworm's knows trixie's keys), then
`dpkg-deb -x`. Cached under realengine.cache_dir() by package list; built once, under a lock.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.helpers.realengine import cache_dir

DEBIAN = "http://deb.debian.org/debian"
# Debian has no Go 1.20 and no 1.24.9: the nearest Go each suite has (go1.21's and later `go` are static
# binaries that run in an older root filesystem).
GO_PACKAGES = {
    "1.21": ("bookworm-backports", ("golang-1.21-go", "golang-1.21-src")),
    "1.24": ("trixie", ("golang-1.24-go", "golang-1.24-src")),
}


def unpacked(suite: str, packages: Sequence[str]) -> Path:
    """A directory holding `packages` of `suite` unpacked (usr/...), and `versions.txt` (package=version lines)."""
    name = f"debs-{suite}-{'+'.join(sorted(packages))}"
    target = cache_dir() / name
    with (cache_dir() / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "versions.txt").exists():
            shutil.rmtree(target, ignore_errors=True)
            _download(suite, packages, target)
    return target


def go_root(version: str) -> tuple[Path, str]:
    """(the unpacked root holding usr/lib/go-<version>, the exact Debian Go version, e.g. 1.21.13)."""
    suite, packages = GO_PACKAGES[version]
    root = unpacked(suite, packages)
    exact = (root / f"usr/lib/go-{version}/VERSION").read_text().split()[0].removeprefix("go")
    return root, exact


def _download(suite: str, packages: Sequence[str], target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="apt-") as tmp:
        work = Path(tmp)
        for sub in ("lists/partial", "cache/archives/partial", "debs"):
            (work / sub).mkdir(parents=True)
        (work / "sources.list").write_text(f"deb {DEBIAN} {suite} main\n")
        options = [
            f"-oDir::Etc::SourceList={work / 'sources.list'}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={work / 'lists'}",
            f"-oDir::Cache={work / 'cache'}",
            "-oDir::State::status=/dev/null",
            "-oAPT::Sandbox::User=root",
        ]
        subprocess.run(["apt-get", *options, "-qq", "update"], check=True, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", *options, "-qq", "download", *[f"{p}/{suite}" for p in packages]],
            check=True,
            capture_output=True,
            cwd=work / "debs",
            timeout=1200,
        )
        out = work / "out"
        versions = []
        for deb in sorted((work / "debs").glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(out)], check=True)
            fields = subprocess.run(
                ["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True, capture_output=True, text=True
            ).stdout.split()
            versions.append(f"{fields[1]}={fields[3]}\n")
        (out / "versions.txt").write_text("".join(versions))
        out.rename(target)
