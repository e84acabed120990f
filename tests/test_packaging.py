"""rpm/deb package jobs through docker-ce-packaging: the jobs in the Plan, their shell, and an executed run.

The executed run is the `shell` profile under gitlab-ci-local against fixture repositories reached through a
git mirror (an insteadOf in the job's HOME): moby, a packaging fixture shaped like docker-ce-packaging's
Makefiles, docker/cli, buildx and compose. `make` and `docker` are recording stand-ins
(tests/fixtures/standins-packaging); `make` hands over to the real make, so RUN_FLAGS and BUILD_IMAGE_FLAG
are expanded into the `docker` command lines by make itself.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mobyci.emit.render import render_pipeline
from mobyci.families import FAMILIES, lifecycle
from mobyci.families.packaging_data import EXTRA_SOURCES
from mobyci.load.reader import load_text
from mobyci.plan import packaging as pkg
from mobyci.plan.build import build_plan
from tests.helpers import ROOT
from tests.helpers import buildkite_agent_standin as bc
from tests.helpers import pipeline_tools as pc

FIXTURES = ROOT / "tests" / "fixtures"
GOPROXY = "https://goproxy.mirror.test|direct"
MIRROR = "https://git.mirror.test/github/"
# gitlab-ci-local's own $CI_SERVER_HOST and $CI_REGISTRY, which the pipeline adds: the instance and its registry.
NO_PROXY = (
    "docker,docker:2375,docker:2376,localhost,127.0.0.1,.corp.test,gitlab.example.com,local-registry.gitlab.example.com"
)
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  git: {"https://github.com/": "https://git.mirror.test/github/"}
  goproxy: "https://goproxy.mirror.test|direct"
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.corp.test]}
targets: [{name: rpm, distros: [RPM]}, {name: deb, distros: [DEB]}]
ci: {gitlab: {runner: RUNNER}}
"""


# 19.03's packaging branch offers only distros whose repositories are gone today (fedora-32, centos-7/8,
# debian-buster …): its package jobs are checked as of a day they still built; the jobs do not depend on the day.
_DAY_19_03 = "2021-01-01"


def _spec(ref: str, rpm: str = "centos-9", deb: str = "debian-bookworm", runner: str = "shell") -> str:
    spec = SPEC.replace("REF", ref).replace("RPM", rpm).replace("DEB", deb).replace("RUNNER", runner)
    if ref != "v19.03.12":
        return spec
    # Debian buster (19.03's dev image) is archived: validation insists on an archive mirror; and its Go (1.13)
    # reads only ','-separated GOPROXY lists.
    return spec.replace("mirrors:\n", "mirrors:\n  apt: archive\n").replace(GOPROXY, GOPROXY.replace("|", ","))


def _jobs(spec_text: str) -> dict[str, Any]:
    plan = build_plan(load_text(spec_text, "mobyci.yaml"))
    return {job.name: job for job in plan.jobs}


# --- the Plan -------------------------------------------------------------------------------------------------


def test_one_job_per_distro_after_prepare_and_the_sources_job_and_checksums_waits_for_them() -> None:
    spec = _spec("v27.5.1").replace("[centos-9]", "[centos-9, centos-10]")
    jobs = _jobs(spec)
    assert {"rpm-centos-9", "rpm-centos-10", "deb-debian-bookworm"} <= set(jobs)
    # One sources job for all of them, next to prepare (not after it): the needs chain stays 3 long.
    sources = jobs["packaging-sources"]
    assert (sources.stage, sources.needs, sources.artifacts) == ("prepare", (), ("mobyci-pkg.tar.gz",))
    for name in ("rpm-centos-9", "rpm-centos-10", "deb-debian-bookworm"):
        job = jobs[name]
        assert job.stage == "build"
        assert job.needs == ("prepare", "packaging-sources")
        assert job.artifacts == (f"packages/{name.split('-', 1)[1]}/",)
        # Distro jobs only build: they fetch nothing.
        assert not any(word in line for line in job.script for word in ("git ", "checkout-"))
    assert set(jobs["checksums"].needs) >= {"rpm-centos-9", "rpm-centos-10", "deb-debian-bookworm"}
    # It verifies the packages' SHA256SUMS and publishes the combined list only (packages stay the jobs' own).
    assert jobs["checksums"].script[0].startswith("find packages -name SHA256SUMS")
    assert jobs["checksums"].artifacts == ("SHA256SUMS",)


