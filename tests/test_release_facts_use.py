"""Validation, plans and pipelines built from the release facts and the distro lifecycle table."""

from __future__ import annotations

import re

import pytest

from mobyci.emit.render import make_plan, render_pipeline
from mobyci.errors import SpecError
from mobyci.families import ARCHIVED_DEBIAN, lifecycle, resolve, resolve_family
from mobyci.families import facts as ft
from mobyci.families.pins import go_key
from mobyci.load.reader import LoadedSpec, load_text
from mobyci.report import view as planview
from tests.helpers import pipeline_tools as pc


def _load(ref: str, *targets: str) -> LoadedSpec:
    row = ft.table().releases.get(ref)
    # A release on an archived Debian (19.03: stretch or buster) needs an archive mirror to validate.
    apt = "mirrors: {apt: archive}\n" if row is not None and row.debian in ARCHIVED_DEBIAN else ""
    return load_text(f"version: 1\nmoby: {{ref: '{ref}'}}\n{apt}targets: [{', '.join(targets) or 'binary'}]\n")


def _refused(ref: str, *targets: str) -> str:
    with pytest.raises(SpecError) as caught:
        _load(ref, *targets)
    return str(caught.value)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        # Inside the 27 line's range of releases, but never tagged.
        ("v27.0.0", "v27.0.0 is not a moby release (facts table of 2026-12-01); did you mean v27.0.1?"),
        ("v25.0.99", None),  # past the newest of a line still getting releases: a warning, below
        ("v27.9.9", "v27.9.9 is not a moby release: the 27 line's newest is v27.5.1 of 2025-01-22"),
        ("v19.03.99", "v19.03.99 is not a moby release: the 19.03 line's newest is v19.03.15 of 2021-02-01"),
        (
            "v29.0.0",
            "'v29.0.0' is not a moby tag (from 29.0 the engine's tags are docker-vX.Y.Z); did you mean docker-v29.0.0?",
        ),
        ("27.5.1", "'27.5.1' is not a moby tag (moby tags releases vX.Y.Z); did you mean v27.5.1?"),
        ("docker-v28.5.2", "'docker-v28.5.2' is not a moby tag (moby tags releases vX.Y.Z); did you mean v28.5.2?"),
    ],
)
def test_refs_that_are_no_release_are_refused_with_the_nearest(ref: str, expected: str | None) -> None:
    if expected is None:
        assert _load(ref).warnings
        return
    message = _refused(ref)
    assert f"mobyci.yaml:2:13: moby.ref: {expected}" in message


def test_a_release_newer_than_the_table_is_accepted_with_a_warning_naming_the_table_date() -> None:
    loaded = _load("docker-v29.8.0")
    assert loaded.release.family.name == "29"
    assert loaded.release.facts is None
    assert loaded.warnings == (
        "mobyci.yaml:2:13: moby.ref: warning: docker-v29.8.0 is newer than every release in mobyci's facts table "
        "of 2026-12-01 (newest of its line: docker-v29.7.2): taken for family 29 with that family's defaults; "
        "if its tree differs, set moby.family, and a newer mobyci may know the release",
    )
    # Saying the family is the answer the warning asks for.
    spec = "version: 1\nmoby: {ref: docker-v29.8.0, family: '29'}\ntargets: [binary]\n"
    assert load_text(spec).warnings == ()


def test_cross_platforms_are_checked_per_release() -> None:
    cross = "{name: cross, platforms: [linux/arm/v6]}"
    # 20.10's hack/make/.binary links arm/v6 with no C toolchain and -buildmode=pie: refused for 20.10 …
    assert "'linux/arm/v6' is not supported by v20.10.27 (its tree's cross build)" in _refused("v20.10.27", cross)
    # … and 19.03's hack/make/cross splits arm/v5 and arm/v7 into GOARM.
    assert _load("v19.03.12", "{name: cross, platforms: [linux/arm/v5, linux/arm/v7]}").spec.targets
    # ppc64le appears in 20.10's cross stage with v20.10.19: before it, the tree has no toolchain for it.
    ppc = "{name: cross, platforms: [linux/ppc64le]}"
    assert "linux/ppc64le" in _refused("v20.10.18", ppc)
    assert _load("v20.10.19", ppc).release.cross_platforms[-2] == "linux/ppc64le"


