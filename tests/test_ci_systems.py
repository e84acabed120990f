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


    def runner_fetches(plan):  # its runner pulls nothing of its own; it runs every job of the plan
        from mobyci.plan.model import RunnerFetches

        return RunnerFetches((), jobs=tuple(job.name for job in plan.jobs))


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
        "mobyci-check: The spec validates and the committed files are current",
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
