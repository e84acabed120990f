"""Debian packages of another release than the host's, as .deb files: apt's own client with a private state
directory (its own sources list, lists and archive cache under the CI cache), so the host's apt sources and
package state stay as they are. The files are only unpacked (`dpkg-deb -x`), never installed on the host.

Used for what bookworm lacks: trixie's Go 1.24 (to compile BuildKit for the `moby/buildkit` stand-in) and
trixie's `docker-buildx` 0.13.1 (the runner's real buildx plugin; a static-enough Go binary that runs on
bookworm: `Depends: libc6 (>= 2.34)`, bookworm has 2.36).
"""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

from tests.helpers.realengine import cache_dir

DEBIAN = "http://deb.debian.org/debian"
_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _apt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    options = [
        f"-oDir::Etc::SourceList={root / 'sources.list'}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={root / 'lists'}",
        f"-oDir::Cache={root / 'cache'}",
        "-oAPT::Sandbox::User=root",
        "-oDebug::NoLocking=1",
    ]
    return subprocess.run(["apt-get", "-q", *options, *args], capture_output=True, text=True, check=False, cwd=root)


def download(suite: str, packages: list[str]) -> list[Path]:
    """The .deb files of `packages` (exact names, no dependencies) from Debian `suite`, cached by name."""
    root = cache_dir() / f"debs-{suite}"
    for sub in ("lists/partial", "cache/archives/partial", "files"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be downloading the same ones
        found = {p: sorted((root / "files").glob(f"{p}_*.deb")) for p in packages}
        wanted = [p for p, debs in found.items() if not debs]
        if wanted:
            (root / "sources.list").write_text(f"deb [signed-by={_KEYRING}] {DEBIAN} {suite} main\n")
            _check("update", suite, _apt(root, "update"))
            _check("download", suite, _download(root, wanted))
            found = {p: sorted((root / "files").glob(f"{p}_*.deb")) for p in packages}
    missing = [p for p, debs in found.items() if not debs]
    if missing:
        raise RuntimeError(f"{suite}: no .deb for {missing} in {root / 'files'}")
    return [found[p][-1] for p in packages]


def _check(step: str, suite: str, done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"apt-get {step} ({suite}): {done.stdout}\n{done.stderr}")


def _download(root: Path, packages: list[str]) -> subprocess.CompletedProcess[str]:
    # `apt-get download` writes into its working directory.
    done = _apt(root, "download", *packages)
    for deb in root.glob("*.deb"):
        deb.rename(root / "files" / deb.name)
    return done


def extract(debs: list[Path], dest: Path) -> Path:
    """Unpack the contents of `debs` into `dest` (dpkg-deb -x: no maintainer scripts, nothing installed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True)
    return dest
