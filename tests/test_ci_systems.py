"""The CI systems as objects: a fourth system is a registry entry, an emitter and a CISystem, nothing else.

The stand-in system is registered in a child process (the CLI reads the registry's choices when it is imported),
and goes through the same command lines people type.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mobyci import formats
from tests.helpers import ROOT

# A stand-in fourth CI system, as small as the registry allows: an emitter that lists the plan's jobs, and a
# CISystem that states its name and title and takes every other answer from BaseSystem.
_STANDIN = textwrap.dedent(
    """
    import sys

    from mobyci import formats


    class StandinSystem(formats.BaseSystem):
        name = "standin"
        title = "Standin CI (a stand-in fourth system)"


    def render_standin(plan):
        return "".join(f"{job.name}: {job.title}\\n" for job in plan.jobs)


    formats.register(
        formats.Format(
            "standin", "standin", "__main__", "render_standin", ".standin-ci.yml", "standin", "Standin pipeline.", ""
        ),
        StandinSystem(),
    )
    sys.argv = ["mobyci", *sys.argv[1:]]
    from mobyci.fastpath import main

    main()
    """
)
_SPEC = """\
version: 1
moby: {ref: v28.5.2}
mirrors: {git: {"https://github.com/": "https://git.mirror.example/github/"}}
proxy: {http: $CORP_HTTP_PROXY}
targets: [binary, {name: deb, distros: [debian-bookworm]}]
"""


def _standin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "standin.py"
    script.write_text(_STANDIN)
    (tmp_path / "mobyci.yaml").write_text(_SPEC)
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path, check=False
    )


def test_a_fourth_system_renders_with_no_other_module_touched(tmp_path: Path) -> None:
    done = _standin(tmp_path, "render", "mobyci.yaml", "--format", "standin")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "mobyci-check: The spec validates and the committed pipeline is current",
        "prepare: Check out moby, apply the mirror patch",
        "binary: make binary",
    ]
    assert "deb-debian-bookworm: " in done.stdout


def test_a_fourth_system_has_a_plan(tmp_path: Path) -> None:
    done = _standin(tmp_path, "plan", "mobyci.yaml", "--for", "standin")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Build (for Standin CI (a stand-in fourth system))\n")
    assert "\nJobs\n" in done.stdout
    assert "CI variables to create (names only, never values)\n  CORP_HTTP_PROXY" in done.stdout
    as_json = json.loads(_standin(tmp_path, "plan", "mobyci.yaml", "--for", "standin", "--format", "json").stdout)
    assert as_json["system"] == "standin"


def test_a_fourth_system_has_a_fetch_inventory(tmp_path: Path) -> None:
    done = _standin(tmp_path, "plan", "mobyci.yaml", "--for", "standin", "--fetches", "--format", "json")
    assert done.returncode == 0, done.stderr
    inventory = json.loads(done.stdout)
    assert inventory["system"] == "standin"
    assert {"prepare", "mobyci-check"} <= {e["source"] for e in inventory["fetches"]}
    assert any("-> https://git.mirror.example/github/" in e["via"] for e in inventory["fetches"])


def test_the_standin_is_refused_where_it_has_no_runner(tmp_path: Path) -> None:
    # Its answers come from BaseSystem: no arm runner, so a raspbian package job is refused, located.
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nmoby: {ref: v28.5.2}\ntargets: [{name: deb, distros: [raspbian-bookworm]}]\n"
        "ci: {gitlab: {runners: {arm: [pi]}}}\n"
    )
    done = _standin(tmp_path, "render", "spec.yaml", "--format", "standin")
    assert done.returncode == 1
    assert done.stderr.startswith("spec.yaml:3:33: targets[0].distros[0]: raspbian-bookworm packages build in")
    assert "add a Standin CI (a stand-in fourth system) runner of architecture arm" in done.stderr


@pytest.mark.parametrize("system", formats.SYSTEMS)
def test_each_shipped_system_object_is_the_one_its_module_declares(system: str) -> None:
    found = formats.ci_system(system)
    assert found.name == system
    assert formats.ci_system(system) is found


def test_the_registry_loads_no_system_object_until_asked() -> None:
    code = "import sys, mobyci.formats, mobyci.fastpath; print(sorted(m for m in sys.modules if m.endswith('_system')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# --- what the runners fetch themselves ---------------------------------------------------------------------------

_RUNNER_SPECS = {
    "dind": "ci: {gitlab: {docker_version: 28.1.1}}\n",
    "shell": "ci: {gitlab: {runner: shell}}\n",
    "vcs requirement, prefixed images": (
        "ci: {mobyci_requirement: 'git+https://git.example/mobyci.git@v1', "
        "gitlab: {image_prefix: registry.example/hub}}\n"
    ),
    "packages and CA": (
        "targets: [binary, {name: deb, distros: [debian-bookworm]}]\ntls: {ca_certs: [$CORP_CA]}\n"
        "mirrors: {registry: https://registry.example}\n"
    ),
}


def _loaded(extra: str) -> Any:
    from mobyci.load.reader import load_text

    base = "version: 1\nmoby: {ref: v28.5.2}\n"
    return load_text(base + extra + ("" if "targets:" in extra else "targets: [binary]\n"), "mobyci.yaml")


def _pipeline_images(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, image) of every image and service a rendered GitLab pipeline names, templates included."""
    found: set[tuple[str, str]] = set()
    for body in doc.values():
        if not isinstance(body, dict):
            continue
        if isinstance(body.get("image"), str):
            found.add(("image", body["image"]))
        for service in body.get("services", []):
            found.add(("service", service["name"] if isinstance(service, dict) else service))
    return found