@pytest.mark.parametrize(
    ("ref", "branch", "cli"),
    [
        ("v20.10.27", "20.10", "v20.10.27"),
        ("v24.0.9", "24.0", "v24.0.9"),
        ("v27.5.1", "27.x", "v27.5.1"),
        ("v28.5.2", "28.x", "v28.5.2"),
        ("docker-v29.4.0", "29.4", "v29.4.0"),
        ("docker-v29.7.2", "master", "v29.7.2"),
    ],
)
def test_branch_and_cli_ref_follow_the_release(ref: str, branch: str, cli: str) -> None:
    jobs = _jobs(_spec(ref, rpm="centos-9", deb=_first(ref, "deb")))
    job = jobs["rpm-centos-9"]
    sources = jobs["packaging-sources"].script
    script = "\n".join(sources)
    assert f"fetch -q --depth 1 origin {branch}\n" in script
    assert f'cli_ref="${{MOBYCI_CLI_REF:-{cli}}}"' in script
    # Packaging repository and CLI through the git mirror, never from github.com directly.
    assert f"remote add origin {MIRROR}docker/docker-ce-packaging.git" in script
    assert f"remote add origin {MIRROR}docker/cli.git" in script
    assert "https://github.com/" not in script
    # The patched tree goes into src/; the packaging's own checkout (top-level make rpm / make centos-9,
    # scripts/checkout.sh, checkout-docker) never runs.
    assert "mv moby mobyci-pkg/packaging/src/github.com/docker/docker" in job.script
    makes = [line for line in job.script if line.startswith("make ")]
    assert len(makes) == 1
    assert makes[0].startswith("make -C mobyci-pkg/packaging/rpm ")
    assert makes[0].endswith(" centos-9")
    everything = "\n".join([*sources, *job.script])
    assert not any(word in everything for word in ("checkout-docker", "checkout-cli", "scripts/checkout.sh"))
    checkouts = [line for line in sources if line.startswith("make ")]
    extras = EXTRA_SOURCES.get(branch, ())
    if extras:
        assert len(checkouts) == 1
        assert checkouts[0].startswith("make -C mobyci-pkg/packaging ")
        for component in extras:
            assert f"{component.repo_var}={MIRROR}docker/" in checkouts[0]
            assert checkouts[0].split()[-len(extras) :] == [c.checkout for c in extras]
    else:
        assert checkouts == []


def test_cli_ref_of_branches_and_commits() -> None:
    def ref_for(ref: str, family: str) -> str:
        spec = f"version: 1\nmoby: {{ref: '{ref}', family: '{family}'}}\ntargets: [{{name: rpm, distros: [centos-9]}}]"
        return pkg.cli_ref(load_text(spec, "mobyci.yaml"))

    assert ref_for("27.x", "25-28") == "27.x"
    assert ref_for("20.10", "20.10") == "20.10"
    assert ref_for("my-feature", "24.0") == "24.0"
    assert ref_for("my-feature", "27.5") == "27.x"
    assert ref_for("my-feature", "29.4") == "29.x"
    assert ref_for("0123456789abcdef0123456789abcdef01234567", "29.9") == "master"
    # From 29 moby's release branch is docker-29.x (moby refs/heads/docker-29.x); docker/cli's stays 29.x.
    assert ref_for("docker-29.x", "29") == "29.x"


