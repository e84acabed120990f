"""What each mobyci target builds of moby's Dockerfile, per family: the Dockerfile target (and the ARG values that
pick stages) of the build its jobs run, read from moby's Makefile and docker-bake.hcl at the family's tags; and
which tree files the package builds run outside the Dockerfile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from mobyci.families.fetchscan import DOCKERFILE
from mobyci.families.stagegraph import EVERY, Graph, built


class Build(NamedTuple):
    target: str  # the Dockerfile target ("": the last stage)
    args: tuple[tuple[str, str], ...]  # ARG values the build sets that stage names use


# 19.03 (build_style make-run): every bundle target runs hack/make.sh inside the dev image, which the prepare job
# builds once with `make build` (moby v19.03.12 Makefile:136-146 `binary: build`, `dynbinary: build`,
# `cross: build`). `make build` passes `--target=dev` only when BIND_DIR is "." (Makefile:151-152), which it never
# is here (Makefile:84: "bundles", or empty under a remote DOCKER_HOST), so docker build builds the last stage,
# `FROM dev AS final` (Dockerfile:314); CROSS is `$(DOCKER_CROSS)` (Makefile:154), `false` by default (Makefile:8)
# and `true` when DOCKER_CROSSPLATFORMS is set (Makefile:148-149), which the prepare job exports for a cross
# target (plan/build.py).
def _make_run(targets: list[str]) -> list[Build]:
    if not any(t in ("binary", "dynbinary", "cross") for t in targets):
        return []
    return [Build("", (("CROSS", "true" if "cross" in targets else "false"),))]


# 20.10 (build_style buildkit): each target job runs `make <target>`, which builds the Dockerfile target of its name
# (moby v20.10.27 Makefile:183-191 `$(BUILD_CMD) $(BUILD_OPTS) --output=bundles/ --target=$@`); cross adds
# `--build-arg CROSS=true` (Makefile:189), the others keep the default `ARG CROSS="false"` (Dockerfile:3).
_BUILDKIT = {
    "binary": Build("binary", ()),
    "dynbinary": Build("dynbinary", ()),
    "cross": Build("cross", (("CROSS", "true"),)),
}

# 23.0 on (build_style bake): `make binary|dynbinary|cross` runs `$(BAKE_CMD) binary|dynbinary|binary-cross`
# (moby v23.0.0 Makefile:151-158, v28.5.2 Makefile:167-176), and every one of these bake targets builds the
# Dockerfile target `binary`: `target "binary" { target = "binary" }`, `target "dynbinary" { inherits =
# ["binary"] }` (it sets DOCKER_STATIC=0, no stage name uses it), `target "binary-cross" { inherits = ["binary",
# "_platforms"] }` (v23.0.0 docker-bake.hcl:109-125, v28.5.2 docker-bake.hcl:98-114; the same in v24.0.9,
# v25.0.17, v27.5.1 and docker-v29.7.2). The platform ARGs (TARGETOS, TARGETARCH) stay open: a cross job builds
# other platforms than the runner's.
_BAKE = {name: Build("binary", ()) for name in ("binary", "dynbinary", "cross")}

# rpm and deb: docker-ce-packaging builds the engine from the source with its own images, never with moby's
# Dockerfile, and runs moby's installers there: deb/common/rules `hack/dockerfile/install/install.sh tini`,
# `… rootlesskit dynamic` (branch 28.x deb/common/rules:29-30; 20.10 also `proxy dynamic`, :18), the rpm spec
# the same (28.x rpm/SPECS/docker-ce.spec:70; 20.10 a loop over `tini "proxy dynamic"`, :90-92). Any installer
# may run: all of them count as built.
PACKAGE_RUNS = "hack/dockerfile/install/"


def builds(build_style: str, targets: Iterable[str]) -> list[Build]:
    """The Dockerfile builds the jobs of `targets` run, for a family of `build_style`."""
    names = list(targets)
    if build_style == "make-run":
        return _make_run(names)
    table = _BUILDKIT if build_style == "buildkit" else _BAKE
    return list(dict.fromkeys(table[t] for t in names if t in table))


def built_fetches(graph: Graph, files: Iterable[str], build_style: str, targets: Iterable[str]) -> list[bool]:
    """Per fetch of the graph's list (`files`: each one's file), whether a build of `targets` runs it."""
    names = list(targets)
    stages: set[str] = set()
    for build in builds(build_style, names):
        stages |= built(graph, build.target, dict(build.args))
    packages = any(t in ("rpm", "deb") for t in names)
    return [
        EVERY in of
        or bool(stages.intersection(of))
        or (packages and file != DOCKERFILE and file.startswith(PACKAGE_RUNS))
        for of, file in zip(graph.fetches, files, strict=True)
    ]
