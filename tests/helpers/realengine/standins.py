"""Stand-ins for the Docker Hub images a real moby build pulls and that no registry this machine reaches has.

Each one is named a stand-in (a `org.mobyci.standin` label and "standin" in its cache file) and looks like the
public image it replaces, with nothing corporate in it: no GOPROXY/GOSUMDB, no git `insteadOf`, no corp CA,
Debian's stock apt sources. Everything a firewall needs must come from mobyci's patch. Built once and cached
under realengine.cache_dir() by recipe; pushed to the corp registry (the Docker Hub mirror) per run.

- `golang:<go>-<release>` (moby v20.10.27 `Dockerfile:5,10-13`: `golang:1.20.10-bullseye`): a debootstrap root
  filesystem with what docker-library's image has — buildpack-deps' `curl` and `scm` packages
  (buildpack-deps `debian/bullseye/curl/Dockerfile`, `debian/bullseye/scm/Dockerfile`) and the cgo packages
  and ENV/WORKDIR of golang's `1.20/bullseye/Dockerfile` — plus Debian's static Go from bookworm-backports
  (Debian has no Go 1.20: a label says which Go stands in).
- `docker/dockerfile:1` (moby v20.10.27 `Dockerfile:1`, `# syntax=docker/dockerfile:1`): the frontend built
  from moby/buildkit at `dockerfile/1.17.1` as its own Dockerfile builds it
  (`frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile:20-38`: ldflags, tags, FROM scratch, its labels),
  with trixie's Go 1.24 and the tree's vendor/.
- `djs55/vpnkit:0.5.0` (moby v20.10.27 `Dockerfile:248-254`: only `/vpnkit` is copied, from an amd64 and an
  arm64 image): a two-arch stub holding a script that says it is a stand-in (vpnkit is OCaml; only rootless
  networking would run it).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.realengine import cache_dir, debs, images, upstream

STANDIN_LABEL = "org.mobyci.standin"
# Bump one when its recipe changes, so the cached artefact is rebuilt.
_GOLANG_RECIPE = "2"
_FRONTEND_RECIPE = "1"
# buildpack-deps:bullseye-curl, :bullseye-scm, then golang:1.20-bullseye's cgo packages (see the docstring).
GOLANG_PACKAGES = (
    *("ca-certificates", "curl", "gnupg", "netbase", "wget"),
    *("git", "git-lfs", "mercurial", "openssh-client", "subversion", "procps"),
    *("g++", "gcc", "libc6-dev", "make", "pkg-config"),
)
FRONTEND_REF = "dockerfile/1.17.1"
_FRONTEND_PKG = "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"
VPNKIT_STUB = (
    b"#!/bin/sh\necho 'vpnkit stand-in (mobyci tests): the real vpnkit is OCaml and not built here' >&2\nexit 1\n"
)

Docker = Callable[..., Any]


def _locked(name: str, make: Callable[[Path], None]) -> Path:
    """cache_dir()/name, made by `make(partial path)` once, under a lock."""
    target = cache_dir() / name
    with (cache_dir() / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            partial = cache_dir() / f"{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.unlink(missing_ok=True)
            make(partial)
            partial.rename(target)
    return target


# --- golang ---------------------------------------------------------------------------------------------


def golang_rootfs(release: str, go: str) -> tuple[Path, str]:
    """(the cached root filesystem tarball of the golang stand-in, the exact Debian Go version in it)."""
    go_root, exact = debs.go_root(go)
    base = images.rootfs_tarball(release, GOLANG_PACKAGES)

    def make(partial: Path) -> None:
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="golang-") as tmp:
            extra = Path(tmp)
            shutil.copytree(go_root / "usr", extra / "usr", symlinks=True)
            # Where golang's images keep Go (`ENV PATH /usr/local/go/bin:$PATH`); the go command finds its
            # GOROOT through the symlink.
            (extra / "usr/local").mkdir(parents=True, exist_ok=True)
            (extra / "usr/local/go").symlink_to(f"/usr/lib/go-{go}")
            for sub in ("go/src", "go/bin"):
                (extra / sub).mkdir(parents=True)
            for sub in ("go", "go/src", "go/bin"):
                (extra / sub).chmod(0o777)  # `chmod -R 777 "$GOPATH"`, as golang's Dockerfile does
            shutil.copyfile(base, partial)
            # Only paths the root filesystem lacks: the engine refuses a layer with two entries for one path.
            members = (f"./usr/lib/go-{go}", f"./usr/share/go-{go}", "./usr/local/go", "./go")
            subprocess.run(
                ["tar", "-rf", str(partial), "-C", str(extra), "--owner=0", "--group=0", *members], check=True
            )

    return _locked(f"standin-golang-{release}-go{exact}-r{_GOLANG_RECIPE}.tar", make), exact


def publish_golang(docker: Docker, registry: str, tag: str, *, release: str, go: str) -> str:
    """Push `<registry>/library/golang:<tag>` made from the stand-in root filesystem; returns the reference."""
    tarball, exact = golang_rootfs(release, go)
    ref = f"{registry}/library/golang:{tag}"
    changes = (
        "ENV GOPATH=/go",
        "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "WORKDIR /go",
        f'LABEL {STANDIN_LABEL}="golang:{tag} stand-in: Debian {release} (debootstrap) with Debian Go {exact} '
        f'standing in for the Go of the tag"',
        'CMD ["bash"]',
    )
    images.import_image(docker, tarball, ref, changes=changes)
    docker("push", ref)
    docker("rmi", ref)
    return ref


# --- docker/dockerfile ----------------------------------------------------------------------------------


def frontend_binary(root: Path) -> Path:
    """The dockerfile frontend built from the upstream buildkit tree (cached by tag and recipe)."""
    go_root, exact = debs.go_root("1.24")
    parts = upstream.tarballs(root)["moby/buildkit"]

    def make(partial: Path) -> None:
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="frontend-") as tmp:
            work = Path(tmp)
            bare = upstream.bare_repo(parts, work / "repo")
            src = work / "src"
            subprocess.run(["git", "clone", "-q", f"file://{bare}", str(src)], check=True)
            subprocess.run(["git", "-C", str(src), "checkout", "-q", FRONTEND_REF], check=True)
            # Its Dockerfile's version stage: hack/detect says `git describe --always --tags --match
            # "dockerfile/[0-9]*"` (the tag itself here), and the revision is the commit.
            version = _git(src, "describe", "--always", "--tags", "--match", "dockerfile/[0-9]*")
            revision = _git(src, "rev-parse", "HEAD")
            ldflags = f"-d -X main.Version={version} -X main.Revision={revision} -X main.Package={_FRONTEND_PKG}"
            gocache = cache_dir() / "go-build-cache"
            env = {
                "PATH": f"{go_root}/usr/lib/go-1.24/bin:/usr/bin:/bin",
                "HOME": str(work),
                "GOROOT": f"{go_root}/usr/lib/go-1.24",
                "GOCACHE": str(gocache),
                "GOPATH": str(work / "gopath"),
                "GOFLAGS": "-mod=vendor",
                "GOPROXY": "off",
                "GOSUMDB": "off",
                "GOTOOLCHAIN": "local",
                "CGO_ENABLED": "0",
            }
            partial.mkdir()
            tags = "netgo static_build osusergo"
            out = str(partial / "dockerfile-frontend")
            subprocess.run(
                [
                    "go",
                    "build",
                    "-o",
                    out,
                    "-ldflags",
                    ldflags,
                    "-tags",
                    tags,
                    "./frontend/dockerfile/cmd/dockerfile-frontend",
                ],
                cwd=src,
                env=env,
                check=True,
                capture_output=True,
                timeout=1800,
            )
            (partial / "built-with.txt").write_text(f"go{exact} {version} {revision}\n")

    return _locked(f"standin-dockerfile-frontend-{FRONTEND_REF.replace('/', '-')}-r{_FRONTEND_RECIPE}", make)


def publish_frontend(docker: Docker, registry: str, root: Path, tags: tuple[str, ...] = ("1",)) -> list[str]:
    """Push `<registry>/docker/dockerfile:<tag>` for each of `tags`; returns the references."""
    built = frontend_binary(root)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="frontend-img-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        with tarfile.open(tarball, "w") as tar:
            info = tar.gettarinfo(str(built / "dockerfile-frontend"), "bin/dockerfile-frontend")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755
            with (built / "dockerfile-frontend").open("rb") as binary:
                tar.addfile(info, binary)
        refs = [f"{registry}/docker/dockerfile:{tag}" for tag in tags]
        changes = (
            'LABEL moby.buildkit.frontend.network.none="true"',
            'LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,'
            'moby.buildkit.frontend.contexts"',
            f'LABEL {STANDIN_LABEL}="docker/dockerfile stand-in: built from moby/buildkit {FRONTEND_REF}"',
            'ENTRYPOINT ["/bin/dockerfile-frontend"]',
        )
        images.import_image(docker, tarball, refs[0], changes=changes)
    for ref in refs[1:]:
        docker("tag", refs[0], ref)
    for ref in refs:
        docker("push", ref)
    docker("rmi", *refs)
    return refs


# --- djs55/vpnkit ---------------------------------------------------------------------------------------


def vpnkit_layers() -> dict[str, dict[str, Any]]:
    """The stub's OCI pieces per architecture: {arch: {"layer": gzip bytes, "config": json bytes}}."""
    pieces: dict[str, dict[str, Any]] = {}
    for arch in ("amd64", "arm64"):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo("vpnkit")
            info.size = len(VPNKIT_STUB)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(VPNKIT_STUB))
        uncompressed = raw.getvalue()
        layer = gzip.compress(uncompressed, mtime=0)
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {STANDIN_LABEL: "djs55/vpnkit stand-in: /vpnkit is a stub script"}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(uncompressed).hexdigest()}"]},
        }
        pieces[arch] = {"layer": layer, "config": json.dumps(config, sort_keys=True).encode()}
    return pieces


def publish_vpnkit(run_in_corp: Callable[[list[str]], object], registry: str, ca: Path, tag: str = "0.5.0") -> str:
    """Push the two-arch stub as `<registry>/djs55/vpnkit:<tag>` (the registry API, from the corp host: the
    20.10 CLI cannot push a manifest list without extra trust set-up)."""
    with tempfile.TemporaryDirectory(prefix="vpnkit-") as tmp:
        spec = Path(tmp) / "pieces.json"
        spec.write_text(
            json.dumps(
                {
                    arch: {"layer": str(_write(Path(tmp) / f"{arch}.tgz", p["layer"])), "config": p["config"].decode()}
                    for arch, p in vpnkit_layers().items()
                }
            )
        )
        script = Path(__file__).with_name("ocipush.py")
        run_in_corp([sys.executable, str(script), registry, str(ca), "djs55/vpnkit", tag, str(spec)])
    return f"{registry}/djs55/vpnkit:{tag}"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()
