"""Helpers shared by the test modules; no test module imports another.

- pipeline_tools, buildkite_agent_standin: what GitLab and Buildkite would do with a pipeline (limits, interpolation,
  a shell run of its jobs);
- golden_cases: golden files and examples, regenerated with MOBYCI_UPDATE_GOLDEN=1;
- outputs: every output of a spec, and how each platform reads it;
- fuzz_specs: hypothesis strategies of valid specs;
- spec_error_cases: invalid specs with the exact messages expected;
- shells: dash and busybox runs of the patch script;
- packaging_trees: docker-ce-packaging trees of every branch's shape, for the packaging patch;
- realengine: a real Docker engine for the tests that need one: a private dockerd, debootstrap images, network
  namespaces, a test CA and TLS registry, the firewall rehearsal's corp mirrors, the docker:dind stand-in.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"


def copy_worktree(into: Path) -> Path:
    """This working tree as a clone of it has it (tracked and new, not ignored, files), copied to `into`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


# A small, complete spec: tests start from it and change one thing.
BASE_SPEC = """\
version: 1
moby:
  ref: v19.03.12
mirrors:
  apt: {archive: https://mirrors.tuna.tsinghua.edu.cn/debian-archive}
  git:
    "https://github.com/": "https://gitee.com/"
  downloads:
    # criu's tarball: GitHub's /archive/ layout, which a git mirror does not serve; kept at GitHub.
    "https://github.com/checkpoint-restore/criu/archive/": "https://github.com/checkpoint-restore/criu/archive/"
  registry: https://docker.mirror.example.com
proxy:
  http: $CORP_HTTP_PROXY
  https: ${CORP_HTTPS_PROXY}
  no_proxy: [localhost, .corp.example]
targets:
  - binary
ci:
  gitlab:
    image_prefix: registry.example.com/dockerhub
"""