@pytest.mark.parametrize(
    ("ref", "kind", "distro", "expected"),
    [
        (
            "v20.10.27",
            "deb",
            "debian-buster",
            "'debian-buster' cannot be built as of 2026-12-01: Debian 10 buster: "
            "Debian LTS ended on 2024-06-30; its suites moved to archive.debian.org",
        ),
        (
            "v27.5.1",
            "rpm",
            "fedora-40",
            "'fedora-40' cannot be built as of 2026-12-01: Fedora 40: end of life on 2025-05-13",
        ),
        ("v28.5.2", "deb", "ubuntu-plucky", "Ubuntu 25.04 plucky: end of life on 2026-01-15"),
        ("v28.5.2", "deb", "ubuntu-questing", "Ubuntu 25.10 questing: end of life on 2026-07-09"),
        ("v28.5.2", "rpm", "fedora-42", "Fedora 42: end of life on 2026-05-13"),
        ("v20.10.27", "deb", "raspbian-buster", "Raspbian 10 buster: Raspbian rebuilds Debian buster"),
    ],
)
def test_distros_whose_repositories_are_gone_are_refused_with_date_and_source(
    ref: str, kind: str, distro: str, expected: str
) -> None:
    message = _refused(ref, f"{{name: {kind}, distros: [{distro}]}}")
    assert expected in message
    assert "(https://" in message


def test_distros_near_or_past_end_of_life_warn_and_still_build() -> None:
    loaded = _load("v28.5.2", "{name: rpm, distros: [fedora-43]}", "{name: deb, distros: [debian-bullseye]}")
    assert loaded.warnings == (
        "mobyci.yaml:3:33: targets[0].distros[0]: warning: 'fedora-43': Fedora 43 reaches end of life on "
        "2026-12-09, in 8 days (https://fedorapeople.org/groups/schedule/); plan to move on",
        "mobyci.yaml:3:68: targets[1].distros[0]: warning: 'debian-bullseye': Debian 11 bullseye reached end of "
        "Debian LTS on 2026-08-31 (https://wiki.debian.org/LTS)",
    )


def test_the_day_changes_messages_never_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = "version: 1\nmoby: {ref: v28.5.2}\ntargets: [{name: rpm, distros: [fedora-42]}]\n"
    monkeypatch.setenv(lifecycle.TODAY_VAR, "2026-01-01")
    early = load_text(spec)
    assert early.warnings == ()  # 132 days before its end of life: nothing to say yet
    monkeypatch.setenv(lifecycle.TODAY_VAR, "2026-04-01")
    late = load_text(spec)
    assert "reaches end of life on 2026-05-13, in 42 days" in late.warnings[0]
    assert render_pipeline(early, "gitlab") == render_pipeline(late, "gitlab")
    monkeypatch.setenv(lifecycle.TODAY_VAR, "2026-05-13")
    with pytest.raises(SpecError, match="'fedora-42' cannot be built as of 2026-05-13"):
        load_text(spec)


def test_a_bad_today_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, "tomorrow")
    with pytest.raises(lifecycle.TodayError, match="MOBYCI_TODAY='tomorrow' is not a date: write it as YYYY-MM-DD"):
        _load("v28.5.2", "{name: deb, distros: [debian-bookworm]}")
    # Only package targets read the day.
    assert _load("v28.5.2").warnings == ()


