"""The upstream sources of the real builds (../shared/upstream, MANIFEST.md there), served by the corp host.

No registry this machine reaches has them: shallow single-commit git repositories of moby releases and of every
GitHub source their `binary` builds clone (`git/<owner>+<repo>@<ref>.git.tar.gz`), and a static Go module proxy
tree (`goproxy/`) holding exactly the modules their `go install` steps need. One setting says where they are:
MOBYCI_UPSTREAM_DIR, by default `<repo root>/../shared/upstream`. Where they are absent (a user's machine) the
real builds skip, saying so; MOBYCI_REQUIRE_REHEARSAL=1 (set by .ci/run) turns that skip into a failure.

    root = require_upstream("the real v20.10.27 build")
    serve_git(corp, root)          # https://CORP/github/<owner>/<repo>.git (and http://CORP/...)
    serve_goproxy(corp, root)      # https://CORP/goproxy/ (and http://CORP/goproxy/)
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.realengine import corp as corpmod

ENV = "MOBYCI_UPSTREAM_DIR"
# The URL path prefixes the corp host serves them under (after https://CORP/ or http://CORP/).
GIT_PREFIX = "github"
GOPROXY_PREFIX = "goproxy"
# `<owner>+<repo>@<ref>.git.tar.gz`; a ref with a slash (dockerfile/1.17.1) is written with a dash.
_TARBALL = re.compile(r"^(?P<owner>[^+]+)\+(?P<repo>[^@]+)@(?P<ref>.+)\.git\.tar\.gz$")


def upstream_dir() -> Path:
    """Where the upstream data is (it may not exist)."""
    configured = os.environ.get(ENV)
    return Path(configured) if configured else ROOT.parent / "shared" / "upstream"


def require_upstream(what: str) -> Path:
    """The upstream directory; skip `what` where it is absent, fail where the run promised it
    (MOBYCI_REQUIRE_REHEARSAL=1)."""
    root = upstream_dir()
    missing = [part for part in ("git", "goproxy") if not (root / part).is_dir()]
    if not missing:
        return root
    message = (
        f"{what} needs the upstream sources at {root} ({' and '.join(f'{p}/' for p in missing)} missing; "
        f"set {ENV} to the directory that holds MANIFEST.md, git/ and goproxy/)"
    )
    if os.environ.get("MOBYCI_REQUIRE_REHEARSAL") == "1":
        pytest.fail(f"{message} (MOBYCI_REQUIRE_REHEARSAL=1)")
    pytest.skip(message)


def tarballs(root: Path) -> dict[str, list[Path]]:
    """`owner/repo` -> its tarballs (several for moby/moby: one per release), sorted by name."""
    found: dict[str, list[Path]] = {}
    for path in sorted((root / "git").glob("*.git.tar.gz")):
        m = _TARBALL.match(path.name)
        if m is None:
            raise ValueError(f"{path}: not <owner>+<repo>@<ref>.git.tar.gz (see MANIFEST.md)")
        found.setdefault(f"{m['owner']}/{m['repo']}", []).append(path)
    return found


def unpack(tarball: Path, into: Path) -> Path:
    """Unpack one tarball (a single top directory: the bare repository) under `into`; returns the repository."""
    with tarfile.open(tarball) as tar:
        tops = {name.split("/", 1)[0] for name in tar.getnames()}
        if len(tops) != 1:
            raise ValueError(f"{tarball}: expected one top directory, found {sorted(tops)}")
        tar.extractall(into, filter="tar")
    return into / tops.pop()


def git_output(repo: str, ref: str, *args: str) -> str:
    """The output of `git ARGS` in the upstream repository `repo` (`moby/moby`) from its tarball at `ref`,
    unpacked for the call: `git_output("moby/moby", "v28.5.2", "show", "v28.5.2:Dockerfile")`."""
    [tarball] = [t for t in tarballs(upstream_dir())[repo] if f"@{ref.replace('/', '-')}." in t.name]
    with tempfile.TemporaryDirectory() as tmp:
        bare = unpack(tarball, Path(tmp))
        return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True).stdout


def bare_repo(parts: list[Path], into: Path) -> Path:
    """One bare repository from the tarballs `parts` of one upstream repository.

    One tarball is served as it is (shallow, one commit, HEAD on `master`). Several (moby's releases) are
    fetched into a new bare repository: every tag of each, and `master` from the first; the result stays shallow
    (`--update-shallow`), with each release's commit as a shallow root.
    """
    first = unpack(parts[0], into / "0")
    if len(parts) == 1:
        return first
    merged = into / "merged.git"
    subprocess.run(["git", "init", "-q", "--bare", str(merged)], check=True)
    for index, part in enumerate(parts):
        source = first if index == 0 else unpack(part, into / str(index))
        refspecs = ["+refs/tags/*:refs/tags/*", *(["+refs/heads/master:refs/heads/master"] if index == 0 else [])]
        subprocess.run(
            ["git", "--git-dir", str(merged), "fetch", "-q", "--update-shallow", str(source), *refspecs], check=True
        )
    return merged


def serve_git(corp: corpmod.Corp, root: Path, only: tuple[str, ...] = ()) -> list[str]:
    """Serve every upstream repository (or those named in `only`, `owner/repo`) at
    https://CORP/github/<owner>/<repo>.git and http://CORP/github/<owner>/<repo>.git; returns their names."""
    served = []
    with tempfile.TemporaryDirectory(dir=corp.workdir, prefix="unpack-") as tmp:
        for index, (name, parts) in enumerate(sorted(tarballs(root).items())):
            if only and name not in only:
                continue
            corp.add_bare_repo(f"{GIT_PREFIX}/{name}.git", bare_repo(parts, Path(tmp) / str(index)))
            served.append(name)
    missing = sorted(set(only) - set(served))
    if missing:
        raise FileNotFoundError(f"{root / 'git'} has no tarball of {', '.join(missing)}")
    return served


def serve_goproxy(corp: corpmod.Corp, root: Path) -> str:
    """Serve the static Go module proxy tree at /goproxy/ on the corp host; returns the plain-http GOPROXY URL.

    A static tree is a complete GOPROXY: the go command asks only for `<module>/@v/list`, `.info`, `.mod`,
    `.zip` and `@latest` (https://go.dev/ref/mod#goproxy-protocol), and a 404 makes it try the next path
    prefix, as the public proxy answers."""
    corp.add_tree(GOPROXY_PREFIX, root / "goproxy")
    return f"{corpmod.HTTP}/{GOPROXY_PREFIX}"
