"""Observed fetches (observed.py) against the fetch inventory (`mobyci plan --fetches --format json`).

Two directions, both required:
- every observed fetch is an inventory entry, and the entry's route is the route the fetch took;
- every inventory entry of a stage the build ran (stages.py; `prepare` for the prepare job's clone) was
  observed, unless a named `Rule` explains why not.

A rule may also explain an observed fetch no entry lists (a `go install`'s dependency modules). Rules are
data the test states; the report shows which rule explained what. `inventory()` gives the entries of a spec with
the stages each belongs to (stages.py), and the stages a target runs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.realengine import stages
from tests.helpers.realengine.observed import Fetch

Entry = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    entry: Callable[[Entry], bool] = lambda _entry: False  # an entry that is not expected to be observed
    fetch: Callable[[Fetch, list[Fetch]], bool] = lambda _fetch, _all: False  # an observed fetch no entry lists


SUMDB_OFF = Rule(
    "sumdb-off",
    "mirrors.gosumdb is off: the checksum database is never asked (the inventory says `skipped`)",
    entry=lambda e: e["kind"] == "go-sumdb" and e["route"] == "skipped",
)


def go_install_dependencies(installed: str) -> Rule:
    """A `go install m@v` fetches more modules than m's own; `installed` is how the key of m's module fetch (or
    of its organisation's modules) starts: `github.com/tc-hib/go-winres@`, `github.com/rootless-containers/`."""
    return Rule(
        "go-install-dependencies",
        "a `go install m@v` downloads m's module and every module its build needs, from the same GOPROXY "
        "(the inventory lists the install; its dependencies are in the installed module's go.sum)",
        fetch=lambda f, everything: (
            f.kind == "module"
            and f.route == "mirror"
            and any(g.kind == "module" and g.key.startswith(installed) for g in everything)
        ),
    )


def inventory(
    spec: str, dockerfile: str, target: str, workdir: Path, *, stageless: tuple[str, ...] = ()
) -> tuple[list[Entry], list[str]]:
    """`mobyci plan --fetches` of the spec text `spec` (written into `workdir`), each entry with the stages of
    `dockerfile` it belongs to under "stages"; and the stages `target` runs.

    A source naming a job (`prepare`, `job images`) is its own stage. Every other source must belong to a stage,
    except those starting with one of `stageless` (files the tree has but this Dockerfile never runs)."""
    path = workdir / "mobyci.yaml"
    path.write_text(spec)
    done = subprocess.run(
        ["mobyci", "plan", str(path), "--fetches", "--format", "json"], capture_output=True, text=True, check=True
    )
    entries: list[Entry] = json.loads(done.stdout)["fetches"]
    parsed = stages.parse(dockerfile)
    for entry in entries:
        source = str(entry["source"])
        found = stages.stages_of(parsed, source) if ":" in source else [source]
        found = stages.global_arg_stages(dockerfile, parsed, source) or found
        assert found or source.startswith(stageless), f"no stage runs {source}: see stages.py"
        entry["stages"] = found
    return entries, stages.closure(parsed, target)


@dataclass
class Comparison:
    matched: list[tuple[Fetch, Entry]] = field(default_factory=list)
    unlisted: list[Fetch] = field(default_factory=list)  # observed, in no entry, no rule
    wrong_route: list[tuple[Fetch, Entry]] = field(default_factory=list)
    unobserved: list[Entry] = field(default_factory=list)  # an entry of a stage that ran, not observed, no rule
    explained: list[tuple[str, str]] = field(default_factory=list)  # (rule, what it explained)

    def problems(self) -> list[str]:
        out = [f"observed but not in the inventory: {f.kind} {f.key} (at {f.server})" for f in self.unlisted]
        out += [
            f"route: {f.kind} {f.key} went {route_of(f)} ({f.server}); the inventory says {e['route']} ({e['via']})"
            for f, e in self.wrong_route
        ]
        out += [f"in the inventory, not observed: {e['kind']} {e['endpoint']} ({e['source']})" for e in self.unobserved]
        return out


def route_of(fetch: Fetch) -> str:
    """The route a fetch took (observed.py decides it by the server that answered and the URL asked)."""
    return fetch.route


def _image(name: str) -> str:
    name = name.removeprefix("docker.io/").removeprefix("library/")
    return name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"


def _repo(url: str) -> str:
    return url.rstrip("/").removesuffix(".git")


def matches(entry: Entry, fetch: Fetch) -> bool:
    """Whether `fetch` is the fetch `entry` describes."""
    kind, endpoint, route = str(entry["kind"]), str(entry["endpoint"]), str(entry["route"])
    if fetch.kind == "image":
        return kind == "image" and _image(endpoint) == fetch.key
    if fetch.kind == "clone":
        return kind == "git" and _repo(endpoint) == _repo(fetch.key)
    if fetch.kind == "download":
        return kind == "download" and fetch.key.startswith(endpoint)
    if fetch.kind == "apt":
        return kind == "apt" and fetch.key.rstrip("/") == endpoint.rstrip("/")
    if fetch.kind == "module":
        # A go-module entry names the package `go install` builds (module path + /cmd/…) at a version.
        package, _, version = endpoint.partition("@")
        module, _, fetched = fetch.key.partition("@")
        return kind == "go-module" and version == fetched and (package == module or package.startswith(module + "/"))
    if fetch.kind == "cache":
        # A BuildKit registry cache: the repository the builder pushes to and pulls from (any of its tags).
        return kind == "cache" and endpoint == fetch.key
    if fetch.kind == "proxy":
        host = fetch.key.removeprefix("http://").removeprefix("https://").split("/", 1)[0].split(":", 1)[0]
        return route == "proxy" and host in endpoint
    return False


def compare(observed: list[Fetch], inventory: list[Entry], ran: set[str], rules: list[Rule]) -> Comparison:
    """`ran`: the stages (and job names, e.g. `prepare`) that ran; `inventory[i]["stages"]` must be set by the
    caller to the stages each entry belongs to (stages.stages_of, or [source] for job-level sources)."""
    result = Comparison()
    seen: set[int] = set()
    for fetch in observed:
        hits = [i for i, entry in enumerate(inventory) if matches(entry, fetch)]
        if not hits:
            rule = next((r for r in rules if r.fetch(fetch, observed)), None)
            if rule is not None:
                result.explained.append((rule.name, f"{fetch.kind} {fetch.key}"))
            else:
                result.unlisted.append(fetch)
            continue
        seen.update(hits)
        for i in hits:
            entry = inventory[i]
            if entry["route"] == route_of(fetch):
                result.matched.append((fetch, entry))
            else:
                result.wrong_route.append((fetch, entry))
    for i, entry in enumerate(inventory):
        if i in seen or not ran.intersection(entry["stages"]):
            continue
        rule = next((r for r in rules if r.entry(entry)), None)
        if rule is not None:
            result.explained.append((rule.name, f"{entry['kind']} {entry['endpoint']} ({entry['source']})"))
        else:
            result.unobserved.append(entry)
    return result
