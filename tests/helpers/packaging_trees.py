"""docker-ce-packaging trees of every branch's shape, for the packaging patch's tests (distro mirrors, the CA).

The Dockerfiles are the fixture shapes of tests/fixtures/distro-images (written for the tests, not copies).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from mobyci.families import FAMILIES, lifecycle
from mobyci.load.reader import load_text
from mobyci.plan.build import build_plan
from mobyci.plan.distromirrors import PATCH_FILE
from mobyci.plan.packaging import SOURCES_JOB
from tests.helpers import ROOT

IMAGES = ROOT / "tests" / "fixtures" / "distro-images"
# The FROM of the distro image as every branch writes it (rhel-* name the stage), as the tests find it: the engine
# has its own reading of FROM lines (mobyci/patch/engine.awk), held to the reference by test_packaging_engine.py.
ANCHOR = re.compile(r"^FROM[ \t]+\$\{BUILD_IMAGE\}([ \t]+AS[ \t]+[A-Za-z0-9_.-]+)?[ \t]*$")
APT = "mirrors.example.test"
UBUNTU = "https://ubuntu.mirror.test/ubuntu"
PORTS = "https://ubuntu.mirror.test/ubuntu-ports"
RASPBIAN = "https://raspbian.mirror.test/raspbian/raspbian"
FEDORA = "https://fedora.mirror.test/fedora"
STREAM = "https://centos.mirror.test/centos-stream"
MIRRORS = f"""\
mirrors:
  apt: {APT}
  ubuntu: {{archive: "{UBUNTU}", ports: "{PORTS}"}}
  raspbian: {RASPBIAN}
  fedora: {FEDORA}
  centos_stream: {STREAM}
"""
# Branches the package jobs use, by a release of each.
BRANCHES = {
    "19.03": "v19.03.12",
    "20.10": "v20.10.27",
    "23.0": "v23.0.18",
    "24.0": "v24.0.9",
    "27.x": "v27.5.1",
    "28.x": "v28.5.2",
    "29.4": "docker-v29.4.0",
    "master": "docker-v29.7.2",
}


def packaging_distros(branch: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    packaging = next(p for f in FAMILIES for _, p in f.packaging if p.branch == branch)
    return packaging.rpm, packaging.deb


def live(distros: tuple[str, ...]) -> tuple[str, ...]:
    day = lifecycle.today()
    return tuple(d for d in distros if lifecycle.problem(d, day) is None)


def packaging_tree(root: Path, rpm: tuple[str, ...], deb: tuple[str, ...]) -> Path:
    """A packaging checkout of the branch's shape: common.mk and a Dockerfile per distro."""
    root.mkdir(parents=True)
    (root / "common.mk").write_text("ARCH=$(shell uname -m)\n")
    for kind, distros in (("rpm", rpm), ("deb", deb)):
        for distro in distros:
            shape = "rhel" if distro.startswith("rhel-") else kind
            (root / kind / distro).mkdir(parents=True)
            shutil.copy(IMAGES / f"{shape}.Dockerfile", root / kind / distro / "Dockerfile")
    return root


def shells() -> list[str]:
    return [shell for shell in ("dash", "busybox", "bash") if shutil.which(shell)]


def run_patch(script: Path, tree: Path, shell: str) -> subprocess.CompletedProcess[str]:
    command = [shell, "sh", str(script), str(tree)] if shell == "busybox" else [shell, str(script), str(tree)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def snapshot(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def packaging_patch_of(spec: str) -> str | None:
    """The packaging patch script the packaging-sources job writes, as the job's heredoc holds it (None: none)."""
    job = next(j for j in build_plan(load_text(spec, "mobyci.yaml")).jobs if j.name == SOURCES_JOB)
    found = [line for line in job.script if line.startswith(f"cat > {PATCH_FILE} <<")]
    if not found:
        return None
    body = found[0].split("\n", 1)[1]
    return body.rsplit("\n", 1)[0] + "\n"