def test_19_03_uses_the_monorepo_layout_and_its_run_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, _DAY_19_03)
    jobs = _jobs(_spec("v19.03.12", rpm="fedora-32", deb="debian-buster"))
    rpm = jobs["rpm-fedora-32"].script
    sources = jobs["packaging-sources"].script
    assert "mv moby mobyci-pkg/engine" in rpm
    assert "git init -q mobyci-pkg/cli" in sources
    assert any("fetch -q --depth 1 origin 19.03" in line for line in sources)
    build = next(line for line in rpm if line.startswith("make -C mobyci-pkg/packaging/rpm "))
    words = _sh_words(build)
    # 19.03's rpm/Makefile has no RUN_FLAGS: RPMBUILD is given again with $(RUN_FLAGS) in it.
    hook = next(w for w in words if w.startswith("RPMBUILD="))
    assert hook.endswith(" $(RUN_FLAGS)")
    assert "$(CURDIR)/rpmbuild/RPMS:/root/rpmbuild/RPMS" in hook
    deb = next(line for line in jobs["deb-debian-buster"].script if line.startswith("make -C mobyci-pkg/packaging/deb"))
    assert not any(w.startswith("RPMBUILD=") for w in _sh_words(deb))  # 19.03's deb/Makefile has RUN_FLAGS


