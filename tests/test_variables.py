"""No variable a generated pipeline sets shadows one that moby's Makefile or bake file reads, unless on purpose.

moby's Makefile and docker-bake.hcl read their knobs from the environment (make variables, `-e NAME` passed into
the dev container, bake `variable "NAME"` blocks). A CI variable of the same name changes the build: the cross
matrix once was PLATFORM, which moby reads as its product name (bake `variable "PLATFORM"`, `--build-arg
PLATFORM`), so cross daemons reported `linux/arm64` as their platform.

The names come from the fixture trees (tests/fixtures/trees/<family>/Makefile and docker-bake.hcl), which list
every variable the real files of the family's tags read. `MOBYCI_MOBY_GIT=/path/to/moby.git pytest
tests/test_variables.py` checks that against a copy of the moby/moby repository.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest

from mobyci.emit.render import render_pipeline
from mobyci.families import family_names
from mobyci.load.reader import load_text
from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc
from tests.helpers.families import FIXTURE_TAGS, NEWEST_TAG

TREES = ROOT / "tests" / "fixtures" / "trees"
# Variables mobyci sets because moby reads them: each is a documented knob, set to what moby expects.
INTENDED = {
    "VERSION": "the version binaries report (hack/make.sh, bake variable)",
    "APT_MIRROR": "the apt mirror (bake variable, 23.0 and 24.0)",
    "DOCKER_BUILD_APT_MIRROR": "the apt mirror (Makefile, 19.03 to 24.0)",
    "DOCKER_BUILD_ARGS": "build args of `docker build` (Makefile, 19.03 and 20.10)",
    "DOCKER_CROSSPLATFORMS": "the cross platforms (Makefile, 19.03 and 20.10)",
    "DOCKER_BUILDKIT": "BuildKit for `docker build` (19.03 and 20.10)",
    "DOCKER_GITCOMMIT": "the commit of 19.03 builds, which run hack/make.sh without the Makefile",
    "DESTDIR": "the output directory of one cross platform (bake variable)",
    "DOCKER_HOST": "the docker-in-docker daemon (the Makefile reads it to decide on bind mounts)",
    **dict.fromkeys(
        ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
        "proxies (19.03/20.10 pass them into the dev container with -e NAME)",
    ),
}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def makefile_variables(text: str) -> set[str]:
    """Every variable a Makefile reads or sets: $(NAME), ${NAME}, NAME =, ifdef/export NAME, -e NAME, --build-arg."""
    names: set[str] = set()
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw if raw.startswith("\t") else raw.split("#", 1)[0]
        names.update(re.findall(rf"\$[({{]({_NAME})[)}}]", line))
        assignment = re.match(rf"\s*(?:export\s+|override\s+)?({_NAME})\s*[?:+]?=", line)
        if assignment:
            names.add(assignment.group(1))
        directive = re.match(rf"\s*(?:ifdef|ifndef|export|unexport)\s+({_NAME})\s*$", line)
        if directive:
            names.add(directive.group(1))
        names.update(re.findall(rf"(?:^|\s)-e\s+({_NAME})\b", line))
        names.update(re.findall(rf"--build-arg[ =]({_NAME})\b", line))
    return {n for n in names if n.upper() == n}


def bake_variables(text: str) -> set[str]:
    return set(re.findall(rf'^variable\s+"({_NAME})"', text, re.MULTILINE))


def moby_variables(family: str) -> set[str]:
    tree = TREES / family
    names = makefile_variables((tree / "Makefile").read_text())
    if (tree / "docker-bake.hcl").exists():
        names |= bake_variables((tree / "docker-bake.hcl").read_text())
    return names


def test_the_fixture_trees_list_the_variables_moby_reads() -> None:
    for family in FIXTURE_TAGS:
        names = moby_variables(family)
        # The ones that matter here, read by every family from 23.0 on (bake) or by all (Makefile).
        assert {"VERSION", "DOCKER_GITCOMMIT", "PLATFORM", "PRODUCT"} <= names, family
        if (TREES / family / "docker-bake.hcl").exists():
            assert {"DESTDIR", "DOCKER_STATIC", "PACKAGER_NAME"} <= names, family


@pytest.mark.skipif(not os.environ.get("MOBYCI_MOBY_GIT"), reason="set MOBYCI_MOBY_GIT to a moby/moby git dir")
@pytest.mark.parametrize("family", list(FIXTURE_TAGS))
def test_the_fixture_trees_match_the_real_tags(family: str) -> None:
    git_dir = os.environ["MOBYCI_MOBY_GIT"]

    def show(tag: str, path: str) -> str | None:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{tag}:{path}"], capture_output=True, text=True, check=False
        )
        return done.stdout if done.returncode == 0 else None

    real: set[str] = set()
    for tag in FIXTURE_TAGS[family]:
        makefile = show(tag, "Makefile")
        assert makefile is not None, tag
        real |= makefile_variables(makefile)
        bake = show(tag, "docker-bake.hcl")
        real |= bake_variables(bake) if bake else set()
    assert sorted(real - moby_variables(family)) == []


# --- what the outputs set --------------------------------------------------------------------------------------

_EXPORT = re.compile(rf"(?:^|[;&|(]\s*|\s)export\s+({_NAME})")
_ASSIGN = re.compile(rf"(?m)(?:^|&&|;|\(|\|\|)\s*({_NAME})=")


def _script_names(script: str) -> set[str]:
    return set(_EXPORT.findall(script)) | {n for n in _ASSIGN.findall(script) if n.upper() == n}


def output_variables(fmt: str, doc: dict[str, Any]) -> set[str]:
    """Every variable name a rendered pipeline sets for its jobs: pipeline, job and step variables, matrix
    dimensions, and what its scripts assign and export."""
    names: set[str] = set()
    if fmt == "gitlab":
        names |= set(doc.get("variables", {}))
        for job in pc.jobs(doc).values():
            names |= set(job.get("variables", {}))
            for entry in job.get("parallel", {}).get("matrix", []) if isinstance(job.get("parallel"), dict) else []:
                names |= set(entry)
        for script in pc.job_scripts(doc).values():
            names |= _script_names(script)
    elif fmt == "buildkite":
        names |= set(doc.get("env", {}))
        for step in doc["steps"]:
            names |= set(step.get("env", {}))
            names |= set(step.get("matrix", {}).get("setup", {}))
            names |= _script_names("\n".join(step["commands"]).replace("$$", "$"))
    else:
        names |= set(doc.get("env", {}))
        for job in doc["jobs"].values():
            names |= set(job.get("env", {}))
            names |= set(job.get("strategy", {}).get("matrix", {}))
            for step in job["steps"]:
                names |= set(step.get("env", {}))
                names |= _script_names(step.get("run", ""))
    return names


def shadowed(fmt: str, doc: dict[str, Any], family: str) -> list[str]:
    """Names the output sets that moby's files of `family` read, and that are not deliberate knobs."""
    return sorted((output_variables(fmt, doc) & moby_variables(family)) - set(INTENDED))


