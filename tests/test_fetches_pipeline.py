"""The inventory's pipeline part is what the rendered pipeline fetches: every image, service, clone URL and action
of the rendered file of each CI system is listed by `plan --fetches --for <system>`, and every job image, service
and action the inventory lists is in that file.

The oracle parses the rendered YAML (not the emitters' data): `image:` and `services:` anywhere in a GitLab
file, `uses:` of GitHub steps, and clone URLs from the shell lines (`git … remote add origin URL`, `git clone …
URL`, `<X>_REPO=URL` for the clones `make` runs, a `git+URL` pip requirement). It runs over every golden case, every
example and a generated set of specs across runner profiles, install sources, CA, packages and cross builds.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from mobyci.emit.render import render_pipeline
from mobyci.load.reader import LoadedSpec, load_text
from mobyci.plan.fetches import Entry, plan_inventory
from tests.helpers.golden_cases import cases, load_case
from tests.helpers.outputs import FORMATS, meaning, shell_lines, strings
from tests.helpers.packaging_trees import live, packaging_distros

_CLONE_RES = (
    re.compile(r"\bremote add origin (\S+)"),
    re.compile(r"\bgit clone\b.* (\S+://\S+)"),
    re.compile(r"\b[A-Z_]+_REPO=(\S+://\S+)"),
    re.compile(r"git\+(https?://[^@'\s]+)"),
)


def _rendered(fmt: str, text: str) -> dict[str, set[str]]:
    """What the rendered pipeline pulls or clones, by kind."""
    doc = meaning(fmt, text)
    found: dict[str, set[str]] = {"image": set(), "service": set(), "action": set(), "git": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if fmt == "gitlab" and key == "image":
                    found["image"].add(value["name"] if isinstance(value, dict) else value)
                elif fmt == "gitlab" and key == "services":
                    found["service"] |= {s["name"] if isinstance(s, dict) else s for s in value}
                elif fmt == "github" and key == "uses":
                    found["action"].add(value)
                elif fmt == "github" and key in ("container", "services"):
                    found["image"] |= set(strings(value))  # none today: any would need listing
                elif fmt == "buildkite" and key == "plugins":
                    found["action"] |= {next(iter(p)) if isinstance(p, dict) else p for p in value}
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    for line in shell_lines(fmt, text):
        if line.startswith("#"):
            continue
        for pattern in _CLONE_RES:
            found["git"] |= {url.strip("'\"") for url in pattern.findall(line)}
    return found


def _listed(kind: str, value: str, entries: tuple[Entry, ...]) -> bool:
    for e in entries:
        if kind in ("image", "service") and e.kind in ("job-image", "service"):
            # Through ci.gitlab.image_prefix the runner pulls `<prefix>/<image>`; the entry names both.
            if value == e.endpoint or (value.endswith("/" + e.endpoint) and value[: -len(e.endpoint) - 1] in e.via):
                return True
        elif (kind == "action" and e.kind == "action" and value == e.endpoint) or (
            kind == "git" and e.kind == "git" and (value == e.endpoint or e.via.endswith("-> " + value))
        ):
            return True
    return False


def _runner_pulls(entries: tuple[Entry, ...]) -> set[tuple[str, str]]:
    return {(e.kind, e.endpoint) for e in entries if e.kind in ("job-image", "service", "action")}


def _check(loaded: LoadedSpec, label: str) -> None:
    for fmt in FORMATS:
        inventory = plan_inventory(loaded, fmt)
        rendered = _rendered(fmt, render_pipeline(loaded, fmt))
        missing = [(kind, v) for kind, values in rendered.items() for v in sorted(values)]
        missing = [(kind, v) for kind, v in missing if not _listed(kind, v, inventory.entries)]
        assert not missing, f"{label} ({fmt}): rendered but not in `plan --fetches --for {fmt}`: {missing}"
        # And the other way: no job image, service or action the pipeline never uses.
        pulled = rendered["image"] | rendered["service"] | rendered["action"]
        extra = [
            (kind, endpoint)
            for kind, endpoint in sorted(_runner_pulls(inventory.entries))
            if not any(v == endpoint or v.endswith("/" + endpoint) for v in pulled)
        ]
        assert not extra, f"{label} ({fmt}): listed by `plan --fetches --for {fmt}` but never pulled: {extra}"


@pytest.mark.parametrize(("case", "spec"), [(c, s) for c, s, _ in cases("gitlab-ci.yml", ".gitlab-ci.yml")])
def test_every_golden_and_example_pipeline_fetches_only_what_the_inventory_lists(case: str, spec: Path) -> None:
    _check(load_case(spec), case)


_TAGS = ("v19.03.12", "v20.10.27", "v23.0.18", "v28.5.2", "docker-v29.7.2")
_RUNNERS = ("dind", "shell")
_REQUIREMENTS = ("", "mobyci==0.1.0", "git+https://git.corp.example/tools/mobyci.git@v0.1.0")
_CA = ("", "tls: {ca_certs: [$CORP_CA_CERT]}\n")
_TARGETS = ("targets: [binary]\n", "targets: [binary, cross]\n", "packages")


def _packages(tag: str) -> str:
    """rpm and deb targets of distros the release's packaging branch builds today (its facts): CentOS Stream or
    UBI (not on Docker Hub), Fedora, a deb distro and Raspbian (an arm runner) where the branch has them."""
    from mobyci.families import resolve

    release = resolve(tag, None)
    assert release is not None
    rpm, deb = (live(kind) for kind in packaging_distros(release.packaging.branch))
    chosen = {
        "rpm": [d for d in rpm if d.startswith(("centos", "rhel"))][:1]
        + [d for d in rpm if d.startswith("fedora")][:1],
        "deb": [d for d in deb if not d.startswith("raspbian")][:1] + [d for d in deb if d.startswith("raspbian")][:1],
    }
    return "targets:\n" + "".join(f"  - {{name: {k}, distros: [{', '.join(d)}]}}\n" for k, d in chosen.items() if d)


_MIRRORS = (
    "",
    "mirrors:\n  git: {'https://github.com/': 'https://git.corp.example/github/'}\n"
    "  registry: https://registry.corp.example\n  pypi: https://pypi.corp.example/simple\n",
)


def _generated() -> list[tuple[str, str]]:
    """A deterministic sample: one in seven of the combinations of the axes (every value of each axis is in it)."""
    out = []
    for index, (tag, runner, requirement, ca, targets, mirrors) in enumerate(
        itertools.product(_TAGS, _RUNNERS, _REQUIREMENTS, _CA, _TARGETS, _MIRRORS)
    ):
        if index % 7:
            continue
        if tag.startswith("v19.03"):  # Debian buster is archived: the spec must say where its archive is
            mirrors = (mirrors or "mirrors:\n") + "  apt: archive\n"  # noqa: PLW2901
        ci = f"ci:\n  gitlab: {{runner: {runner}, runners: {{arm: [arm32]}}}}\n"
        ci += "  buildkite: {cache: registry.corp.example/ci/moby-cache, runners: {arm: arm-agents}}\n"
        ci += "  github: {runners: {arm: [self-hosted, ARM]}}\n"
        if requirement:
            ci += f"  mobyci_requirement: '{requirement}'\n"
        chosen = _packages(tag) if targets == "packages" else targets
        text = f"version: 1\nmoby: {{ref: {tag}}}\n{mirrors}{ca}{chosen}{ci}"
        out.append((f"{tag}-{runner}-{index}", text))
    return out


@pytest.mark.parametrize(("label", "text"), _generated())
def test_every_generated_pipeline_fetches_only_what_the_inventory_lists(label: str, text: str) -> None:
    _check(load_text(text, "mobyci.yaml"), label)
