"""Debian base images without Docker Hub: debootstrap root filesystems, cached as tarballs outside the clone,
one tarball per release and package list, shared by every engine test.

The official `debian:<release>` images (and the golang images built on them) carry security and updates
sources too; debootstrap writes one `deb` line, so the files are rewritten as the official images have them
(bullseye: /etc/apt/sources.list; bookworm: deb822 /etc/apt/sources.list.d/debian.sources). The golang
flavour adds what golang's images get from buildpack-deps:*-scm (SCM: git, curl, ca-certificates); no Go toolchain.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tests.helpers.realengine import cache_dir

DEBIAN = "http://deb.debian.org/debian"
SCM = ("ca-certificates", "curl", "git")
# Bump when the content recipe changes, so cached tarballs are rebuilt.
_RECIPE = "1"

_SOURCES = {
    "bullseye": (
        "etc/apt/sources.list",
        "deb http://deb.debian.org/debian bullseye main\n"
        "deb http://deb.debian.org/debian-security bullseye-security main\n"
        "deb http://deb.debian.org/debian bullseye-updates main\n",
    ),
    "bookworm": (
        "etc/apt/sources.list.d/debian.sources",
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    ),
}


def rootfs_tarball(release: str, include: Iterable[str] = ()) -> Path:
    """A cached minbase root filesystem of `release` with the packages `include` (and what they depend on), as a
    tar; built once, under a lock, as `rootfs-<release>-<packages or minbase>-r<recipe>.tar`."""
    packages = sorted(set(include))
    name = f"rootfs-{release}-{'+'.join(packages) or 'minbase'}-r{_RECIPE}.tar"
    cache = cache_dir()
    tarball = cache / name
    with (cache / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be making the same one
        if not tarball.exists():
            _build(release, packages, tarball)
    return tarball


def _build(release: str, packages: list[str], tarball: Path) -> None:
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="debootstrap-") as tmp:
        root = Path(tmp) / "root"
        include = ["--include=" + ",".join(packages)] if packages else []
        subprocess.run(
            ["debootstrap", "--variant=minbase", *include, release, str(root), DEBIAN],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        path, text = _SOURCES[release]
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        subprocess.run(["rm", "-rf", str(root / "var/cache/apt/archives"), str(root / "var/lib/apt/lists")], check=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def import_image(docker: Callable[..., Any], tarball: Path, image: str, *, changes: Sequence[str] = ()) -> None:
    """`docker import` the root filesystem `tarball` as `image`, with Dockerfile instructions `changes`."""
    docker("import", *[a for c in changes for a in ("--change", c)], str(tarball), image)


# What golang's images set on top of their Debian base (their Dockerfile's ENV and WORKDIR); no Go here.
_GOLANG_CHANGES = (
    "ENV GOPATH=/go",
    "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "WORKDIR /go",
)


def publish(
    docker: Callable[..., Any], registry: str, names: list[str], release: str, *, golang: bool, ca: Path
) -> None:
    """Push `<registry>/<name>` for each of `names` (e.g. library/debian:bullseye), made from one import of the
    cached root filesystem.

    The corp CA goes into the image the way a platform team adds it to the base images it mirrors: in
    /usr/local/share/ca-certificates (picked up when a build installs ca-certificates) and, where
    ca-certificates is already installed, in the bundle. The image is removed from the engine afterwards,
    so builds get it from the registry mirror like any Docker Hub image.
    """
    source = rootfs_tarball(release, SCM if golang else ())
    with tempfile.TemporaryDirectory(dir=source.parent, prefix="publish-") as tmp:
        work = Path(tmp)
        tarball = work / "rootfs.tar"
        shutil.copyfile(source, tarball)
        extra = work / "extra"
        local = extra / "usr/local/share/ca-certificates"
        local.mkdir(parents=True)
        shutil.copyfile(ca, local / "mobyci-rehearsal-ca.crt")
        members = ["./usr/local/share/ca-certificates/mobyci-rehearsal-ca.crt"]
        if golang:
            bundle = subprocess.run(
                ["tar", "-xOf", str(tarball), "./etc/ssl/certs/ca-certificates.crt"], capture_output=True, check=True
            ).stdout
            (extra / "etc/ssl/certs").mkdir(parents=True)
            (extra / "etc/ssl/certs/ca-certificates.crt").write_bytes(bundle + ca.read_bytes())
            members.append("./etc/ssl/certs/ca-certificates.crt")
            # The engine refuses a layer with two entries for one path: replace, do not shadow.
            subprocess.run(["tar", "--delete", "-f", str(tarball), members[-1]], check=True)
        subprocess.run(["tar", "-rf", str(tarball), "-C", str(extra), "--owner=0", "--group=0", *members], check=True)
        changes = [*(_GOLANG_CHANGES if golang else ()), 'CMD ["bash"]']
        refs = [f"{registry}/{name}" for name in names]
        import_image(docker, tarball, refs[0], changes=changes)
    for ref in refs[1:]:
        # Same layer, own image: a LABEL gives each name its own config, so builds of one never hit the
        # engine's build cache for another (each test sees its own fetches).
        docker(
            "build",
            "--quiet",
            "--label",
            f"org.opencontainers.image.ref.name={ref}",
            "-t",
            ref,
            "-",
            stdin=f"FROM {refs[0]}\n",
        )
    for ref in refs:
        docker("push", ref)
    docker("rmi", *refs)