SPEC = """\
version: 1
moby: {ref: REF FAMILY}
mirrors: {apt: deb.mirror.example.com, registry: https://hub.mirror.example.com}
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.corp.example]}
targets: [binary, dynbinary, cross, {name: deb, distros: [DISTRO]}]
ci: {gitlab: {runner: RUNNER}, buildkite: {cache: registry.example.com/ci/moby-cache}}
"""
# A deb distro each family's newest tag packages for.
DISTROS = {
    "19.03": "debian-buster",
    "20.10": "debian-bullseye",
    "23.0": "debian-bookworm",
    "24.0": "debian-bookworm",
    "25-28": "debian-bookworm",
    "29": "debian-bookworm",
}
REFS = {family: (NEWEST_TAG[family], distro) for family, distro in DISTROS.items()}


@pytest.mark.parametrize("family", family_names())  # a family missing from DISTROS fails
@pytest.mark.parametrize("ref_kind", ["tag", "branch"])
def test_no_output_shadows_a_moby_variable(family: str, ref_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tag, distro = REFS[family]
    if family == "19.03":
        # Every distro 19.03's packaging offers is past its end of life today; judge the spec as of a day it built.
        monkeypatch.setenv("MOBYCI_TODAY", "2021-01-01")
    ref, family_key = (tag, "") if ref_kind == "tag" else ("corp/feature", f", family: '{family}'")
    for runner in ("dind", "shell"):
        text = SPEC.replace("REF", ref).replace(" FAMILY", family_key).replace("DISTRO", distro)
        if family == "19.03":  # Debian buster is archived: validation insists on an archive mirror
            text = text.replace("apt: deb.mirror.example.com", "apt: archive")
        loaded = load_text(text.replace("RUNNER", runner), "mobyci.yaml")
        for fmt in ("gitlab", "buildkite", "github"):
            doc = pc.load_yaml(render_pipeline(loaded, fmt))
            assert shadowed(fmt, doc, family) == [], f"{fmt} ({runner})"


def test_a_matrix_named_like_a_moby_variable_is_caught() -> None:
    text = SPEC.replace("REF", "v28.5.2").replace(" FAMILY", "").replace("DISTRO", "debian-bookworm")
    loaded = load_text(text.replace("RUNNER", "dind"))
    for fmt in ("gitlab", "buildkite", "github"):
        # The cross matrix as it was named before: moby's product-name variable.
        doc = pc.load_yaml(render_pipeline(loaded, fmt).replace("MOBYCI_PLATFORM", "PLATFORM"))
        assert shadowed(fmt, doc, "25-28") == ["PLATFORM"], fmt


def test_a_branch_gets_the_same_version_line_in_every_system() -> None:
    text = (
        SPEC.replace("REF", "corp/feature_x").replace(" FAMILY", ", family: '29'").replace("DISTRO", "debian-bookworm")
    )
    loaded = load_text(text.replace("RUNNER", "dind"))
    line = 'VERSION="corp-feature-x-$(cut -c1-7 mobyci-gitcommit)" && export VERSION'
    gitlab = pc.job_scripts(pc.load_yaml(render_pipeline(loaded, "gitlab")))
    buildkite = {s["key"]: s["commands"] for s in pc.load_yaml(render_pipeline(loaded, "buildkite"))["steps"]}
    github = pc.load_yaml(render_pipeline(loaded, "github"))["jobs"]
    for target in ("binary", "dynbinary", "cross"):
        assert line in gitlab[target].splitlines()
        assert line.replace("$", "$$") in buildkite[f"mobyci-{target}"]  # upload turns `$$` back into `$`
        # The job's own script: its last run step (an empty-workspace step comes first).
        assert line in [s["run"] for s in github[target]["steps"] if "run" in s][-1].splitlines()
    # A tag has its version as a pipeline variable instead, and no line of its own.
    tag_text = SPEC.replace("REF", "docker-v29.7.2").replace(" FAMILY", "").replace("DISTRO", "debian-bookworm")
    doc = pc.load_yaml(render_pipeline(load_text(tag_text.replace("RUNNER", "dind")), "gitlab"))
    assert doc["variables"]["VERSION"] == "29.7.2"
    assert not any(re.search(r"(^|[^_A-Z])VERSION=", script, re.M) for script in pc.job_scripts(doc).values())
