from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI must not fail on an example no run before it tried: there the fuzz tests replay a fixed sequence.
# Run locally, they explore new examples every time (and keep failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Distro lifecycles are judged on the day mobyci runs: tests (and the CLIs they start) pin it, so that a test
# passes or fails the same way next year. Tests about other days set it themselves.
os.environ.setdefault("MOBYCI_TODAY", "2026-12-01")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

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


@pytest.fixture
def base_spec() -> str:
    return BASE_SPEC
