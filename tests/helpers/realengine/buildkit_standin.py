"""A STAND-IN for `moby/buildkit:buildx-stable-1`, the image `docker buildx create --driver docker-container`
runs (docker/buildx v0.13.1 `driver/bkimage/bkimage.go`: `DefaultImage = "moby/buildkit:buildx-stable-1"`).
No reachable registry has it, and no Debian package ships buildkitd.

What the real image is (moby/buildkit `Dockerfile` at dockerfile/1.17.1, the tag provided in the upstream data):
`buildkit-linux` (lines 376-379) = `buildkit-export` + the `binaries` in /usr/bin, `ENV
BUILDKIT_SETUP_CGROUPV2_ROOT=1`, `ENTRYPOINT ["buildkitd"]`; `buildkit-export` is Alpine with fuse3, git, openssh,
pigz, xz, iptables (lines 203-207; its Ubuntu variant, lines 209-221, names the Debian packages: fuse3 git
openssh-client pigz xz-utils iptables ca-certificates), `VOLUME /var/lib/buildkit`, and the CDI directories
(line 224); `binaries` holds buildctl, buildkitd and runc as buildkit-runc (lines 170-175).

The stand-in: those Debian packages (and runc) on a debootstrap'd bookworm, with buildkitd and buildctl compiled
offline from the buildkit tree of the upstream data, with upstream's flags and version stamp (lines 63-105):
Debian's Go 1.24 (trixie; upstream uses golang:1.24-alpine), `GOFLAGS=-mod=vendor`, `CGO_ENABLED=0`, buildkitd
with `-tags "osusergo netgo static_build seccomp"`. Differences: Debian's runc 1.1 (as `runc`, buildkitd's second
candidate after buildkit-runc: executor/runcexecutor/executor.go:64) where upstream builds runc v1.3.0; glibc
userland instead of musl; no qemu binfmt helpers and no CNI plugins (the builder runs with the host network, as
buildx creates it). No corporate setting is in it: mirrors, proxies and CAs come from the job's buildkitd config
and driver options, as on a real runner.

The binaries take about 3.5 minutes to compile on two cores, once: the image is cached as a tarball outside the
clone (`cache_dir()`), keyed by the recipe below.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.realengine import cache_dir, debs, images, upstream
from tests.helpers.realengine.standins import STANDIN_LABEL

IMAGE = "moby/buildkit:buildx-stable-1"
LOCAL = "mobyci-standin/buildkit:buildx-stable-1"
TAG = "dockerfile/1.17.1"
# buildkit-export-ubuntu's packages (Dockerfile:210-219), and runc (upstream ships its own as buildkit-runc).
PACKAGES = ("ca-certificates", "fuse3", "git", "iptables", "openssh-client", "pigz", "runc", "xz-utils")
# Bump when anything below changes what goes into the image.
_RECIPE = "2"
_BIN_RECIPE = "1"
_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV BUILDKIT_SETUP_CGROUPV2_ROOT=1",
    "VOLUME /var/lib/buildkit",
    'ENTRYPOINT ["buildkitd"]',
    'LABEL org.opencontainers.image.title="moby/buildkit"',
    f'LABEL {STANDIN_LABEL}="moby/buildkit:buildx-stable-1 stand-in: buildkitd and buildctl built from moby/buildkit '
    f'{TAG} with Debian Go 1.24, on Debian bookworm with Debian runc"',
)


def tarball(root: Path) -> Path:
    """The stand-in image's root filesystem as a tar (cached); `root`: the upstream data (upstream.py)."""
    cache = cache_dir()
    name = f"buildkit-standin-{'+'.join(PACKAGES)}-r{_RECIPE}.tar"
    target = cache / name
    with (cache / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build(root, target)
    return target


def load(docker: Callable[..., Any], root: Path) -> str:
    """Import the stand-in into the engine `docker` talks to, as LOCAL; returns LOCAL."""
    images.import_image(docker, tarball(root), LOCAL, changes=_CHANGES)
    return LOCAL


def _build(root: Path, target: Path) -> None:
    rootfs = images.rootfs_tarball("bookworm", PACKAGES)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="buildkit-standin-") as tmp:
        work = Path(tmp)
        binaries = cached_binaries(root)
        extra = work / "extra"
        (extra / "usr/bin").mkdir(parents=True)
        for name in ("buildkitd", "buildctl"):
            shutil.copy2(binaries / name, extra / "usr/bin" / name)
        # New paths only: the engine refuses a layer with two entries for one path. (/var/run is a symlink to
        # /run in Debian: upstream's /var/run/cdi is /run/cdi here.)
        new = ("etc/cdi", "etc/buildkit", "etc/buildkit/cdi", "run/cdi", "var/lib/buildkit")
        for path in new:
            (extra / path).mkdir(parents=True, exist_ok=True)
        partial = work / "image.tar"
        shutil.copyfile(rootfs, partial)
        members = ["./usr/bin/buildkitd", "./usr/bin/buildctl", *(f"./{path}" for path in new)]
        subprocess.run(
            ["tar", "-rf", str(partial), "-C", str(extra), "--owner=0", "--group=0", "--no-recursion", *members],
            check=True,
        )
        partial.rename(target)


