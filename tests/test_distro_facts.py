"""Distros and targets as typed facts (families/distros.py, families/targets.py): the generated table's distros all
have a vendor, and a new distro or vendor is one entry that a spec can then build packages for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import pytest

from mobyci.emit.render import render_pipeline
from mobyci.errors import SpecError
from mobyci.families import distros, facts
from mobyci.families.targets import TARGETS, TargetName
from mobyci.load.reader import load_text
from mobyci.plan.build import build_plan
from mobyci.plan.model import Fetched
from mobyci.specmodel.checks import check_spec

SPEC = """\
version: 1
moby: {ref: v28.5.2}
mirrors:
  git: {"https://github.com/": "https://git.mirror.test/github/"}
  ubuntu: {archive: "http://ubuntu.mirror.test/ubuntu"}
targets: [{name: deb, distros: [DEB]}, {name: rpm, distros: [RPM]}]
"""

# Stand-ins: a release and a vendor docker-ce-packaging does not have, added the way a real one would be.
_NEW_RELEASE = "ubuntu-zesty"
_NEW_VENDOR = distros.Vendor(
    "almalinux",
    "rpm",
    "dnf",
    distros.DistroArchive(None, ("repo.almalinux.org",), tls=True),
    "almalinux:{release}",
)


@pytest.fixture
def fresh_tables() -> Iterator[None]:
    distros.branch_distros.cache_clear()
    distros.all_distros.cache_clear()
    yield
    distros.branch_distros.cache_clear()
    distros.all_distros.cache_clear()


def _with_branch_distros(monkeypatch: pytest.MonkeyPatch, deb: tuple[str, ...], rpm: tuple[str, ...]) -> None:
    """The facts table as `python -m mobyci.facts` would write it if the 28.x branch had these directories too."""
    real = facts.table()
    row = real.packaging["28.x"]
    packaging = {**real.packaging, "28.x": row._replace(deb=(*row.deb, *deb), rpm=(*row.rpm, *rpm))}
    monkeypatch.setattr(facts, "table", lambda: real._replace(packaging=packaging))


def test_every_distro_of_the_generated_table_has_a_vendor() -> None:
    for branch in facts.table().packaging.values():
        for fmt, listed in (("deb", branch.deb), ("rpm", branch.rpm)):
            for distro_id in listed:
                found = distros.distro(distro_id)
                assert found is not None, (branch.branch, distro_id)
                assert found.format == fmt, (branch.branch, distro_id)
    assert len(distros.all_distros()) == len({d for b in facts.table().packaging.values() for d in (*b.deb, *b.rpm)})


def test_branch_distros_number_releases_by_number() -> None:
    # The generator lists directories as git sorts them (centos-10 before centos-9); messages offer them in order.
    assert facts.table().packaging["28.x"].rpm[:2] == ("centos-10", "centos-9")
    assert distros.branch_distros("28.x", "rpm")[:2] == ("centos-9", "centos-10")
    assert distros.branch_distros("28.x", "rpm")[-3:] == ("rhel-8", "rhel-9", "rhel-10")


def test_images_follow_the_branch_defaults() -> None:
    def image(distro_id: str, branch: str) -> str:
        found = distros.distro(distro_id)
        assert found is not None
        return found.image(branch)

    assert image("debian-bookworm", "28.x") == "debian:bookworm"
    assert image("raspbian-bookworm", "28.x") == "balenalib/rpi-raspbian:bookworm"
    assert image("centos-9", "28.x") == "quay.io/centos/centos:stream9"
    assert image("centos-8", "20.10") == "quay.io/centos/centos:stream8"
    assert image("centos-8", "19.03") == "centos:8"
    assert image("centos-7", "20.10") == "centos:7"
    assert image("rhel-7", "20.10") == "dockereng/rhel:7-s390x"
    assert image("rhel-9", "28.x") == "registry.access.redhat.com/ubi9/ubi"


def test_target_table_is_the_schema() -> None:
    assert list(TARGETS) == list(get_args(TargetName))
    assert all(name == row.name for name, row in TARGETS.items())
    assert all((row.output is None) == (row.package is None) for row in TARGETS.values())


@pytest.mark.usefixtures("fresh_tables")
def test_a_distro_nobody_added_is_refused() -> None:
    with pytest.raises(SpecError) as raised:
        load_text(SPEC.replace("DEB", _NEW_RELEASE).replace("RPM", "centos-9"), "mobyci.yaml")
    assert f"'{_NEW_RELEASE}' is not supported by docker-ce-packaging branch 28.x" in str(raised.value)


@pytest.mark.usefixtures("fresh_tables")
def test_one_entry_adds_a_release_and_one_a_vendor(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_branch_distros(monkeypatch, deb=(_NEW_RELEASE,), rpm=("almalinux-9",))
    monkeypatch.setattr(distros, "VENDORS", (*distros.VENDORS, _NEW_VENDOR))
    loaded = load_text(SPEC.replace("DEB", _NEW_RELEASE).replace("RPM", "almalinux-9"), "mobyci.yaml")
    _, findings, warnings = check_spec(loaded.spec)
    assert findings == []
    # The new vendor has no mirror key: the warning names its own hosts. The new Ubuntu release takes Ubuntu's.
    assert [message for _, message in warnings if "almalinux-9" in message] == [
        "no mirror for almalinux-9's archive: its package image reaches repo.almalinux.org directly: allow those "
        "hosts through the firewall or proxy"
    ]
    assert not any(_NEW_RELEASE in message for _, message in warnings)
    jobs = {job.name: job for job in build_plan(loaded).jobs}
    assert Fetched("dnf", "repo.almalinux.org", "almalinux-9") in jobs["rpm-almalinux-9"].fetches
    # The package Dockerfile's FROM ${BUILD_IMAGE}: the vendor's image, with the release.
    assert "almalinux:9" in [f.endpoint for f in jobs["rpm-almalinux-9"].fetches if f.how == "build"]
    assert "ubuntu:zesty" in [f.endpoint for f in jobs[f"deb-{_NEW_RELEASE}"].fetches if f.how == "build"]
    assert Fetched("apt", "archive.ubuntu.com", _NEW_RELEASE) in jobs[f"deb-{_NEW_RELEASE}"].fetches
    pipeline = render_pipeline(loaded, "gitlab")
    makes = [line.split() for line in pipeline.splitlines() if "make -C mobyci-pkg/packaging/" in line]
    assert [(words[3], words[-1]) for words in makes] == [
        ("mobyci-pkg/packaging/deb", _NEW_RELEASE),
        ("mobyci-pkg/packaging/rpm", "almalinux-9"),
    ]
    # Ubuntu's mirror block goes into the new release's Dockerfile, through the packaging patch.
    assert f"deb/{_NEW_RELEASE}/Dockerfile" in pipeline
    assert "ubuntu.mirror.test" in pipeline
