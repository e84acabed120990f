"""The apt lines of a patched moby tree, run under dash on copies of the Debian images' own apt sources, point
every `deb` / `URIs:` line at exactly the spec's URLs, for each form `mirrors.apt` takes.

Trees: the real release tags (v19.03.12, v20.10.27, v24.0.9, v28.5.2) from a bare moby clone when one is at hand
(MOBYCI_MOBY_GIT, default /work/.mirror/moby+moby/repo; skipped otherwise), and the small fixture trees always.
The lines run are every RUN of the apt stages (base, frozen-images) that touches /etc/apt/sources*: moby's own
APT_MIRROR hook with the value the pipeline exports for it, and mobyci's inserted block, in Dockerfile order.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from mobyci.emit.render import make_plan
from mobyci.load.reader import load_text
from mobyci.patch.script import build_patch_script
from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc

APT = ROOT / "tests" / "fixtures" / "apt"
TREES = ROOT / "tests" / "fixtures" / "trees"
MOBY_GIT = Path(os.environ.get("MOBYCI_MOBY_GIT", "/work/.mirror/moby+moby/repo"))
# What git archive must bring for the patch script to recognise and patch a tree.
_TREE_PATHS = ("Dockerfile", "Makefile", "hack", "contrib", "docker-bake.hcl", "vendor.conf", "go.mod")

NEXUS = (
    "{debian: https://nexus.corp.example/repository/debian-proxy, "
    "security: https://nexus.corp.example/repository/debian-security-proxy}"
)
TUNA_ARCHIVE = "https://mirrors.tuna.tsinghua.edu.cn/debian-archive"


class Form(NamedTuple):
    apt: str  # as written in the spec
    debian: str  # what every debian line must say afterwards
    security: str  # what every debian-security line must say afterwards


CURRENT_FORMS = {
    "host": Form("mirrors.example.com", "http://mirrors.example.com/debian", "http://mirrors.example.com/debian-security"),
    "url-root": Form(
        "https://mirrors.example.com", "https://mirrors.example.com/debian", "https://mirrors.example.com/debian-security"
    ),
    "url-path": Form(
        "https://deb.mirror.corp.example/debian",
        "https://deb.mirror.corp.example/debian",
        "https://deb.mirror.corp.example/debian-security",
    ),
    "mapping": Form(
        NEXUS,
        "https://nexus.corp.example/repository/debian-proxy",
        "https://nexus.corp.example/repository/debian-security-proxy",
    ),
}  # fmt: skip
ARCHIVED_FORMS = {
    "archive": Form("archive", "http://archive.debian.org/debian", "http://archive.debian.org/debian-security"),
    "archive-mapping": Form(
        f"{{archive: {TUNA_ARCHIVE}}}", f"{TUNA_ARCHIVE}/debian", f"{TUNA_ARCHIVE}/debian-security"
    ),
}

# (tag or fixture family, apt sources files the build's images carry, archived)
REAL = [
    ("v19.03.12", ("buster.sources.list", "buster-deb-security.sources.list"), True),
    ("v20.10.27", ("bullseye.sources.list",), False),
    ("v24.0.9", ("bullseye.sources.list",), False),
    ("v28.5.2", ("bookworm.debian.sources",), False),
]
FIXTURE_REFS = {"19.03": "v19.03.12", "20.10": "v20.10.27", "24.0": "v24.0.9", "25-28": "v27.5.1"}
FIXTURES = [
    ("19.03", ("buster.sources.list",), True),
    ("20.10", ("bullseye.sources.list",), False),
    ("24.0", ("bullseye.sources.list",), False),
    ("25-28", ("bookworm.debian.sources",), False),
]


def _cases() -> list[tuple[str, str, str, Form, bool]]:
    cases = []
    for source, rows in (("real", REAL), ("fixture", FIXTURES)):
        for where, files, archived in rows:
            forms = ARCHIVED_FORMS if archived else CURRENT_FORMS
            for form in forms.values():
                for file in files:
                    cases.append((source, where, file, form, archived))
    return cases


def _ids() -> list[str]:
    return [
        f"{source}-{where}-{file}-{next(n for n, f in {**CURRENT_FORMS, **ARCHIVED_FORMS}.items() if f == form)}"
        for source, where, file, form, _ in _cases()
    ]


def _tree(tmp_path: Path, source: str, where: str) -> tuple[Path, str]:
    tree = tmp_path / "moby"
    if source == "fixture":
        shutil.copytree(TREES / where, tree)
        return tree, FIXTURE_REFS[where]
    if not (MOBY_GIT / "HEAD").exists():
        pytest.skip(f"no bare moby clone at {MOBY_GIT} (set MOBYCI_MOBY_GIT)")
    git = ["git", f"--git-dir={MOBY_GIT}"]
    names = subprocess.run([*git, "ls-tree", "--name-only", where], capture_output=True, text=True, check=True)
    paths = [p for p in _TREE_PATHS if p in names.stdout.split()]
    tree.mkdir()
    archive = subprocess.run([*git, "archive", where, *paths], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree, where


def _spec(ref: str, apt: str) -> str:
    return f"version: 1\nmoby: {{ref: {ref}}}\nmirrors:\n  apt: {apt}\ntargets: [binary]\n"


def _stage_runs(dockerfile: str, stage: str) -> list[str]:
    """The RUN instructions of one stage that touch the apt sources, continuation lines joined."""
    instructions: list[str] = []
    current = ""
    for line in dockerfile.splitlines():
        current = f"{current}\n{line}" if current else line
        if line.endswith("\\"):
            continue
        instructions.append(current)
        current = ""
    runs: list[str] = []
    inside = False
    for instruction in instructions:
        words = instruction.split()
        if words[:1] and words[0].upper() == "FROM":
            inside = words[-2:] == ["AS", stage]
        elif inside and words[:1] == ["RUN"] and "/etc/apt/sources" in instruction:
            runs.append(instruction[len("RUN") :])  # the shell form, continuations and all, as /bin/sh -c gets it
    return runs


def _exported(plan_lines: list[str], name: str) -> str | None:
    for line in plan_lines:
        found = re.fullmatch(rf"export {name}=(\S+)", line)
        if found:
            return found.group(1).strip("'")
    return None


def _urls(text: str) -> list[tuple[str, str]]:
    """(URL, suites) of every active deb line or deb822 stanza."""
    found: list[tuple[str, str]] = []
    for stanza in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[:1].isalpha())
        if "URIs" in fields:
            found.append((fields["URIs"].strip(), fields.get("Suites", "").strip()))
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["deb"]:
            rest = words[1:]
            if rest and rest[0].startswith("["):
                rest = rest[rest.index(next(w for w in rest if w.endswith("]"))) + 1 :]
            found.append((rest[0], rest[1]))
    return found


@pytest.mark.parametrize(("source", "where", "file", "form", "archived"), _cases(), ids=_ids())
def test_every_debian_line_points_at_the_spec_urls(
    tmp_path: Path, source: str, where: str, file: str, form: Form, archived: bool
) -> None:
    tree, ref = _tree(tmp_path, source, where)
    loaded = load_text(_spec(ref, form.apt))
    script = tmp_path / "patch.sh"
    script.write_text(build_patch_script(loaded))
    subprocess.run([pc.tool("dash"), str(script), str(tree)], capture_output=True, check=True)

    plan = make_plan(loaded)
    lines = [line for job in plan.jobs for line in job.script]
    hook_value = _exported(lines, "DOCKER_BUILD_APT_MIRROR") or _exported(lines, "APT_MIRROR")
    env = {"PATH": os.environ["PATH"]}
    if hook_value is not None:
        env["APT_MIRROR"] = hook_value  # the Makefile's --build-arg APT_MIRROR, or bake's APT_MIRROR variable
    dockerfile = (tree / "Dockerfile").read_text()
    checked = 0
    for stage in ("base", "frozen-images"):
        runs = _stage_runs(dockerfile, stage)
        if not runs:
            continue
        root = tmp_path / stage
        target = root / (
            "etc/apt/sources.list.d/debian.sources" if file.endswith(".sources") else "etc/apt/sources.list"
        )
        target.parent.mkdir(parents=True)
        (root / "etc/apt/apt.conf.d").mkdir(parents=True, exist_ok=True)
        shutil.copy(APT / file, target)
        for run in runs:  # each RUN in a shell of its own, as the build runs them
            command = run.replace("/etc/apt/", f"{root}/etc/apt/")
            subprocess.run([pc.tool("dash"), "-e", "-c", command], env=env, check=True, capture_output=True)

        result = target.read_text()
        urls = _urls(result)
        assert urls, result
        for url, suites in urls:
            security = "-security" in suites or "/updates" in suites
            assert url.rstrip("/") == (form.security if security else form.debian), (stage, result)
        if archived:
            assert not any("-updates" in suites for _, suites in urls), result
            assert (root / "etc/apt/apt.conf.d/99mobyci-archive").read_text() == 'Acquire::Check-Valid-Until "false";\n'
        # Where mobyci's own rewrite runs (its marker; moby's APT_MIRROR hook writes no apt.conf), apt retries a
        # transient failure at once: apt 2.6.1's delayed retry can hang for good (rules.py, _RETRIES).
        retries = root / "etc/apt/apt.conf.d/99mobyci-retries"
        assert retries.exists() == (f"# mobyci:apt-{stage}" in dockerfile), (stage, dockerfile)
        if retries.exists():
            assert retries.read_text() == 'Acquire::Retries::Delay "false";\n'
        checked += 1
    assert checked, "no stage of the patched Dockerfile rewrites apt sources"