@pytest.mark.parametrize(
    ("ref", "cli", "go", "image", "branch", "why"),
    [
        # The engine's Go is the highest: its own build image.
        ("v25.0.17", "v25.0.7", "1.26.5", "golang:1.26.5-bookworm", "27.x", "moby v25.0.17: Dockerfile:3"),
        ("v23.0.18", "v23.0.15", "1.23.8", "golang:1.23.8-bookworm", "23.0", "moby v23.0.18: Dockerfile:3"),
        # The branch's GO_VERSION is higher than v23.0.0's 1.19.5 (no golang:1.19.5-bookworm exists): the branch's
        # own image.
        ("v23.0.0", "v23.0.0", "1.20.7", "golang:1.20.7-bookworm", "23.0", "docker-ce-packaging 23.0: common.mk:20"),
    ],
)
def test_package_jobs_build_with_the_release_cli_and_go(
    ref: str, cli: str, go: str, image: str, branch: str, why: str
) -> None:
    loaded = _load(ref, "{name: deb, distros: [debian-bookworm]}")
    plan = make_plan(loaded)
    text = " ".join(planview.plan_text(plan).split())
    assert f"cli {cli};" in text
    assert f"Go {go}; the highest Go the package build needs, {why}" in text
    assert f"Go image {image};" in text
    assert f"docker-ce-packaging {branch}; the release line's branch (families/data.py)" in text
    job = plan.job("deb-debian-bookworm")
    # The CLI is fetched once, by the sources job; the distro job builds with the Go.
    assert f'cli_ref="${{MOBYCI_CLI_REF:-{cli}}}"' in plan.job("packaging-sources").script
    make = next(line for line in job.script if line.startswith("make -C mobyci-pkg/packaging/deb "))
    assert make.split()[3:5] == [f"GO_VERSION={go}", f"GO_IMAGE={image}"]
    data = planview.plan_data(plan)["packages"]
    assert [p["what"] for p in data] == ["docker-ce-packaging", "cli", "Go", "Go image"]
    assert data[1]["value"] == cli


def _job_go(job_script: tuple[str, ...]) -> tuple[str, str]:
    """GO_VERSION and GO_IMAGE of a package job's make line."""
    make = next(line for line in job_script if line.startswith("make -C mobyci-pkg/packaging/"))
    words = dict(w.split("=", 1) for w in make.split() if w.startswith(("GO_VERSION=", "GO_IMAGE=")))
    return words["GO_VERSION"], words["GO_IMAGE"]


def _needs(row: ft.ReleaseFacts | None, branch: ft.PackagingFacts) -> dict[str, str]:
    """Every Go the facts say the package build needs: the engine's, the branch's, each pinned component's."""
    found = {f"docker-ce-packaging {branch.branch}": branch.go_version}
    if row is not None:
        found[f"moby {row.tag}"] = row.go_version
    found.update({f"{c.name} {c.ref}": c.go for c in branch.components if c.go is not None})
    return found


def test_every_release_package_job_has_a_go_every_component_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """GOTOOLCHAIN=local in the package images: Go refuses a module whose go line is newer than itself."""
    # A day when every branch's oldest Debian still had its repositories: every release gets a package job.
    monkeypatch.setenv(lifecycle.TODAY_VAR, "2020-01-01")
    rows = list(ft.table().releases.values())
    assert {r.packaging_branch for r in rows} == set(ft.table().packaging)
    for row in rows:
        branch = ft.table().packaging[row.packaging_branch]
        distro = next(d for d in branch.deb if d.startswith("debian-"))
        job = make_plan(_load(row.tag, f"{{name: deb, distros: [{distro}]}}")).job(f"deb-{distro}")
        go, image = _job_go(job.script)
        for what, need in _needs(row, branch).items():
            assert go_key(go) >= go_key(need), f"{row.tag}: Go {go} < {need} that {what} needs"
        # No higher than needed, and the image holds that Go.
        assert go in _needs(row, branch).values(), row.tag
        assert image.startswith(f"golang:{go}-"), row.tag


