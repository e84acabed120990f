"""The real moby v28.5.2 `binary` build (bake family), through the rendered GitLab pipeline, behind the firewall,
cold and then warm.

The spec is one a user behind a firewall writes (mirrors for Docker Hub, GitHub, Go modules and apt; the
corporate proxy; the corporate CA as a CI file variable; GOSUMDB off, as no checksum database can be mirrored
offline). The pipeline runs unedited (gitlab-ci-local, shell runner) in the runner namespace, where only the corp
host answers. Its build job creates the docker-container builder the product configures (buildkitd config with the
registry mirror and the CA, the proxies as driver options), which runs the `moby/buildkit:buildx-stable-1`
stand-in (buildkit_standin.py) pulled through the engine's registry mirror, and bakes with the registry cache
at `$CI_REGISTRY_IMAGE/mobyci-cache`. Then the same pipeline runs again, on the same ref, with a new builder: its
cache can only come from the registry.

Asserted: both pipelines pass; `dockerd --version` reports 28.5.2 and the tag's commit, the binary is static and
SHA256SUMS verify; the cache was pushed to and pulled from the corp registry; no step ran twice in one pipeline;
the warm pipeline ran the compile from the cache; what the cold build fetched is what `mobyci plan --fetches` lists
(inventory_check.py, with the rules below). Reported (never asserted: no timed assertions): each job's wall
time cold and warm, the ratio, and the steps that were cache hits, in the report file printed at the end.

Needs root, Debian's docker.io & co. and the upstream data (MOBYCI_UPSTREAM_DIR); skipped without them unless
MOBYCI_REQUIRE_REHEARSAL=1 (set by .ci/run).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import pipeline_tools as pc
from tests.helpers import realengine
from tests.helpers.realengine import (
    bakelog,
    buildkit_standin,
    debs,
    inventory_check,
    netns,
    observed,
    report,
    standins,
    upstream,
    xx_standin,
)
from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine import pipeline as runpipe
from tests.helpers.realengine.lab import Lab

pytestmark = [pytest.mark.engine, pytest.mark.rehearsal]

REF = "v28.5.2"
COMMIT = "89c5e8f"  # the tag's commit, abbreviated (MANIFEST.md: checkout gives 89c5e8fd…)
# v28.5.2 Dockerfile:3-5: ARG GO_VERSION=1.24.9, BASE_DEBIAN_DISTRO="bookworm", golang:${GO_VERSION}-${…}.
GOLANG_TAG = "1.24.9-bookworm"
# The GitHub mirror over plain http (the corp host's twin of its https server): no git clone of the binary build
# needs it, and the prepare job clones moby from the https URL the spec names (inside the firewall).
GIT_MIRROR = f"{corpmod.HTTP}/{upstream.GIT_PREFIX}/"
GOPROXY = f"{corpmod.HTTP}/{upstream.GOPROXY_PREFIX}"
CACHE_REPOSITORY = "group/project/mobyci-cache"  # $CI_REGISTRY_IMAGE/mobyci-cache, as the pipeline names it
CACHE_ENTRY = "$CI_REGISTRY_IMAGE/mobyci-cache"  # the same, as the inventory lists it
# What a user behind this firewall writes: the corp mirrors for Docker Hub, GitHub, Go modules and Debian, the
# corporate proxy for the rest, the corporate CA as a CI file variable (the registry's certificate is signed by
# it, and the docker-container builder must trust it). The checksum database cannot be mirrored offline.
SPEC = f"""\
version: 1
moby: {{repo: "{corpmod.HTTPS}/{upstream.GIT_PREFIX}/moby/moby.git", ref: {REF}}}
mirrors:
  apt: "{corpmod.APT}"
  git: {{"https://github.com/": "{GIT_MIRROR}"}}
  goproxy: "{GOPROXY}"
  gosumdb: "off"
  registry: "https://{corpmod.REGISTRY}"
  registry_tokens: false
