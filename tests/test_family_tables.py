"""Every family has an entry in every table that holds family knowledge, and no table names a family that does
not exist: a family added to data.py without the rest fails here, not at render time."""

from __future__ import annotations

import pytest

from mobyci.errors import SpecError
from mobyci.families import FAMILIES, family_names, missing_data, touchpoints
from mobyci.families import facts as ft
from mobyci.families.lifecycle import LIFECYCLE
from mobyci.load.reader import load_text
from tests.helpers import ROOT
from tests.helpers.families import FIXTURE_TAGS, NEWEST_TAG
from tests.helpers.fuzz_specs import TAGS as FUZZ_TAGS

NAMES = family_names()


def test_names_are_unique() -> None:
    assert len(set(NAMES)) == len(NAMES)


def test_patch_tables_have_every_family() -> None:
    assert sorted(touchpoints.TOUCHPOINTS) == sorted(NAMES)
    assert sorted(name for name, _ in touchpoints.DETECTION) == sorted(NAMES)
    assert all(missing_data(family) == [] for family in FAMILIES)


def test_release_facts_cover_every_family_and_its_packaging_branches() -> None:
    table = ft.table()
    assert {row.family for row in table.releases.values()} == set(NAMES)
    for family in FAMILIES:
        for _, packaging in family.packaging:
            assert packaging.branch in table.packaging, (family.name, packaging.branch)
            for distro in (*packaging.rpm, *packaging.deb):
                assert distro in LIFECYCLE, (family.name, packaging.branch, distro)


def test_tests_have_a_fixture_tree_and_tags_for_every_family() -> None:
    trees = ROOT / "tests" / "fixtures" / "trees"
    assert sorted(p.name for p in trees.iterdir() if p.is_dir()) == sorted(NAMES)
    assert sorted(FIXTURE_TAGS) == sorted(NEWEST_TAG) == sorted(FUZZ_TAGS) == sorted(NAMES)
    for family, tags in FIXTURE_TAGS.items():
        assert all(ft.release(tag) is not None and ft.release(tag).family == family for tag in tags), family  # type: ignore[union-attr]


@pytest.mark.parametrize("by", ["tag", "family"])
def test_a_family_missing_from_a_table_is_a_located_problem(by: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(touchpoints.TOUCHPOINTS, "29")
    moby = "{ref: docker-v29.7.2}" if by == "tag" else "{ref: main, family: '29'}"
    with pytest.raises(SpecError) as caught:
        load_text(f"version: 1\nmoby: {moby}\ntargets: [binary]\n", "mobyci.yaml")
    col = 13 if by == "tag" else 27  # the value of moby.ref, or of moby.family
    assert [str(p) for p in caught.value.problems] == [
        f"mobyci.yaml:2:{col}: moby.{'ref' if by == 'tag' else 'family'}: mobyci cannot build family 29 yet: "
        "mobyci/families has no entry for it in touchpoints.TOUCHPOINTS (the files its patch rules work on). "
        "This is a gap in mobyci, not in the spec: report it"
    ]