def _sh_words(line: str) -> list[str]:
    """The words a POSIX shell makes of a job's command line."""
    done = subprocess.run(["sh", "-c", f"printf '%s\\n' {line}"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_no_proxies_and_no_go_mirror_leave_the_makefile_defaults() -> None:
    spec = "version: 1\nmoby: {ref: v27.5.1}\ntargets: [{name: deb, distros: [ubuntu-noble]}]\n"
    build = _jobs(spec)["deb-ubuntu-noble"].script
    make = next(line for line in build if line.startswith("make -C mobyci-pkg/packaging/deb"))
    # Only the Go: v27.5.1's Dockerfile says 1.22.11, the 27.x branch's common.mk 1.22.12 (above what its compose
    # and buildx need), so the branch's.
    assert make == "make -C mobyci-pkg/packaging/deb GO_VERSION=1.22.12 GO_IMAGE=golang:1.22.12-bookworm ubuntu-noble"


def test_a_branch_ref_keeps_the_packaging_go() -> None:
    spec = "version: 1\nmoby: {ref: 27.x, family: '27'}\ntargets: [{name: deb, distros: [ubuntu-noble]}]\n"
    build = _jobs(spec)["deb-ubuntu-noble"].script
    make = next(line for line in build if line.startswith("make -C mobyci-pkg/packaging/deb"))
    assert make == "make -C mobyci-pkg/packaging/deb ubuntu-noble"


def _expand_with_make(tmp_path: Path, make_line: str) -> list[str]:
    """Run a job's package `make` line against a Makefile that prints the docker run/build command words."""
    root = tmp_path / "mobyci-pkg" / "packaging" / "rpm"
    root.mkdir(parents=True)
    (root / "Makefile").write_text(
        "SHELL:=/bin/bash\nifdef BUILD_IMAGE\n\tBUILD_IMAGE_FLAG=--build-arg $(BUILD_IMAGE)\nendif\n"
        "RUN_FLAGS=\nRPMBUILD=docker run --rm\n"
        "centos-9 fedora-32:\n\t@printf '%s\\n' build $(BUILD_IMAGE_FLAG) -- $(RPMBUILD) rpmbuild-$@\n"
    )
    done = subprocess.run(["sh", "-c", make_line], cwd=tmp_path, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if not line.startswith("make:")]


def test_make_expands_run_flags_into_docker_words(tmp_path: Path) -> None:
    build = _jobs(_spec("v27.5.1"))["rpm-centos-9"].script
    make = next(line for line in build if line.startswith("make -C mobyci-pkg/packaging/rpm"))
    # The job's RUN_FLAGS, expanded by real make into the recipe and split by the recipe's shell.
    make = make.replace("RUN_FLAGS=", "RPMBUILD=docker run --rm $(RUN_FLAGS)' 'RUN_FLAGS=", 1)
    words = _expand_with_make(tmp_path, make)
    build_words, run_words = words[: words.index("--")], words[words.index("--") + 1 :]
    assert build_words == ["build", *[w for name in PROXIES for w in ("--build-arg", name)]]
    assert run_words == [
        "docker",
        "run",
        "--rm",
        *[w for name in PROXIES for w in ("-e", name)],
        "-e",
        f"GOPROXY={GOPROXY}",  # one word, `|` and all
        "rpmbuild-centos-9",
    ]


def test_19_03_rpm_hook_reaches_the_docker_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, _DAY_19_03)
    build = _jobs(_spec("v19.03.12", rpm="fedora-32", deb="debian-buster"))["rpm-fedora-32"].script
    make = next(line for line in build if line.startswith("make -C mobyci-pkg/packaging/rpm"))
    words = _expand_with_make(tmp_path, make)
    run = words[words.index("--") + 1 :]
    assert run[:6] == ["docker", "run", "--privileged", "--rm", "-i", "-e"]
    assert f"{tmp_path}/mobyci-pkg/packaging/rpm/rpmbuild/RPMS:/root/rpmbuild/RPMS" in run
    assert ["-e", f"GOPROXY={GOPROXY.replace('|', ',')}"] == run[-3:-1]  # 19.03's Go: the ',' form
    assert run[-1] == "rpmbuild-fedora-32"


def test_gone_distros_are_refused_with_their_date_and_source() -> None:
    day = lifecycle.today()
    for distro in ("centos-7", "centos-8"):
        problem = lifecycle.problem(distro, day)
        assert problem is not None
        assert distro in problem
        assert "vault.centos.org" in problem
        assert "https://www.centos.org/" in problem
    assert lifecycle.problem("centos-9", day) is None
    # Every refused distro is one some packaging branch knows: the message is reachable from a spec.
    known = {d for f in FAMILIES for kind in ("rpm", "deb") for d in f.distros(kind)}
    for distro in ("centos-7", "centos-8", "rhel-7", "debian-stretch", "ubuntu-kinetic", "ubuntu-oracular"):
        assert distro in known
        assert lifecycle.problem(distro, day) is not None


@pytest.mark.parametrize("runner", ["dind", "shell"])
@pytest.mark.parametrize("ref", ["v19.03.12", "v20.10.27", "v24.0.9", "v27.5.1", "v28.5.2", "docker-v29.7.2"])
def test_every_branch_renders_valid_pipelines(ref: str, runner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if ref.startswith("v19.03"):
        monkeypatch.setenv(lifecycle.TODAY_VAR, _DAY_19_03)
    loaded = load_text(_spec(ref, rpm=_first(ref, "rpm"), deb=_first(ref, "deb"), runner=runner), "mobyci.yaml")
    text = render_pipeline(loaded, "gitlab")
    doc = pc.load_yaml(text)
    assert pc.semantic_problems(doc) == []
    scripts = pc.job_scripts(doc)
    findings = {job: pc.shellcheck(script) for job, script in scripts.items() if job.startswith(("rpm-", "deb-"))}
    assert findings
    assert all(out == "" for out in findings.values()), findings
    # The same jobs as Buildkite steps: valid, and unchanged by upload-time interpolation.
    steps = pc.load_yaml(render_pipeline(loaded, "buildkite"))
    assert bc.semantic_problems(steps) == []
    assert bc.interpolation_problems(steps) == []
    step_scripts = {k: v for k, v in bc.step_scripts(steps).items() if k.startswith(("mobyci-rpm-", "mobyci-deb-"))}
    assert step_scripts
    assert all(pc.shellcheck(script, "bash") == "" for script in step_scripts.values())


def _first(ref: str, kind: str) -> str:
    apt = "mirrors: {apt: archive}\n" if ref == "v19.03.12" else ""  # Debian buster is archived
    loaded = load_text(f"version: 1\nmoby: {{ref: {ref}}}\n{apt}targets: [binary]\n", "mobyci.yaml")
    valid: tuple[str, ...] = getattr(loaded.release.packaging, kind)
    return next(d for d in valid if lifecycle.problem(d, lifecycle.today()) is None)


# --- executed run -----------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _repo(path: Path, files: dict[str, str] | Path, tags: tuple[str, ...] = (), branch: str = "master") -> Path:
    if isinstance(files, Path):
        shutil.copytree(files, path)
    else:
        path.mkdir(parents=True)
        for name, text in files.items():
            (path / name).write_text(text)
    _git(path, "init", "-q", "-b", branch)
    _git(path, "add", "-A")
    _git(path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "release")
    for tag in tags:
        _git(path, "tag", tag)
    # A commit after the tags: a job that took the branch head instead of the tag would be seen.
    (path / "after-release").write_text("not released\n")
    _git(path, "add", "-A")
    _git(path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "after")
    return path


def _tag_commit(repo: Path, tag: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", f"{tag}^{{commit}}"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _run(
    tmp_path: Path, spec_text: str, variables: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[Any], Path, dict[str, Path]]:
    origins = tmp_path / "origins"
    repos = {
        "moby/moby": _repo(origins / "moby", FIXTURES / "trees" / "25-28", ("v27.5.1",)),
        "docker/docker-ce-packaging": _repo(origins / "packaging", FIXTURES / "packaging", branch="27.x"),
        "docker/cli": _repo(origins / "cli", {"VERSION": "27.5.1\n"}, ("v27.5.1",)),
        "docker/buildx": _repo(origins / "buildx", {"README": "buildx\n"}, ("v0.20.1",)),
        "docker/compose": _repo(origins / "compose", {"README": "compose\n"}, ("v2.32.4",)),
    }
    done, calls, artifacts = pc.run_shell_pipeline(
        tmp_path,
        spec_text,
        git_mirrors={f"{MIRROR}{name}.git": path for name, path in repos.items()},
        standins=FIXTURES / "standins-packaging",
        variables=variables or {},
    )
    return done, calls, artifacts, repos


PACKAGES = [
    "packages/centos-9/docker-ce-0.fake.centos-9.x86_64.rpm",
    "packages/centos-9/docker-ce-cli-0.fake.centos-9.x86_64.rpm",
    "packages/debian-bookworm/docker-ce-cli_0.fake~debian-bookworm_amd64.deb",
    "packages/debian-bookworm/docker-ce_0.fake~debian-bookworm_amd64.deb",
]


DISTRO_MIRRORS = "mirrors:\n  apt: deb.mirror.test\n  centos_stream: https://centos.mirror.test/centos-stream\n"


def test_package_pipeline_runs(tmp_path: Path) -> None:
    spec_text = _spec("v27.5.1").replace("targets: [", "targets: [binary, ").replace("mirrors:\n", DISTRO_MIRRORS)
    done, calls, artifacts, repos = _run(tmp_path, spec_text)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    order = pc.passed_jobs(done.stdout)
    assert sorted(order) == sorted(
        ["prepare", "packaging-sources", "binary", "rpm-centos-9", "deb-debian-bookworm", "checksums"]
    )
    assert order[-1] == "checksums"

    # One clone of each source per pipeline, whatever the number of distro jobs: every fetch is recorded with
    # the URL the job gave (the git mirror's), before the test's own insteadOf sends it to a local repository.
    fetched = [c["remote"] for c in calls if c["tool"] == "git" and "fetch" in c["args"]]
    assert sorted(fetched) == sorted(f"{MIRROR}{name}.git" for name in repos)

    # The package images were built from the branch's Dockerfiles as the sources job patched them: the mirror
    # block right after the FROM of the distro image.
    images = {c["args"][c["args"].index("-t") + 1]: c["dockerfile"] for c in calls if c["tool"] == "docker"
              and c["args"][0] == "build"}  # fmt: skip
    assert set(images) == {"rpmbuild-centos-9/x86_64", "debbuild-debian-bookworm/x86_64"}
    for image, dockerfile in images.items():
        lines = dockerfile.splitlines()
        after = lines[lines.index("FROM ${BUILD_IMAGE}") + 1]
        assert after == f"# mobyci:distro-mirror-{image.split('/')[0].split('-', 1)[1]}"
    assert "#http://deb.mirror.test/debian\\2#g" in images["debbuild-debian-bookworm/x86_64"]
    assert "baseurl=https://centos.mirror.test/centos-stream/$stream/BaseOS/" in images["rpmbuild-centos-9/x86_64"]

    makes = [c for c in calls if c["tool"] == "make" and c["args"][1] != "moby"]
    builds = {c["args"][-1]: c for c in makes if c["args"][1].endswith(("/rpm", "/deb"))}
    assert set(builds) == {"centos-9", "debian-bookworm"}
    for distro, call in builds.items():
        assert call["args"][1] == f"mobyci-pkg/packaging/{'rpm' if distro == 'centos-9' else 'deb'}"
        passed = dict(a.split("=", 1) for a in call["args"][2:-1])
        # The packaging `make` got the proxies (names: values from the environment) and GOPROXY in RUN_FLAGS.
        assert shlex.split(passed["RUN_FLAGS"]) == [
            *[w for name in PROXIES for w in ("-e", name)],
            "-e",
            f"GOPROXY={GOPROXY}",
        ]
        assert passed["BUILD_IMAGE_FLAG"] == " ".join(f"--build-arg {name}" for name in PROXIES)
        assert call["env"]["HTTP_PROXY"] == call["env"]["http_proxy"] == pc.HTTP_PROXY
        assert call["env"]["HTTPS_PROXY"] == call["env"]["https_proxy"] == pc.HTTPS_PROXY
        assert call["env"]["NO_PROXY"] == call["env"]["no_proxy"] == NO_PROXY
        assert call["env"]["VERSION"] == "27.5.1"
        # The sources it built from: the patched engine tree (fetch URLs on the mirror), the CLI at the tag,
        # buildx and compose at the refs the packaging branch pins, all through the mirror.
        assert MIRROR in call["engine_installer"]
        assert "git clone https://github.com/" not in call["engine_installer"]
        assert call["docker_head"] == _tag_commit(repos["moby/moby"], "v27.5.1")
        assert call["cli_head"] == _tag_commit(repos["docker/cli"], "v27.5.1")
        assert call["buildx_head"] == _tag_commit(repos["docker/buildx"], "v0.20.1")
        assert call["compose_head"] == _tag_commit(repos["docker/compose"], "v2.32.4")

    checkouts = [c for c in makes if c["args"][1] == "mobyci-pkg/packaging"]
    assert len(checkouts) == 1
    assert all(c["args"][-2:] == ["checkout-buildx", "checkout-compose"] for c in checkouts)

    # make expanded the flags into the docker command lines; the CLI reads the proxy values from its env.
    dockers = [c for c in calls if c["tool"] == "docker"]
    for verb in ("build", "run"):
        issued = [c for c in dockers if c["args"][0] == verb]
        assert len(issued) == 2, dockers
        for call in issued:
            flag = "--build-arg" if verb == "build" else "-e"
            given = [call["args"][i + 1] for i, a in enumerate(call["args"]) if a == flag]
            assert set(PROXIES) <= set(given)
            assert call["env"]["HTTPS_PROXY"] == pc.HTTPS_PROXY
            if verb == "run":
                assert f"GOPROXY={GOPROXY}" in given  # overrides the image's ENV GOPROXY

    assert pc.checked_sums(artifacts) == ["bundles/binary/dockerd", *PACKAGES]
    for secret in ("s3cr3t-http", "s3cr3t-https"):
        assert secret not in log


def test_packages_only_pipeline_runs(tmp_path: Path) -> None:
    done, _, artifacts, _ = _run(tmp_path, _spec("v27.5.1"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(pc.passed_jobs(done.stdout)) == sorted(
        ["prepare", "packaging-sources", "rpm-centos-9", "deb-debian-bookworm", "checksums"]
    )
    assert pc.checked_sums(artifacts) == PACKAGES


def test_package_images_trust_the_ca_from_their_build_context(tmp_path: Path) -> None:
    """With tls.ca_certs, the sources job's patch put the CA into deb/ and rpm/ and the trust lines right after
    the FROM of the distro image; the distro jobs built from that context, as the archive carried it."""
    ca = FIXTURES / "public-ca.pem"
    spec_text = _spec("v27.5.1").replace("targets:", "tls: {ca_certs: [$CORP_CA_CERT]}\ntargets:")
    done, calls, _, _ = _run(tmp_path, spec_text, {"CORP_CA_CERT": str(ca)})
    assert done.returncode == 0, done.stdout + done.stderr
    builds = {
        c["args"][c["args"].index("-t") + 1]: c for c in calls if c["tool"] == "docker" and c["args"][0] == "build"
    }
    assert set(builds) == {"rpmbuild-centos-9/x86_64", "debbuild-debian-bookworm/x86_64"}
    for image, call in builds.items():
        assert call["args"][-1] == "."
        assert call["cwd"].endswith("/mobyci-pkg/packaging/" + image[:3])  # make -C deb|rpm: the context
        assert call["context_ca"] == ca.read_text()
        lines = call["dockerfile"].splitlines()
        at = lines.index("FROM ${BUILD_IMAGE}")
        store = "/usr/local/share/ca-certificates" if image.startswith("deb") else "/etc/pki/ca-trust/source/anchors"
        assert lines[at + 1 : at + 3] == ["# mobyci:ca", f"COPY .mobyci/ca.crt {store}/mobyci-ca.crt"]
    assert ca.read_text().splitlines()[1] not in done.stdout  # the log shows no certificate text


def test_a_ref_outside_the_facts_table_is_warned_that_its_package_go_is_the_branch_s() -> None:
    # moby's 25.0 branch asks Go 1.26.5 (refs/heads/25.0 Dockerfile:3) while docker-ce-packaging 27.x builds with
    # 1.22.12 (common.mk:20): mobyci cannot know a branch's Go at render time, so validate says what it uses.
    branch = load_text(
        "version: 1\nmoby: {ref: '25.0', family: '25.0'}\ntargets: [{name: deb, distros: [debian-bookworm]}]\n"
    )
    assert branch.warnings == (
        "mobyci.yaml:2:13: moby.ref: warning: 25.0 is not in mobyci's facts table, so its package jobs compile the "
        "engine with the Go of docker-ce-packaging 27.x (`mobyci plan` shows which), not with the Go of its own "
        "Dockerfile (ARG GO_VERSION): if that is newer, the engine fails to compile in the package jobs; package a "
        "release tag mobyci knows",
    )
    tag = load_text("version: 1\nmoby: {ref: v28.5.2}\ntargets: [{name: deb, distros: [debian-bookworm]}]\n")
    assert tag.warnings == ()
    bundle = load_text("version: 1\nmoby: {ref: '25.0', family: '25.0'}\ntargets: [binary]\n")
    assert bundle.warnings == ()


@pytest.mark.parametrize(("ref", "platform"), [("v24.0.9", True), ("v28.5.2", False)])
def test_raspbian_on_branches_without_platform_flags_names_the_platform(ref: str, platform: bool) -> None:
    # docker-ce-packaging 24.0's deb/Makefile builds and runs with no --platform (lines 21, 36); 27.x and later
    # pass --platform linux/$(ARCH) (27.x lines 25, 37). On an arm64 runner the older ones would take arm64 images.
    spec = (
        _spec(ref, deb="raspbian-bookworm")
        .replace("runner: RUNNER", "runner: shell")
        .replace("ci: {gitlab: {runner: shell}}", "ci: {gitlab: {runner: shell, runners: {arm: [arm32]}}}")
    )
    jobs = _jobs(spec)
    make = next(line for line in jobs["deb-raspbian-bookworm"].script if line.startswith("make -C "))
    words = _sh_words(make)
    assert "ARCH=arm" in words
    assert ("DOCKER_DEFAULT_PLATFORM=linux/arm" in words) is platform
    rpm = next(line for line in jobs["rpm-centos-9"].script if line.startswith("make -C "))
    assert not any(w.startswith("DOCKER_DEFAULT_PLATFORM") for w in _sh_words(rpm))