@pytest.mark.parametrize("branch", sorted(ft.table().packaging))
def test_a_packaging_branch_ref_gets_a_go_its_components_accept(branch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ref the facts table does not know (a fork's branch) builds with the branch's Go, or higher."""
    monkeypatch.setenv(lifecycle.TODAY_VAR, "2020-01-01")
    facts = ft.table().packaging[branch]
    family = {"27.x": "27", "29.4": "29.4", "master": "29.5"}.get(branch, branch)
    distro = next(d for d in facts.deb if d.startswith("debian-"))
    apt = "mirrors: {apt: archive}\n" if branch == "19.03" else ""
    loaded = load_text(
        f"version: 1\nmoby: {{ref: my-fork, family: '{family}'}}\n{apt}targets: [{{name: deb, distros: [{distro}]}}]\n"
    )
    assert loaded.release.packaging.branch == branch
    job = make_plan(loaded).job(f"deb-{distro}")
    make = next(line for line in job.script if line.startswith("make -C mobyci-pkg/packaging/"))
    go = _job_go(job.script)[0] if "GO_VERSION=" in make else facts.go_version  # unset: the branch's own
    for what, need in _needs(None, facts).items():
        assert go_key(go) >= go_key(need), f"{branch}: Go {go} < {need} that {what} needs"


def _targets_for(row: ft.ReleaseFacts) -> list[str]:
    targets = ["binary", "cross"]
    day = lifecycle.today()
    packaging = ft.table().packaging[row.packaging_branch]
    for kind, distros in (("rpm", packaging.rpm), ("deb", packaging.deb)):
        alive = [d for d in distros if lifecycle.problem(d, day) is None]
        if alive:
            targets.append(f"{{name: {kind}, distros: [{alive[0]}]}}")
    return targets


def test_every_release_validates_plans_and_renders_for_gitlab() -> None:
    for row in ft.table().releases.values():
        targets = _targets_for(row)
        loaded = _load(row.tag, *targets)
        assert loaded.release.facts == row
        plan = make_plan(loaded)
        doc = pc.load_yaml(render_pipeline(loaded, "gitlab"))
        assert pc.semantic_problems(doc) == [], row.tag
        cross = plan.job("cross")
        assert cross.matrix == (("MOBYCI_PLATFORM", row.cross),), row.tag
        if any(t.startswith("{name: deb") for t in targets):
            job = next(j for j in plan.jobs if j.name.startswith("deb-"))
            sources = plan.job("packaging-sources").script
            assert f'cli_ref="${{MOBYCI_CLI_REF:-{row.cli_ref}}}"' in sources, row.tag
            assert _job_go(job.script)[0] == max(
                _needs(row, ft.table().packaging[row.packaging_branch]).values(), key=go_key
            ), row.tag


def test_stretch_releases_refuse_an_https_apt_mirror_and_buster_ones_take_it() -> None:
    """Stretch's apt has no https method without apt-transport-https (the golang stretch images lack it)."""
    rows = list(ft.table().releases.values())
    stretch = [r.tag for r in rows if r.debian == "stretch"]
    assert stretch  # v19.03.0 - v19.03.8 in the table
    spec = "version: 1\nmoby: {{ref: {}}}\nmirrors: {{apt: {{archive: '{}://mirror.example.test/debian-archive'}}}}\n"
    for tag in stretch:
        with pytest.raises(SpecError) as caught:
            load_text(spec.format(tag, "https") + "targets: [binary]\n")
        assert str(caught.value) == (
            f"mobyci.yaml:3:16: mirrors.apt: {tag} builds FROM a golang:<go>-stretch image, whose apt has no https "
            "method (it needs apt-transport-https, which the image lacks): write the mirror's http URL, "
            "http://mirror.example.test/debian-archive (apt checks the signed Release files)"
        )
        load_text(spec.format(tag, "http") + "targets: [binary]\n")
    for row in rows:
        if row.family == "19.03" and row.debian != "stretch":
            load_text(spec.format(row.tag, "https") + "targets: [binary]\n")
    # mobyci's own fix for a stretch release names the http form.
    with pytest.raises(SpecError) as caught:
        load_text(f"version: 1\nmoby: {{ref: {stretch[0]}}}\ntargets: [binary]\n")
    assert "e.g. http://mirrors.tuna.tsinghua.edu.cn/debian-archive" in str(caught.value)


def test_a_goproxy_list_with_a_pipe_is_refused_where_the_release_go_predates_1_15() -> None:
    """Go 1.15 added the `|` separator to GOPROXY (https://go.dev/doc/go1.15#go-command)."""
    spec = "version: 1\nmoby: {{ref: {}}}\nmirrors: {{{}goproxy: 'https://goproxy.example.test|direct'}}\n"
    refused = []
    for row in ft.table().releases.values():
        apt = "apt: archive, " if row.debian in ARCHIVED_DEBIAN else ""  # validation insists on it there
        text = spec.format(row.tag, apt) + "targets: [binary]\n"
        if go_key(row.go_version) >= go_key("1.15"):
            load_text(text)
            continue
        with pytest.raises(SpecError) as caught:
            load_text(text)
        assert str(caught.value) == (
            f"mobyci.yaml:3:{len('mirrors: {goproxy: ' + apt) + 1}: mirrors.goproxy: "
            f"{row.tag} builds with Go {row.go_version} (Dockerfile:{row.go_line}), which fails on '|' in GOPROXY "
            "(invalid character \"|\" in host name): Go 1.15 added the '|' separator "
            "(https://go.dev/doc/go1.15#go-command); write the ',' form, https://goproxy.example.test,direct "
            "(',' falls through to the next entry only on a 404 or 410 answer)"
        )
        refused.append(row.tag)
    assert {"v19.03.0", "v20.10.0"} <= set(refused)


def test_every_moby_pre_release_validates_and_a_never_tagged_one_names_a_real_tag() -> None:
    known = ft.table().prereleases
    assert "v27.0.0-rc.1" in known
    assert not set(known) & set(ft.table().releases)
    refused = 0
    for tag in known:
        release = resolve(tag, None)
        if release is None:  # v22.06.0-beta.0: a line that was never released, no family builds it
            continue
        apt = "mirrors: {apt: archive}\n" if release.debian_archived else ""
        loaded = load_text(f"version: 1\nmoby: {{ref: {tag}}}\n{apt}targets: [binary]\n")
        assert loaded.release.facts is None, tag
        # The same version's pre-release with a number moby never tagged: refused, naming a tag that exists.
        base, _, suffix = tag.rpartition("-")
        fake = base + "-" + re.sub(r"\d+$", "99", suffix)
        if fake in known:
            continue
        message = _refused(fake)
        assert f"moby.ref: {fake} is not a moby tag (facts table of {ft.table().made}); did you mean " in message
        suggested = re.search(r"did you mean (\S+?)\?", message)
        assert suggested is not None
        assert suggested.group(1) in known, message
        refused += 1
    assert refused
    assert _refused("v27.0.0-rc.7").endswith(
        "v27.0.0-rc.7 is not a moby tag (facts table of 2026-12-01); did you mean v27.0.0-rc.2? (27.0.0's "
        "pre-releases: v27.0.0-rc.1, v27.0.0-rc.2)"
    )


@pytest.mark.parametrize("family", ["19.03", "20.10", "20.10.3", "20.10.7", "27"])
def test_a_branch_of_a_family_whose_releases_all_predate_go_1_15_refuses_a_goproxy_pipe(family: str) -> None:
    gos = [r.go_version for r in ft.table().releases.values() if f"{r.version}.".startswith(f"{family}.")]
    release = resolve_family(family)
    assert gos
    assert release is not None
    apt = "apt: archive, " if release.debian_archived else ""
    spec = (
        f"version: 1\nmoby: {{ref: my-branch, family: '{family}'}}\n"
        f"mirrors: {{{apt}goproxy: 'https://goproxy.example.test|direct'}}\ntargets: [binary]\n"
    )
    if all(go_key(go) < go_key("1.15") for go in gos):
        assert "Go 1.15 added the '|' separator" in _refused_text(spec)
    else:
        assert not [w for w in load_text(spec).warnings if "GOPROXY" in w]


def _refused_text(spec: str) -> str:
    with pytest.raises(SpecError) as caught:
        load_text(spec)
    return str(caught.value)
