"""Which stages a build runs, and `plan --fetches --strict` judging only the fetches of those stages.

The small Dockerfiles below are made up for one rule each; the stored graphs are checked against moby's real
trees when MOBYCI_MOBY_GIT points at a moby git directory.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobyci.families import stagegraph
from mobyci.families.fetchscan import Fetch, scan
from mobyci.families.stagetargets import builds, built_fetches

MOBY_GIT = os.environ.get("MOBYCI_MOBY_GIT")
FETCHES = Path(stagegraph.__file__).with_name("fetches.json")

_DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG CROSS="false" TOOLS_REPO="https://example.com/tools.git"
ARG TOOLS_URL="${TOOLS_REPO}#main"
ARG GOLANG_IMAGE="golang:1.24"
FROM ${GOLANG_IMAGE} AS base
RUN apt-get update

FROM base AS tools
ARG TOOLS_URL
RUN git clone "$TOOLS_URL" /tools

FROM base AS cross-false
FROM base AS cross-true
RUN curl -fsSL https://example.com/cross.tar.gz | tar -x

FROM base AS runc-linux
ENV INSTALL_BINARY_NAME=runc
RUN ./install.sh $INSTALL_BINARY_NAME
FROM scratch AS runc-windows
FROM runc-${TARGETOS} AS runc

FROM base AS dev
RUN apt-get install -y vim
COPY --from=tools /tools /tools

FROM cross-${CROSS} AS build
RUN --mount=from=runc,src=/build,target=/runc go install example.com/cmd@v1
FROM scratch AS binary
COPY --from=build /out /
"""


def _graph() -> tuple[list[Fetch], stagegraph.Graph]:
    files = {
        "Dockerfile": _DOCKERFILE,
        "hack/dockerfile/install/runc.installer": "git clone https://x.test/runc.git\n",
        "hack/dockerfile/install/vndr.installer": "git clone https://x.test/vndr.git\n",  # no stage runs it
    }
    fetches = scan(files, files.__getitem__)
    return fetches, stagegraph.graph(fetches, files.get)


def _stages_of(fetches: list[Fetch], graph: stagegraph.Graph) -> dict[str, tuple[str, ...]]:
    return {f"{f.kind} {f.file}:{f.line}": of for f, of in zip(fetches, graph.fetches, strict=True)}


def test_each_fetch_belongs_to_the_stages_that_run_it() -> None:
    fetches, graph = _graph()
    assert _stages_of(fetches, graph) == {
        "image Dockerfile:1": ("*",),  # the frontend: every build
        # a global ARG: the stages that declare it again, or one whose default reads it
        "git Dockerfile:2": ("tools",),
        "image Dockerfile:5": ("base",),
        # apt's archive is listed at its first use, reached by every stage that runs apt-get
        "apt Dockerfile:6": ("base", "dev"),
        "download Dockerfile:14": ("cross-true",),
        "go-module Dockerfile:27": ("build",),
        "go-modules Dockerfile:27": ("build",),
        "go-sumdb Dockerfile:27": ("build",),
        # `install.sh $INSTALL_BINARY_NAME` with `ENV INSTALL_BINARY_NAME=runc`: runc.installer
        "git hack/dockerfile/install/runc.installer:1": ("runc-linux",),
        "git hack/dockerfile/install/vndr.installer:1": (),
    }


def test_a_target_builds_what_it_names_with_the_args_of_its_build() -> None:
    _, graph = _graph()
    assert {s.name: s.needs for s in graph.stages}["build"] == (("cross-${CROSS}", 26), ("runc", 27))
    # CROSS from its global default; TARGETOS has no value: runc-${TARGETOS} is every runc- stage.
    assert stagegraph.built(graph, "binary", {}) == {
        "binary",
        "build",
        "cross-false",
        "base",
        "runc",
        "runc-linux",
        "runc-windows",
    }
    assert "cross-true" in stagegraph.built(graph, "binary", {"CROSS": "true"})
    # No target: the last stage, as `docker build` without --target.
    assert stagegraph.built(graph, "", {}) == {"binary", "build", "cross-false", "base", "runc"} | {
        "runc-linux",
        "runc-windows",
    }
    assert stagegraph.built(graph, "dev", {}) == {"dev", "base", "tools"}


def test_each_family_s_targets_build_their_dockerfile_target() -> None:
    assert [b.target for b in builds("bake", ["binary", "dynbinary", "cross"])] == ["binary"]
    assert builds("buildkit", ["binary", "cross"]) == [("binary", ()), ("cross", (("CROSS", "true"),))]
    assert builds("make-run", ["binary"]) == [("", (("CROSS", "false"),))]
    assert builds("make-run", ["binary", "cross"]) == [("", (("CROSS", "true"),))]
    assert builds("bake", ["deb"]) == []
    fetches, graph = _graph()
    files = [f.file for f in fetches]
    built = dict(zip(_stages_of(fetches, graph), built_fetches(graph, files, "bake", ["binary"]), strict=True))
    assert [k for k, v in built.items() if not v] == [
        "git Dockerfile:2",
        "download Dockerfile:14",
        "git hack/dockerfile/install/vndr.installer:1",
    ]
    # docker-ce-packaging runs moby's installers itself: with a package target they are built too.
    with_deb = built_fetches(graph, files, "bake", ["binary", "deb"])
    assert [f.file for f, b in zip(fetches, with_deb, strict=True) if not b] == ["Dockerfile", "Dockerfile"]