proxy: {{http: $CORP_HTTP_PROXY, https: $CORP_HTTP_PROXY, no_proxy: ["{netns.CORP}"]}}
tls: {{ca_certs: [$CORP_CA_CERT]}}
targets: [binary]
ci: {{gitlab: {{runner: shell}}}}
"""


@dataclass
class Run:
    done: subprocess.CompletedProcess[str]
    artifacts: Path
    fetches: list[observed.Fetch]
    seconds: float
    steps: dict[str, list[bakelog.Step]]
    workdir: Path
    registry: list[tuple[str, str, int]]  # (method, URI, status) of the corp registry's requests


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tools = (*realengine.REHEARSAL_TOOLS, "file", "apt-get", "dpkg-deb")
    realengine.require("the real v28.5.2 build", tools, strict_var="MOBYCI_REQUIRE_REHEARSAL")
    root = upstream.require_upstream("the real v28.5.2 build")
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("real-bake")
    lab = Lab(workdir, images={})
    with lab:
        assert lab.corp is not None
        assert lab.dockerd is not None
        docker, registry = lab.dockerd.docker, corpmod.REGISTRY
        upstream.serve_git(lab.corp, root, only=("moby/moby",))
        upstream.serve_goproxy(lab.corp, root)
        standins.publish_golang(docker, registry, GOLANG_TAG, release="bookworm", go="1.24")
        standins.publish_frontend(docker, registry, root)
        for module, image in ((xx_standin, xx_standin.IMAGE), (buildkit_standin, buildkit_standin.IMAGE)):
            local = module.load(docker, root)
            ref = f"{registry}/{image}"
            docker("tag", local, ref)
            docker("push", ref)
            docker("rmi", local, ref)  # the builder's image comes through the engine's mirror, as on a runner
        print(f"\n[real bake] network, mirrors, engine and stand-ins ready in {time.monotonic() - started:.0f}s")
        yield lab
    leftovers = lab.host_leftovers()
    assert not leftovers, leftovers


def _unmirror(url: str) -> str:
    """The URL the tree names for one the build asked the corp host for (the spec's mirrors.git undone)."""
    return "https://github.com/" + url.removeprefix(GIT_MIRROR) if url.startswith(GIT_MIRROR) else url


def _run(lab: Lab, workdir: Path) -> Run:
    """One pipeline: the runner's HOME has trixie's real docker-buildx plugin, the project the CA file variable."""
    assert lab.corp is not None
    env = runpipe.runner_env(lab, workdir / "home")
    plugins = workdir / "home" / ".docker" / "cli-plugins"
    plugins.mkdir(parents=True)
    buildx = debs.unpacked("trixie", ("docker-buildx",)) / "usr/libexec/docker/cli-plugins/docker-buildx"
    (plugins / "docker-buildx").symlink_to(buildx)
    marks = observed.mark(lab.corp)
    started = time.monotonic()
    done, artifacts = runpipe.run(lab, workdir, SPEC, env=env, variables={"CORP_CA_CERT": str(lab.corp.ca)})
    seconds = time.monotonic() - started
    requests = _registry_requests(lab, marks)
    fetches = _with_cache(observed.fetches(lab.corp, marks, unmirror=_unmirror), requests)
    (workdir / "observed.json").write_text(json.dumps(observed.as_json(fetches), indent=2))
    # buildx writes its progress to stderr, which gitlab-ci-local passes on as its own stderr.
    steps = bakelog.steps(done.stdout + "\n" + done.stderr)
    return Run(done, artifacts, fetches, seconds, steps, workdir, requests)


_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>/v2/\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def _registry_requests(lab: Lab, marks: observed.Marks) -> list[tuple[str, str, int]]:
    """(method, URI, status) of every corp registry request since `marks`."""
    assert lab.corp is not None
    lines = lab.corp.registry_log.read_text(errors="replace").splitlines()[marks.get(lab.corp.registry_log, 0) :]
    return [(m["method"], m["uri"], int(m["status"])) for line in lines if (m := _REQUEST.search(line))]


def _with_cache(fetches: list[observed.Fetch], requests: list[tuple[str, str, int]]) -> list[observed.Fetch]:
    """The registry cache as one fetch of its repository (the builder pushes and pulls it, any tag, in the CI
    registry: inside the firewall), instead of the manifests observed.py reads as image pulls."""
    cache = [status for _, uri, status in requests if uri.startswith(f"/v2/{CACHE_REPOSITORY}/")]
    out = [f for f in fetches if not f.key.startswith(f"{CACHE_REPOSITORY}:")]
    if cache:
        # Answered: a push (201/202) or a pull (200); a cold import's 404 alone is no fetch.
        status = 200 if any(code < 400 for code in cache) else max(cache)
        out.append(observed.Fetch("cache", CACHE_ENTRY, "registry", "internal", status, CACHE_REPOSITORY))
    return out


@pytest.fixture(scope="module")
def runs(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The pipeline twice on the same ref: cold (empty registry cache), then warm (a new builder, the cache
    only in the registry). Both go to the report, with each job's time, the ratio and the cache hits."""
    found: dict[str, Run] = {}
    for name in ("cold", "warm"):
        found[name] = _run(lab, tmp_path_factory.mktemp(name))
        if found[name].done.returncode != 0:
            break
    _report(found)
    return found


def _report(found: dict[str, Run]) -> None:
    times = {name: runpipe.job_seconds(run.done.stdout) for name, run in found.items()}
    for name, run in found.items():
        job_steps = run.steps.get("binary", [])
        data: dict[str, object] = {
            "passed": run.done.returncode == 0,
            "seconds": round(run.seconds, 1),
            "jobs": times[name],
            "runner": "gitlab shell profile, docker-container builder (moby/buildkit stand-in), trixie buildx 0.13.1",
            "steps_built": len(bakelog.built(job_steps)),
            "steps_cached": len(bakelog.cached(job_steps)),
            "cached": bakelog.cached(job_steps),
            "built": bakelog.built(job_steps),
        }
        if name == "warm" and "cold" in times:
            cold, warm = times["cold"].get("binary"), times["warm"].get("binary")
            data["cold"] = f"{REF} binary (cold)"
            if cold and warm is not None:
                data["binary_warm_over_cold"] = round(warm / cold, 3)
        paths = report.record(f"{REF} binary ({name})", data)
    print(f"\n[real bake] report {paths[0]}\n{paths[1].read_text()}")


def _static(path: Path) -> bool:
    described = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True, check=True).stdout
    return "statically linked" in described or "static-pie linked" in described


@pytest.mark.parametrize("name", ["cold", "warm"])
def test_v28_5_2_binary_builds_on_the_docker_container_builder(lab: Lab, runs: dict[str, Run], name: str) -> None:
    assert lab.corp is not None
    assert name in runs, "the cold pipeline failed: see its test"
    run = runs[name]
    assert run.done.returncode == 0, run.done.stdout[-8000:] + run.done.stderr[-3000:]
    assert pc.passed_jobs(run.done.stdout) == ["prepare", "binary", "checksums"]
    names = pc.checked_sums(run.artifacts)  # every SHA256SUMS line verified against the uploaded file
    dockerd = run.artifacts / "binary" / "moby" / "bundles" / "binary" / "dockerd"
    assert "bundles/binary/dockerd" in names, names
    # VERSION from the tag (the pipeline's VERSION variable), DOCKER_GITCOMMIT from moby's Makefile in the patched
    # checkout: `git rev-parse HEAD`, the full commit (Makefile:4-5 at v28.5.2), as the README says.
    version = lab.runner([str(dockerd), "--version"])
    full = _tag_commit()
    assert full.startswith(COMMIT), full
    assert version.stdout.strip() == f"Docker version 28.5.2, build {full}", version
    assert _static(dockerd)
    # No step ran twice in the pipeline.
    assert bakelog.built_twice(run.steps) == []
    # The builder pushed its cache to the CI registry (mode=max) and read it back from there.
    requests = run.registry
    tag = f"/v2/{CACHE_REPOSITORY}/manifests/25-28-binary-"
    assert [r for r in requests if r[0] == "PUT" and r[1].startswith(tag) and r[2] == 201], requests
    if name == "warm":
        assert [r for r in requests if r[0] in ("GET", "HEAD") and r[1].startswith(tag) and r[2] == 200], requests
    # The compile (the build stage's last step, Dockerfile:581-592: `./hack/make.sh $target`) ran cold and came
    # from the registry cache warm: a new builder has nothing of its own.
    compile_step = [s.status for s in run.steps["binary"] if s.stage == "build" and s.index == s.total]
    assert compile_step == (["DONE"] if name == "cold" else ["CACHED"]), run.steps["binary"]


# Why an inventory entry of a stage that ran was not observed, or an observed fetch has no entry of its own.
RULES = [
    inventory_check.SUMDB_OFF,
    inventory_check.Rule(
        "go-install-modules",
        "the modules a `go install` downloads besides its own are listed as one entry (go-modules); each was "
        "observed as a module fetch, explained by go-install-dependencies",
        entry=lambda e: e["kind"] == "go-modules" and e["route"] == "mirror",
    ),
    inventory_check.Rule(
        "shell-runner",
        "runner profile shell: job images are not pulled, the runner's own tools run the jobs",
        entry=lambda e: e["source"] == "job images",
    ),
    inventory_check.go_install_dependencies("github.com/tc-hib/go-winres@"),
]


def _tag_commit() -> str:
    """The full commit of REF, from the upstream tarball."""
    return upstream.git_output("moby/moby", REF, "rev-parse", f"{REF}^{{commit}}").strip()


def test_what_the_cold_build_fetched_is_what_the_inventory_says(runs: dict[str, Run], tmp_path: Path) -> None:
    run = runs["cold"]
    assert run.done.returncode == 0, "the cold build failed: see test_v28_5_2_binary_builds_…[cold]"
    dockerfile = upstream.git_output("moby/moby", REF, "show", f"{REF}:Dockerfile")
    # At v28.5.2 the installers are run by Dockerfile.simple (lines 39-42) only, never by the Dockerfile bake
    # builds: their fetches belong to no stage of this build.
    installers = ("hack/dockerfile/install/",)
    entries, ran = inventory_check.inventory(SPEC, dockerfile, "binary", tmp_path, stageless=installers)
    assert {"binary", "build", "base", "gowinres"} <= set(ran), ran
    served = [f for f in run.fetches if f.status < 400]
    # The inventory lists apt once per step, at the main archive, and names both archives the mirror serves in
    # `via`; apt reads the security archive's index too (the golang image's sources list both, as Debian's do).
    security = any(e["kind"] == "apt" and "/debian-security" in str(e["via"]) for e in entries)
    apt_security = inventory_check.Rule(
        "apt-security",
        "the security archive, which the inventory's apt entry names in its via (mirrors.apt -> …/debian-security)",
        fetch=lambda f, _all: (
            security and f.kind == "apt" and f.key.endswith("/debian-security") and f.route == "mirror"
        ),
    )
    result = inventory_check.compare(served, entries, {*ran, "prepare"}, [*RULES, apt_security])
    (run.workdir / "inventory-check.txt").write_text(
        "\n".join([*(f"matched: {f.kind} {f.key} -> {e['source']}" for f, e in result.matched), ""])
        + "\n".join([*(f"{rule}: {what}" for rule, what in result.explained), *result.problems()])
    )
    print(f"\n[real bake] inventory check: {run.workdir / 'inventory-check.txt'}")
    assert not result.problems(), "\n".join(result.problems())
    keys = {(f.kind, f.key, f.route) for f in served}
    assert ("image", "docker/dockerfile:1", "mirror") in keys
    assert ("image", f"golang:{GOLANG_TAG}", "mirror") in keys
    assert ("image", "tonistiigi/xx:1.6.1", "mirror") in keys
    assert ("image", buildkit_standin.IMAGE, "mirror") in keys
    assert ("cache", CACHE_ENTRY, "internal") in keys
    assert ("module", "github.com/tc-hib/go-winres@v0.3.1", "mirror") in keys
