"""`tonistiigi/xx:1.6.1` made from its source, because no reachable registry has it (a STAND-IN only in how it is
made: the content is upstream's).

The real image (tonistiigi/xx `src/Dockerfile` at v1.6.1, lines 10-19): the `xx-*` scripts of src/ copied to
/usr/bin/ of a `FROM scratch` image, with the links xx-clang, xx-clang++ and xx-c++ to xx-cc and xx-apt-get to
xx-apt. moby's Dockerfile copies all of it into its base stage (v28.5.2 `Dockerfile` lines 48 and 59:
`FROM --platform=$BUILDPLATFORM tonistiigi/xx:${XX_VERSION} AS xx`, `COPY --from=xx / /`). Built here from the
upstream data's xx tree: one layer, one platform (the build platform, the only one moby asks for).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.realengine import images, upstream
from tests.helpers.realengine.standins import STANDIN_LABEL

TAG = "v1.6.1"
IMAGE = "tonistiigi/xx:1.6.1"
LOCAL = "mobyci-standin/xx:1.6.1"
# src/Dockerfile:12-15.
_LINKS = {"xx-clang": "xx-cc", "xx-clang++": "xx-cc", "xx-c++": "xx-cc", "xx-apt-get": "xx-apt"}
_CHANGES = (
    'LABEL org.opencontainers.image.title="tonistiigi/xx"',
    f'LABEL {STANDIN_LABEL}="tonistiigi/xx:1.6.1 stand-in: built from tonistiigi/xx {TAG} (src/xx-*)"',
)


def load(docker: Callable[..., Any], root: Path) -> str:
    """Import the image into the engine `docker` talks to, as LOCAL; returns LOCAL."""
    with tempfile.TemporaryDirectory(prefix="xx-standin-") as tmp:
        work = Path(tmp)
        bare = upstream.bare_repo(upstream.tarballs(root)["tonistiigi/xx"], work / "xx-git")
        image_root = work / "root"
        out = image_root / "usr" / "bin"
        out.mkdir(parents=True)
        listed = subprocess.run(
            ["git", "--git-dir", str(bare), "ls-tree", "--name-only", TAG, "src/"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        scripts = [path for path in listed if Path(path).name.startswith("xx-")]
        for path in scripts:
            blob = subprocess.run(
                ["git", "--git-dir", str(bare), "show", f"{TAG}:{path}"], check=True, capture_output=True
            )
            (out / Path(path).name).write_bytes(blob.stdout)
            (out / Path(path).name).chmod(0o755)
        for link, target in _LINKS.items():
            (out / link).symlink_to(target)
        tarball = work / "xx.tar"
        subprocess.run(
            ["tar", "-C", str(image_root), "--owner=0", "--group=0", "--numeric-owner", "-cf", str(tarball), "."],
            check=True,
        )
        images.import_image(docker, tarball, LOCAL, changes=_CHANGES)
    return LOCAL
