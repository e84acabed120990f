"""The inventory's pipeline part is what the rendered pipeline fetches: every image, service, clone URL and action
of the rendered file of each CI system is listed by `plan --fetches --for <system>`, and every job image, service
and action the inventory lists is in that file.

The oracle parses the rendered YAML (not the emitters' data): `image:` and `services:` anywhere in a GitLab
file, `uses:` of GitHub steps, and clone URLs from the shell lines (`git … remote add origin URL`, `git clone …
URL`, `<X>_REPO=URL` for the clones `make` runs, a `git+URL` pip requirement). It runs over every golden case, every
example and a generated set of specs across runner profiles, install sources, CA, packages and cross builds.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mobyci.emit.render import pipeline_plan, render_pipeline
from mobyci.load.reader import LoadedSpec, load_text
from mobyci.report.fetches import plan_inventory
from mobyci.report.inventory import Entry
from tests.helpers.golden_cases import cases, load_case
from tests.helpers.outputs import FORMATS, meaning, shell_lines, strings
from tests.helpers.packaging_trees import live, packaging_distros

_CLONE_RES = (
    re.compile(r"\bremote add origin (\S+)"),
    re.compile(r"\bgit clone\b.* (\S+://\S+)"),
    re.compile(r"\b[A-Z_]+_REPO=(\S+://\S+)"),
    re.compile(r"git\+(https?://[^@'\s]+)"),
)


def _rendered(fmt: str, text: str) -> dict[str, set[str]]:
    """What the rendered pipeline pulls or clones, by kind."""
    doc = meaning(fmt, text)
    found: dict[str, set[str]] = {"image": set(), "service": set(), "action": set(), "git": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if fmt == "gitlab" and key == "image":
                    found["image"].add(value["name"] if isinstance(value, dict) else value)
                elif fmt == "gitlab" and key == "services":
                    found["service"] |= {s["name"] if isinstance(s, dict) else s for s in value}
                elif fmt == "github" and key == "uses":
                    found["action"].add(value)
                elif fmt == "github" and key in ("container", "services"):
                    found["image"] |= set(strings(value))  # none today: any would need listing
                elif fmt == "buildkite" and key == "plugins":
                    found["action"] |= {next(iter(p)) if isinstance(p, dict) else p for p in value}
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    for line in shell_lines(fmt, text):
        if line.startswith("#"):
            continue
        for pattern in _CLONE_RES:
            found["git"] |= {url.strip("'\"") for url in pattern.findall(line)}
    return found


def _listed(kind: str, value: str, entries: tuple[Entry, ...]) -> bool:
    for e in entries:
        if kind in ("image", "service") and e.kind in ("job-image", "service"):
            # Through ci.gitlab.image_prefix the runner pulls `<prefix>/<image>`; the entry names both.
            if value == e.endpoint or (value.endswith("/" + e.endpoint) and value[: -len(e.endpoint) - 1] in e.via):
                return True
        elif (kind == "action" and e.kind == "action" and value == e.endpoint) or (
            kind == "git" and e.kind == "git" and (value == e.endpoint or e.via.endswith("-> " + value))
        ):
            return True
    return False


def _runner_pulls(entries: tuple[Entry, ...]) -> set[tuple[str, str]]:
    return {(e.kind, e.endpoint) for e in entries if e.kind in ("job-image", "service", "action")}


def _check(loaded: LoadedSpec, label: str) -> None:
    for fmt in FORMATS:
        inventory = plan_inventory(pipeline_plan(loaded, fmt))
        rendered = _rendered(fmt, render_pipeline(loaded, fmt))
        missing = [(kind, v) for kind, values in rendered.items() for v in sorted(values)]
        missing = [(kind, v) for kind, v in missing if not _listed(kind, v, inventory.entries)]
        assert not missing, f"{label} ({fmt}): rendered but not in `plan --fetches --for {fmt}`: {missing}"
        # And the other way: no job image, service or action the pipeline never uses.
        pulled = rendered["image"] | rendered["service"] | rendered["action"]
        extra = [
            (kind, endpoint)
            for kind, endpoint in sorted(_runner_pulls(inventory.entries))
            if not any(v == endpoint or v.endswith("/" + endpoint) for v in pulled)
        ]
        assert not extra, f"{label} ({fmt}): listed by `plan --fetches --for {fmt}` but never pulled: {extra}"


@pytest.mark.parametrize(("case", "spec"), [(c, s) for c, s, _ in cases("gitlab-ci.yml", ".gitlab-ci.yml")])
def test_every_golden_and_example_pipeline_fetches_only_what_the_inventory_lists(case: str, spec: Path) -> None:
    _check(load_case(spec), case)


_TAGS = ("v19.03.12", "v20.10.27", "v23.0.18", "v28.5.2", "docker-v29.7.2")
_RUNNERS = ("dind", "shell")
_REQUIREMENTS = ("", "mobyci==0.1.0", "git+https://git.corp.example/tools/mobyci.git@v0.1.0")
_CA = ("", "tls: {ca_certs: [$CORP_CA_CERT]}\n")
_TARGETS = ("targets: [binary]\n", "targets: [binary, cross]\n", "packages")


def _packages(tag: str) -> str:
    """rpm and deb targets of distros the release's packaging branch builds today (its facts): CentOS Stream or
    UBI (not on Docker Hub), Fedora, a deb distro and Raspbian (an arm runner) where the branch has them."""
    from mobyci.families import resolve

    release = resolve(tag, None)
    assert release is not None
    rpm, deb = (live(kind) for kind in packaging_distros(release.packaging.branch))
    chosen = {
        "rpm": [d for d in rpm if d.startswith(("centos", "rhel"))][:1]
        + [d for d in rpm if d.startswith("fedora")][:1],
        "deb": [d for d in deb if not d.startswith("raspbian")][:1] + [d for d in deb if d.startswith("raspbian")][:1],
    }
    return "targets:\n" + "".join(f"  - {{name: {k}, distros: [{', '.join(d)}]}}\n" for k, d in chosen.items() if d)


_MIRRORS = (
    "",
    "mirrors:\n  git: {'https://github.com/': 'https://git.corp.example/github/'}\n"
    "  registry: https://registry.corp.example\n  pypi: https://pypi.corp.example/simple\n",
)


def _generated() -> list[tuple[str, str]]:
    """A deterministic sample: one in seven of the combinations of the axes (every value of each axis is in it)."""
    out = []
    for index, (tag, runner, requirement, ca, targets, mirrors) in enumerate(
        itertools.product(_TAGS, _RUNNERS, _REQUIREMENTS, _CA, _TARGETS, _MIRRORS)
    ):
        if index % 7:
            continue
        if tag.startswith("v19.03"):  # Debian buster is archived: the spec must say where its archive is
            mirrors = (mirrors or "mirrors:\n") + "  apt: archive\n"  # noqa: PLW2901
        ci = f"ci:\n  gitlab: {{runner: {runner}, runners: {{arm: [arm32]}}}}\n"
        ci += "  buildkite: {cache: registry.corp.example/ci/moby-cache, runners: {arm: arm-agents}}\n"
        ci += "  github: {runners: {arm: [self-hosted, ARM]}}\n"
        if requirement:
            ci += f"  mobyci_requirement: '{requirement}'\n"
        chosen = _packages(tag) if targets == "packages" else targets
        text = f"version: 1\nmoby: {{ref: {tag}}}\n{mirrors}{ca}{chosen}{ci}"
        out.append((f"{tag}-{runner}-{index}", text))
    return out


@pytest.mark.parametrize(("label", "text"), _generated())
def test_every_generated_pipeline_fetches_only_what_the_inventory_lists(label: str, text: str) -> None:
    _check(load_text(text, "mobyci.yaml"), label)


# --- What the package jobs and the builders pull, from the facts of the real repositories ---------------------------

PACKAGING_GIT = Path(os.environ.get("MOBYCI_PACKAGING_GIT", "/work/.mirror/docker+docker-ce-packaging/repo"))
BUILDX_GIT = Path(os.environ.get("MOBYCI_BUILDX_GIT", "/work/.mirror/docker+buildx/repo"))


def _branch_tags() -> list[tuple[str, str]]:
    from tests.helpers.packaging_trees import BRANCHES

    return sorted(BRANCHES.items())


@pytest.mark.parametrize(("branch", "tag"), _branch_tags())
def test_every_package_job_lists_its_base_image_and_says_when_no_mirror_covers_it(branch: str, tag: str) -> None:
    from mobyci.families.packaging_data import build_image

    rpm, deb = (live(kind) for kind in packaging_distros(branch))
    if not rpm and not deb:
        pytest.skip(f"docker-ce-packaging {branch} builds no distro that is alive today")
    targets = "".join(f"  - {{name: {k}, distros: [{', '.join(d)}]}}\n" for k, d in (("rpm", rpm), ("deb", deb)) if d)
    archive = "  apt: archive\n" if tag.startswith("v19.03") else ""
    spec = f"version: 1\nmoby: {{ref: {tag}}}\nmirrors:\n  registry: https://registry.corp.example\n{archive}"
    runners = "ci: {gitlab: {runners: {arm: [arm32]}}}\n"  # raspbian packages need an arm runner
    inventory = plan_inventory(
        pipeline_plan(load_text(spec + "targets:\n" + targets + runners, "mobyci.yaml"), "gitlab")
    )
    for kind, distros in (("rpm", rpm), ("deb", deb)):
        for distro in distros:
            job = f"{kind}-{distro}"
            pulls = {e.endpoint: e for e in inventory.entries if (e.source, e.kind) == (job, "image")}
            image = build_image(distro, branch)
            assert image in pulls, (job, sorted(pulls))
            assert "alpine" in pulls, job  # the Makefiles' `docker run … alpine tar`
            registry = image.split("/", 1)[0] if "." in image.split("/", 1)[0] else ""
            if registry:
                assert (pulls[image].route, pulls[image].via) == (
                    "direct",
                    f"no mirror covers {registry} (mirrors.registry mirrors Docker Hub only)",
                ), job
            else:
                assert pulls[image].route == "mirror", job


@pytest.mark.skipif(not PACKAGING_GIT.is_dir(), reason="set MOBYCI_PACKAGING_GIT to a docker-ce-packaging git dir")
@pytest.mark.parametrize("branch", [branch for branch, _ in _branch_tags()])
def test_build_image_is_each_package_dockerfiles_arg_default(branch: str) -> None:
    from mobyci.families.packaging_data import FRONTEND_BRANCHES, build_image

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={PACKAGING_GIT}", *args], check=True, capture_output=True, text=True
        ).stdout

    files = [
        f
        for f in git("ls-tree", "-r", "--name-only", branch).splitlines()
        if re.fullmatch(r"(deb|rpm)/[^/]+/Dockerfile", f)
    ]
    assert files
    for path in files:
        text = git("show", f"{branch}:{path}")
        args = dict(re.findall(r"^ARG (DISTRO|SUITE|BUILD_IMAGE)=(\S+)$", text, re.MULTILINE))
        expanded = args["BUILD_IMAGE"].replace("${DISTRO}", args["DISTRO"]).replace("${SUITE}", args["SUITE"])
        assert build_image(path.split("/")[1], branch) == expanded, path
        assert text.startswith("# syntax=docker/dockerfile:1\n") == (branch in FRONTEND_BRANCHES), path


@pytest.mark.skipif(not BUILDX_GIT.is_dir(), reason="set MOBYCI_BUILDX_GIT to a docker/buildx git directory")
def test_the_builder_image_is_buildx_s_default() -> None:
    from mobyci.report.fetches import BUILDKIT_IMAGE

    for tag in ("v0.13.1", "v0.36.1"):
        text = subprocess.run(
            ["git", f"--git-dir={BUILDX_GIT}", "show", f"{tag}:driver/bkimage/bkimage.go"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert re.search(rf'DefaultImage\s*=\s*"{re.escape(BUILDKIT_IMAGE)}"', text), tag


@pytest.mark.parametrize(("case", "spec"), [(c, s) for c, s, _ in cases("gitlab-ci.yml", ".gitlab-ci.yml")])
def test_every_builder_cache_and_dev_image_the_pipeline_sets_up_is_listed(case: str, spec: Path) -> None:
    from mobyci.report.fetches import BUILDKIT_IMAGE

    loaded = load_case(spec)
    for fmt in FORMATS:
        lines = shell_lines(fmt, render_pipeline(loaded, fmt))
        text = "\n".join(lines)
        builds = "docker buildx create" in text or "docker/setup-buildx-action@" in text
        caches = set(re.findall(r'type=registry,ref=([^"]+):"', text))
        entries = plan_inventory(pipeline_plan(loaded, fmt)).entries
        assert any(e.endpoint == BUILDKIT_IMAGE for e in entries) == builds, (case, fmt)
        assert {e.endpoint for e in entries if e.kind == "cache" and e.endpoint != "type=gha"} == caches, (case, fmt)
        # The dev image of make-run families: the repository it is pushed to and pulled from.
        dev = re.search(r"MOBYCI_DEV_IMAGE[:=]", text) is not None
        assert any(e.kind == "dev-image" for e in entries) == dev, (case, fmt)