def cached_binaries(root: Path) -> Path:
    """The directory of buildkitd and buildctl, compiled once (the slow part) and kept apart from the image, so a
    change of the image's packages does not compile them again."""
    cache = cache_dir()
    target = cache / f"buildkit-bin-{TAG.replace('/', '-')}-r{_BIN_RECIPE}"
    with (cache / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            with tempfile.TemporaryDirectory(dir=cache, prefix="buildkit-bin-") as tmp:
                compile_binaries(root, Path(tmp)).rename(target)
    return target


def compile_binaries(root: Path, work: Path) -> Path:
    """buildkitd and buildctl, built offline (`unshare -n`) from the buildkit tree at TAG; their directory."""
    go_root, _ = debs.go_root("1.24")
    goroot = go_root / "usr/lib/go-1.24"
    src = work / "buildkit"
    bare = upstream.bare_repo(upstream.tarballs(root)["moby/buildkit"], work / "buildkit-git")
    subprocess.run(["git", "clone", "-q", f"file://{bare}", str(src)], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(src), "checkout", "-q", TAG], check=True, capture_output=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(src), *args], check=True, capture_output=True, text=True).stdout.strip()

    # Dockerfile:72-73, the buildkit-version stage.
    version = git("describe", "--match", "v[0-9]*", "--dirty=.m", "--always", "--tags")
    revision = git("rev-parse", "HEAD")
    pkg = "github.com/moby/buildkit"
    ldflags = f"-X {pkg}/version.Version={version} -X {pkg}/version.Revision={revision} -X {pkg}/version.Package={pkg}"
    out = work / "bin"
    env = {
        "PATH": f"{goroot / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "GOROOT": str(goroot),
        "GOPATH": str(work / "gopath"),
        "GOCACHE": str(cache_dir() / "go-build-cache"),  # shared with the frontend stand-in (standins.py)
        "GOFLAGS": "-mod=vendor",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    builds = (
        # Dockerfile:86 and :105.
        ["-ldflags", ldflags, "-o", str(out / "buildctl"), "./cmd/buildctl"],
        [
            "-ldflags",
            f"{ldflags} -extldflags '-static'",
            "-tags",
            "osusergo netgo static_build seccomp",
            "-o",
            str(out / "buildkitd"),
            "./cmd/buildkitd",
        ],
    )
    for args in builds:
        done = subprocess.run(
            ["unshare", "-n", "go", "build", *args],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        if done.returncode != 0:
            raise RuntimeError(f"go build {args[-1]}: {done.stdout}\n{done.stderr}")
    return out
