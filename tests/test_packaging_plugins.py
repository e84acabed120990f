"""19.03 and 20.10 package builds run plugins/*.installer inside the package container, which clone their
repository: the packaging patch points each installer's REPO at mirrors.git. The installers are fixture shapes of
the real ones (tests/fixtures/packaging-plugins/README.md); which installers a branch has, and the repository
each clones, come from the facts table."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mobyci.families import facts as ft
from mobyci.families import lifecycle
from mobyci.plan.mirrors import rewrite_url
from tests.helpers import ROOT
from tests.helpers.packaging_trees import packaging_patch_of, packaging_tree, run_patch, shells

_PLUGINS = ROOT / "tests" / "fixtures" / "packaging-plugins" / "plugins"
_GIT = {"https://github.com/": "https://git.example.test/gh/"}
_BRANCHES = {
    name: branch
    for name, branch in ft.table().packaging.items()
    if any(c.pinned_at.startswith("plugins/") for c in branch.components)
}
_REF = {"19.03": "v19.03.15", "20.10": "v20.10.27"}
_DAY = {"19.03": "2021-01-01", "20.10": "2022-06-01"}


def _spec(branch: str) -> str:
    apt = "apt: archive, " if branch == "19.03" else ""  # its engine builds on archived Debian
    return (
        f"version: 1\nmoby: {{ref: {_REF[branch]}}}\n"
        f"mirrors: {{{apt}git: {{'https://github.com/': 'https://git.example.test/gh/'}}}}\n"
        "targets: [{name: deb, distros: [debian-buster]}]\n"
    )


def _clones(tree: Path, tmp: Path, installer: str) -> list[str]:
    """What `bash plugins/<installer> build` clones, with stand-ins for git and go that record and do nothing."""
    bin_dir, log = tmp / "bin", tmp / "git.log"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "go").write_text(f"#!/bin/sh\necho {tmp}/gopath\n")
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nif [ "$1" = clone ]; then mkdir -p "$3"; fi\n')
    for tool in ("go", "git"):
        (bin_dir / tool).chmod(0o755)
    shutil.rmtree(tmp / "gopath", ignore_errors=True)
    log.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(tree / "plugins" / installer), "build"], env=env, check=True, capture_output=True)
    return [line.split()[1] for line in log.read_text().splitlines() if line.startswith("clone ")]


def test_the_table_knows_the_branches_that_build_plugins_with_installers() -> None:
    assert set(_BRANCHES) == {"19.03", "20.10"}


@pytest.mark.parametrize("branch", sorted(_BRANCHES))
def test_plugin_installers_clone_from_the_git_mirror(
    tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, _DAY[branch])
    patch = packaging_patch_of(_spec(branch))
    assert patch is not None
    script = tmp_path / "patch.sh"
    script.write_text(patch)
    pins = {c.pinned_at.split(":")[0].removeprefix("plugins/"): c.repo for c in _BRANCHES[branch].components}
    for shell in shells():
        tree = packaging_tree(tmp_path / shell / "packaging", (), ("debian-buster",))
        shutil.copytree(_PLUGINS, tree / "plugins")
        # Unpatched, each installer clones from GitHub: the leak.
        for installer, repo in pins.items():
            assert _clones(tree, tmp_path, installer) == [repo]
        done = run_patch(script, tree, shell)
        assert done.returncode == 0, done.stderr
        for installer, repo in pins.items():
            assert f"plugins/{installer}: mirrors.git" in done.stdout
            assert _clones(tree, tmp_path, installer) == [rewrite_url(repo, _GIT)]
            assert rewrite_url(repo, _GIT).startswith("https://git.example.test/gh/docker/")
        again = run_patch(script, tree, shell)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("already applied") == len(pins) + ("distro-mirror-debian-buster" in patch)


def test_an_installer_without_one_repo_line_stops_the_patch_before_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, _DAY["20.10"])
    script = tmp_path / "patch.sh"
    script.write_text(str(packaging_patch_of(_spec("20.10"))))
    tree = packaging_tree(tmp_path / "packaging", (), ("debian-buster",))
    shutil.copytree(_PLUGINS, tree / "plugins")
    app = tree / "plugins" / "app.installer"
    app.write_text(app.read_text().replace("REPO=", "REPOSITORY="))
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    done = run_patch(script, tree, "sh")
    assert done.returncode == 1
    assert "plugins/app.installer: not one REPO= line (another branch);" in done.stderr
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before
