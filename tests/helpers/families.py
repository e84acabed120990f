"""The release tags the tests build, per family: one table, checked complete by test_family_tables.py."""

from __future__ import annotations

# The tags each fixture tree (tests/fixtures/trees/<family>) stands for, oldest first: the Makefiles and bake
# files of a family differ between patch releases, and the trees hold what these releases share.
FIXTURE_TAGS: dict[str, tuple[str, ...]] = {
    "19.03": ("v19.03.12",),
    "20.10": ("v20.10.27",),
    "23.0": ("v23.0.0", "v23.0.6", "v23.0.7", "v23.0.18"),
    "24.0": ("v24.0.0", "v24.0.9"),
    "25-28": ("v25.0.17", "v26.1.5", "v27.5.1", "v28.5.2"),
    "29": ("docker-v29.4.0", "docker-v29.4.1", "docker-v29.7.2"),
}

# The newest of them: the one release per family most tests render and patch.
NEWEST_TAG: dict[str, str] = {family: tags[-1] for family, tags in FIXTURE_TAGS.items()}
