"""The release facts table (mobyci/families/releases.py): what the clones give, and its own consistency."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mobyci.errors import MobyciError
from mobyci.families import FAMILIES, pins, releases
from mobyci.families import facts as ft
from mobyci.families import generate as gen
from mobyci.families.detect import detect_from
from mobyci.families.packaging_data import EXTRA_SOURCES
from tests.helpers import ROOT

_CLONES = {name: os.environ.get(f"MOBYCI_{name.upper()}_GIT") for name in ("moby", "cli", "packaging")}
# The repositories the packaging branches build next to the engine: "docker/buildx=DIR docker/compose=DIR …".
_COMPONENT_CLONES = os.environ.get("MOBYCI_COMPONENT_GITS", "")
_ROWS = list(ft.table().releases.values())


@pytest.mark.skipif(
    not (all(_CLONES.values()) and _COMPONENT_CLONES),
    reason="maintainer check: set MOBYCI_MOBY_GIT, MOBYCI_CLI_GIT, MOBYCI_PACKAGING_GIT and MOBYCI_COMPONENT_GITS",
)
def test_table_is_what_the_clones_give() -> None:
    from mobyci.facts import parse_repos, table_source

    moby, cli, packaging = (Path(str(_CLONES[n])) for n in ("moby", "cli", "packaging"))
    committed = (ROOT / "mobyci" / "families" / "releases.py").read_text("utf-8")
    fresh = table_source(moby, cli, packaging, releases.MADE, parse_repos(_COMPONENT_CLONES.split()))
    assert fresh == committed, (
        "stale: python -m mobyci.facts --moby $MOBYCI_MOBY_GIT --cli $MOBYCI_CLI_GIT "
        "--packaging $MOBYCI_PACKAGING_GIT --repo … (each of $MOBYCI_COMPONENT_GITS) "
        f"--date {releases.MADE} (or today's date after a new release)"
    )


def test_every_release_from_19_03_0_to_docker_v29_7_2_is_there_once() -> None:
    tags = [r.tag for r in _ROWS]
    assert len(tags) == len(set(tags))
    assert tags[0] == "v19.03.0"
    assert "docker-v29.7.2" in tags
    for tag in tags:
        assert re.fullmatch(r"(docker-)?v\d+\.\d+\.\d+", tag), f"{tag}: pre-releases are not in the table"
    keys = [(v.major, v.minor or 0, v.patch or 0) for v in (r.version for r in _ROWS)]
    assert keys == sorted(keys)
    # Lines with a gap in their patch numbers would be a tag the generator dropped (v27.0.0 was never tagged:
    # 27.0 starts at v27.0.1).
    for major_minor in {k[:2] for k in keys}:
        patches = sorted(k[2] for k in keys if k[:2] == major_minor)
        assert patches == list(range(patches[0], patches[-1] + 1)), major_minor


def test_every_tag_resolves_to_the_family_its_tree_is_detected_as() -> None:
    for row in _ROWS:
        by_version = [f.name for f in FAMILIES if f.contains(row.version)]
        assert by_version == [row.family], row.tag
        # The decision list (touchpoints.DETECTION), run on the conditions recorded for the tag's tree.
        assert detect_from(set(row.holds)) == row.family, row.tag


def test_cli_refs_are_tags_of_the_carried_cli_list() -> None:
    for row in _ROWS:
        assert row.cli_ref in releases.CLI_TAGS, row.tag
        assert gen.cli_ref(row.version, list(releases.CLI_TAGS)) == (row.cli_ref, row.cli_ref_how), row.tag
    # docker/cli has no tag for these engine releases (checked in docker/cli): the newest of the line below.
    assert ft.release("v23.0.18") is not None
    assert ft.table().releases["v23.0.18"].cli_ref == "v23.0.15"
    assert ft.table().releases["v25.0.17"].cli_ref == "v25.0.7"
    assert ft.table().releases["docker-v29.7.2"].cli_ref == "v29.7.2"


def test_packaging_branches_agree_with_the_family_data() -> None:
    branches = ft.table().packaging
    for row in _ROWS:
        family = next(f for f in FAMILIES if f.name == row.family)
        packaging = family.packaging_for(row.version)
        assert packaging.branch == row.packaging_branch, row.tag
        assert row.packaging_branch in branches, row.tag
        # The family's layout holds for each of its releases (a release the table does not know takes it).
        assert family.bundles == row.bundles, row.tag


def test_toolchain_and_cross_facts_the_pipelines_rely_on() -> None:
    rows = ft.table().releases
    assert (rows["v25.0.17"].go_version, rows["v25.0.17"].packaging_branch) == ("1.26.5", "27.x")
    assert rows["v23.0.18"].go_version == "1.23.8"
    assert ft.table().packaging["27.x"].go_version == "1.22.12"
    universe = {f"linux/{a}" for a in ("amd64", "arm", "arm/v5", "arm/v6", "arm/v7", "arm64", "ppc64le", "s390x")}
    universe.add("windows/amd64")
    for row in _ROWS:
        assert set(row.cross) <= universe, row.tag
        assert re.fullmatch(r"1\.\d+(\.\d+)?", row.go_version), row.tag
        assert row.debian in {"stretch", "buster", "bullseye", "bookworm", "trixie"}, row.tag
        if row.family == "20.10":
            # hack/make/.binary: -buildmode=pie always, a C toolchain only for some platforms.
            assert not {"linux/arm/v6", "linux/s390x"} & set(row.cross), row.tag
        if row.family == "19.03":
            assert {"linux/arm/v5", "linux/arm/v7"} <= set(row.cross), row.tag


# --- the generator's readers, on small hand-written files -------------------------------------------------------

_BINARY = """\
if [ cross ]; then
	case "$(go env GOOS)/$(go env GOARCH)" in
		windows/amd64)
			export CC=x86_64-w64-mingw32-gcc
			;;
		linux/arm)
			case "${GOARM}" in
				5 | "")
					export CC=arm-linux-gnueabi-gcc
					;;
			esac
			;;
	esac