@pytest.mark.parametrize("extra", _RUNNER_SPECS.values(), ids=_RUNNER_SPECS)
def test_gitlab_runner_fetches_are_the_images_and_services_its_pipeline_names(extra: str) -> None:
    from mobyci.emit.render import make_plan, render_pipeline
    from tests.helpers.pipeline_tools import load_yaml

    loaded = _loaded(extra)
    listed = {(f.kind, f.ref) for f in formats.ci_system("gitlab").runner_fetches(make_plan(loaded, "gitlab"))}
    assert listed == _pipeline_images(load_yaml(render_pipeline(loaded, "gitlab")))


def test_gitlab_runner_fetches_name_the_jobs_and_the_mirror_setting() -> None:
    from mobyci.emit.render import make_plan

    loaded = _loaded(_RUNNER_SPECS["vcs requirement, prefixed images"])
    fetches = formats.ci_system("gitlab").runner_fetches(make_plan(loaded, "gitlab"))
    assert [(f.ref, f.jobs, f.through) for f in fetches] == [
        # The check job installs mobyci from git: the full python image, which has git.
        ("registry.example/hub/python:3.12", ("mobyci-check",), "ci.gitlab.image_prefix"),
        ("registry.example/hub/docker:27.5.1-cli", ("prepare", "binary", "checksums"), "ci.gitlab.image_prefix"),
        ("registry.example/hub/docker:27.5.1-dind", ("binary",), "ci.gitlab.image_prefix"),
    ]


@pytest.mark.parametrize("extra", _RUNNER_SPECS.values(), ids=_RUNNER_SPECS)
def test_github_runner_fetches_are_the_actions_its_workflow_uses(extra: str) -> None:
    from mobyci.emit.render import make_plan, render_pipeline
    from tests.helpers.pipeline_tools import load_yaml

    loaded = _loaded(extra)
    listed = {f.ref for f in formats.ci_system("github").runner_fetches(make_plan(loaded, "github"))}
    workflow = load_yaml(render_pipeline(loaded, "github"))
    used = {step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step}
    assert listed == used
    assert "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1" in listed


def test_buildkite_runners_fetch_nothing_of_their_own() -> None:
    from mobyci.emit.render import make_plan

    assert formats.ci_system("buildkite").runner_fetches(make_plan(_loaded(""), "buildkite")) == ()