def test_every_stored_list_has_its_stage_graph() -> None:
    lists = json.loads(FETCHES.read_text("utf-8"))
    stored = json.loads(FETCHES.with_name("stagegraph.json").read_text("utf-8"))
    assert set(stored) == set(lists), "regenerate: python -m mobyci.families.fetchscan TAG…"
    for tag, rows in lists.items():
        graph = stagegraph.stored(tag)
        assert graph is not None, tag
        assert len(graph.fetches) == len(rows), tag
        names = {s.name for s in graph.stages}
        # Every fetch of the Dockerfile belongs to some stage (or every build); a stage it names exists.
        for row, of in zip(rows, graph.fetches, strict=True):
            assert set(of) <= names | {"*"}, (tag, row)
            assert of or row[2] != "Dockerfile", (tag, row)


@pytest.mark.skipif(MOBY_GIT is None, reason="set MOBYCI_MOBY_GIT to a moby git directory")
def test_every_stored_graph_is_what_the_tree_gives_now() -> None:
    assert MOBY_GIT is not None

    def show(tag: str, path: str) -> str | None:
        argv = ["git", f"--git-dir={MOBY_GIT}", "show", f"{tag}:{path}"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else None

    for tag, rows in json.loads(FETCHES.read_text("utf-8")).items():
        fetches = [Fetch(*row) for row in rows]
        graph = stagegraph.graph(fetches, functools.partial(show, tag))
        assert graph == stagegraph.stored(tag), f"regenerate: python -m mobyci.families.fetchscan {tag}"


def test_v20_10_27_binary_and_cross_build_what_moby_s_makefile_asks() -> None:
    graph = stagegraph.stored("v20.10.27")
    assert graph is not None
    binary = stagegraph.built(graph, "binary", {})
    cross = stagegraph.built(graph, "cross", {"CROSS": "true"})
    assert {"build-binary", "tini", "runc", "cross-false"} <= binary
    assert "cross-true" not in binary
    assert {"cross-true", "build-cross"} <= cross
    assert not {"frozen-images", "dev", "swagger", "criu"} & (binary | cross)


# A spec for v28.5.2's `binary` whose tree fetches all go through a mirror except criu's archive key
# (`ADD https://download.opensuse.org/…/Debian_11/Release.key`, moby v28.5.2 Dockerfile:71), which only the criu
# stage fetches; no target builds criu.
_SPEC = """\
version: 1
moby: {ref: v28.5.2}
mirrors:
  apt: mirrors.corp.example
  git: {"https://github.com/": "https://git.corp.example/github/"}
  downloads:
    "https://download.docker.com/linux/static": "https://files.corp.example/docker"
    "https://download.opensuse.org/repositories/devel:/tools:/criu/Debian_12/": "https://files.corp.example/criu/"
  registry: https://hub.corp.example
  registry_tokens: false
  goproxy: https://goproxy.corp.example
  gosumdb: "sum.golang.org https://goproxy.corp.example/sumdb/sum.golang.org"
  pypi: https://pypi.corp.example/simple
  alpine: https://alpine.corp.example/alpine
targets: [binary]
ci: {gitlab: {image_prefix: hub.corp.example/library}}
"""
_KEY = "https://download.opensuse.org/repositories/devel:/tools:/criu/Debian_11/Release.key"

# Stand-in: the stored graph of v28.5.2 with the criu stage's fetches moved into `build`, a stage `binary` builds.
_MOVED_STANDIN = """\
import sys
from mobyci.families import stagegraph
real = stagegraph.stored
def stored(tag):
    graph = real(tag)
    return graph._replace(fetches=tuple(("build",) if of == ("criu",) else of for of in graph.fetches))
stagegraph.stored = stored
from mobyci.cli import app
sys.argv = ["mobyci", "plan", "--fetches", "--strict"]
app()
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "mobyci.yaml").write_text(_SPEC)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, env=env, check=False)


def test_strict_passes_when_the_only_direct_fetch_is_in_a_stage_the_targets_never_build(tmp_path: Path) -> None:
    done = _run(tmp_path, "-m", "mobyci", "plan", "--fetches", "--strict")
    assert (done.returncode, done.stderr) == (0, "")
    text = done.stdout
    section = text[text.index("\nnot built (") :]
    title = "not built (41): only stages the targets never build fetch these; --strict skips them"
    assert section.startswith(f"\n{title}\n")
    assert f"{_KEY} (Dockerfile:71): direct, no mirrors.downloads prefix matches it [TLS]" in " ".join(section.split())
    assert "\ndirect (" not in text
    data = json.loads(_run(tmp_path, "-m", "mobyci", "plan", "--fetches", "--format", "json").stdout)
    key = next(f for f in data["fetches"] if f["endpoint"] == _KEY)
    assert (key["route"], key["built"], data["direct"], data["not_built"]) == ("direct", False, 0, 41)


def test_strict_fails_when_the_same_fetch_is_in_a_stage_the_target_builds(tmp_path: Path) -> None:
    done = _run(tmp_path, "-c", _MOVED_STANDIN)
    assert done.returncode == 1
    assert done.stderr == (
        "mobyci: 1 fetches would go direct (no mirror rewrites them, no proxy carries them):\n"
        f"  Dockerfile:71: {_KEY} (download: no mirrors.downloads prefix matches it)\n"
    )
    assert "\ndirect (1)\n" in done.stdout