fi
case "$(go env GOOS)/$(go env GOARCH)" in
	windows/* | linux/mips*) ;;
	*)
		BUILDFLAGS+=("-buildmode=pie")
		;;
esac
"""
_DOCKERFILE = "FROM base AS cross-true\nRUN dpkg --add-architecture armel\nRUN dpkg --add-architecture s390x\n"


def test_classic_cross_keeps_what_links() -> None:
    # armel gives linux/arm and arm/v5 (toolchain set for GOARM 5 and unset); s390x has no CC and needs PIE.
    assert gen._classic_cross(_DOCKERFILE, _BINARY) == ("linux/amd64", "linux/arm", "linux/arm/v5", "windows/amd64")


def test_bake_platforms_are_read_from_the_platforms_target() -> None:
    bake = 'target "_platforms" {\n  platforms = [\n    "linux/amd64",\n    "linux/arm/v7",\n  ]\n}\n'
    assert gen._bake_platforms("vX", bake) == ("linux/amd64", "linux/arm/v7")


# The shapes of docker-ce-packaging's pins (27.x on: common.mk; 19.03 and 20.10: plugins/<name>.installer), written
# here in those shapes with made-up refs.
_COMMON_MK = """\
GO_VERSION:=1.30.1
DOCKER_CLI_REPO    ?= https://github.com/docker/cli.git
DOCKER_COMPOSE_REPO ?= https://github.com/docker/compose.git
DOCKER_BUILDX_REPO  ?= https://github.com/docker/buildx.git
DOCKER_CLI_REF     ?= $(REF)
DOCKER_COMPOSE_REF ?= v9.1.0
DOCKER_BUILDX_REF  ?= "v0.99.0"
"""
_INSTALLER = """\
#!/usr/bin/env bash
PKG=github.com/docker/buildx
REPO=https://${PKG}.git
: "${BUILDX_COMMIT=v0.9.9}"
"""


def test_pins_are_read_from_common_mk_and_the_installers() -> None:
    assert pins.common_mk_pins(_COMMON_MK) == [
        pins.Pin("compose", "https://github.com/docker/compose.git", "v9.1.0", "common.mk:6"),
        pins.Pin("buildx", "https://github.com/docker/buildx.git", "v0.99.0", "common.mk:7"),
    ]
    assert pins.installer_pin("plugins/buildx.installer", _INSTALLER) == pins.Pin(
        "buildx", "https://github.com/docker/buildx.git", "v0.9.9", "plugins/buildx.installer:4"
    )
    app = "REPO=https://github.com/docker/app.git\nCOMMIT=v0.1.0-beta1\n"
    assert pins.installer_pin("plugins/app.installer", app).ref == "v0.1.0-beta1"
    with pytest.raises(MobyciError, match=r"plugins/x\.installer: cannot read the repository"):
        pins.installer_pin("plugins/x.installer", "REPO=https://${SOMEWHERE}.git\nCOMMIT=v1\n")


def test_a_component_needs_the_highest_go_line_of_its_module_and_its_vendored_ones() -> None:
    gomod = b"module github.com/docker/buildx\n\ngo 1.17\n"
    # Vendored modules' language versions (vendor/modules.txt), one above the module's own: its type parameters.
    modules = b"# github.com/a/b v1.0.0\n## explicit; go 1.16\n# github.com/c/d v0.2.0\n## explicit; go 1.18\n"
    assert pins.go_need(gomod, modules) == pins.Need("1.18", "vendor/modules.txt:4")
    assert pins.go_need(b"module m\n\ngo 1.22.10\n\ntoolchain go1.23.4\n", None) == pins.Need("1.22.10", "go.mod:3")
    assert pins.go_need(None, None).go is None  # no go.mod: a GOPATH build (docker/app)
    assert pins.go_key("1.22") == pins.go_key("1.22.0") < pins.go_key("1.22.10")


def test_the_table_records_what_every_packaging_branch_builds() -> None:
    for name, branch in ft.table().packaging.items():
        # The clones the sources job makes from 27.x on (packaging_data.EXTRA_SOURCES) are the pinned components.
        extra = {c.repo for c in EXTRA_SOURCES.get(name, ())}
        if extra:
            assert {c.repo for c in branch.components} == extra, name
        for component in branch.components:
            assert component.go is None or re.fullmatch(r"1\.\d+(\.\d+)?", component.go), name
            assert re.fullmatch(r"(common\.mk|plugins/[a-z]+\.installer):\d+", component.pinned_at), name
    # 20.10 builds buildx v0.10.4, whose vendored buildkit uses type parameters: Go 1.18 at least.
    buildx = next(c for c in ft.table().packaging["20.10"].components if c.name == "buildx")
    assert pins.go_key(str(buildx.go)) >= pins.go_key("1.18")


def test_facts_command_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mobyci.facts", "--moby", str(tmp_path), "--cli", str(tmp_path)),
            *("--packaging", str(tmp_path), "--out", str(tmp_path / "out.py")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"mobyci.facts: {tmp_path}: git for-each-ref")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.py").exists()
