"""The firewall rehearsal: the rendered GitLab pipeline, run by gitlab-ci-local's shell executor on a real Docker
engine in a network where only the corp mirrors answer (tests/helpers/realengine).

Two synthetic moby trees (tests/fixtures/rehearsal) carry moby's real network touch points: FROM Docker Hub
images, apt through deb.debian.org and the family's apt hook, installers that git clone from GitHub, a
download.docker.com static download, the frozen-image script's registryBase, and a fetch only the corporate
proxy reaches. The pipeline must pass, and the corp logs must show each fetch arriving at its mirror; the
same tree without the patch, or with one mirror rule missing, must fail naming the host it could not reach.

Needs root and Debian's docker.io & co. (see tests/helpers/realengine); skipped without them unless
MOBYCI_REQUIRE_REHEARSAL=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import io
import json
import platform
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, realengine
from tests.helpers import pipeline_tools as pc
from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine import netns
from tests.helpers.realengine import pipeline as runpipe
from tests.helpers.realengine.lab import Lab

pytestmark = [pytest.mark.engine, pytest.mark.rehearsal]

TREES = ROOT / "tests" / "fixtures" / "rehearsal"
MOBY_URL = f"{corpmod.HTTPS}/github/moby/moby.git"
REFS = {"20.10": "v20.10.27", "19.03": "v19.03.12", "25-28": "v27.5.1"}
IMAGES = {
    "library/debian:bullseye": ("bullseye", False),
    "library/golang:1.20.10-bullseye": ("bullseye", True),
    "library/golang:1.13.15-bullseye": ("bullseye", True),
    "library/debian:bookworm": ("bookworm", False),
    "library/golang:1.22.11-bookworm": ("bookworm", True),
}
BUILDX_STANDIN = Path(realengine.__file__).with_name("buildx_bake_standin.py")
# What the corp mirrors serve; each lands in the bundle, so the bundle proves where it came from.
DOCKER_CLI = b"#!/bin/sh\necho 'docker CLI from the corp download mirror'\n"
GOTESTSUM = b"#!/bin/sh\necho 'gotestsum from upstream, through the corporate proxy'\n"
CRIU = b"#!/bin/sh\necho 'criu from the corp git mirror archive'\n"
RUNC = b"#!/bin/sh\necho 'runc from the corp git mirror'\n"
REGISTRY = b"#!/bin/sh\necho 'distribution from the corp git mirror'\n"

SPEC = f"""\
version: 1
moby: {{repo: "{MOBY_URL}", ref: REF}}
mirrors:
  apt: "{corpmod.APT}"
  git: {{"https://github.com/": "{corpmod.HTTPS}/github/"}}
  downloads: {{"https://download.docker.com/linux/static": "{corpmod.HTTPS}/docker-ce/linux/static"}}
  registry: "https://{corpmod.REGISTRY}"
  registry_tokens: false
proxy: {{http: $CORP_HTTP_PROXY, https: $CORP_HTTP_PROXY, no_proxy: ["{netns.CORP}"]}}
targets: [binary]
ci: {{gitlab: {{runner: shell}}}}
"""
ORIGINAL_HOSTS = ("github.com", "download.docker.com", "deb.debian.org", "auth.docker.io", "registry-1.docker.io")


def _failures_naming(output: str, host: str) -> list[str]:
    """The lines of a build's output that report a failure and name `host` (the failed step, apt's Err:)."""
    marker = re.compile(r"executor failed running|ERROR|Err:|Failed to fetch|fatal:|unable to access", re.IGNORECASE)
    return [line for line in output.splitlines() if host in line and marker.search(line)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    realengine.require("the firewall rehearsal", realengine.REHEARSAL_TOOLS, strict_var="MOBYCI_REQUIRE_REHEARSAL")
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("rehearsal")
    lab = Lab(workdir, images=IMAGES)
    with lab:
        assert lab.corp is not None
        _serve(lab.corp, workdir)
        print(f"\n[rehearsal] network, mirrors, engine and images ready in {time.monotonic() - started:.0f}s")
        yield lab
    leftovers = lab.host_leftovers()
    assert not leftovers, leftovers
    print(f"[rehearsal] total {time.monotonic() - started:.0f}s")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _repo(path: Path, files: dict[str, bytes], tag: str) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for name, content in files.items():
        (path / name).write_bytes(content)
        (path / name).chmod(0o755)
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "release")
    _git(path, "tag", tag)
    return path


def _serve(corp: corpmod.Corp, workdir: Path) -> None:
    src = workdir / "sources"
    corp.add_git_repo("github/docker/distribution.git", _repo(src / "distribution", {"registry": REGISTRY}, "v2.7"))
    corp.add_git_repo("github/opencontainers/runc.git", _repo(src / "runc", {"runc": RUNC}, "v1.0.0-rc10"))
    moby = src / "moby"
    moby.mkdir(parents=True)
    _git(moby, "init", "-q", "-b", "main")
    for family, ref in REFS.items():
        _git(moby, "checkout", "-q", "--orphan", f"release-{family}")
        _git(moby, "rm", "-rqf", "--ignore-unmatch", ".")
        shutil.copytree(TREES / family, moby, dirs_exist_ok=True)
        _git(moby, "add", "-A")
        _git(moby, "commit", "-qm", f"moby {ref}")
        _git(moby, "tag", ref)
    corp.add_git_repo("github/moby/moby.git", moby)
    corp.add_file("github/checkpoint-restore/criu/archive/v3.14.tar.gz", _tgz({"criu-3.14/criu": CRIU}))
    arch = platform.machine()
    corp.add_file(f"docker-ce/linux/static/stable/{arch}/docker-17.06.2-ce.tgz", _tgz({"docker/docker": DOCKER_CLI}))
    corp.add_file("gotestsum/gotestsum", GOTESTSUM)


def _tgz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _job_env(lab: Lab, home: Path) -> dict[str, str]:
    """The runner machine: Debian's docker client first on PATH, a HOME whose git trusts the corp CA."""
    assert lab.corp is not None
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {lab.corp.ca}\n")
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").symlink_to(realengine.DOCKER_CLIENT)
    # No buildx in Debian: the runner's buildx plugin is a stand-in (bake families only call it).
    plugins = home / ".docker" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "docker-buildx").symlink_to(BUILDX_STANDIN)
    glcl = Path(pc.tool("gitlab-ci-local")).parent
    (home / "record.jsonl").touch()
    return {
        "PATH": f"{bin_dir}:{glcl}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "MOBYCI_RECORD": str(home / "record.jsonl"),
    }


def _run_pipeline(lab: Lab, tmp_path: Path, spec_text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    return runpipe.run(lab, tmp_path, spec_text, env=_job_env(lab, tmp_path / "home"), timeout=1500)


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')


def _registry_requests(lines: list[str], agent: str) -> list[str]:
    """`METHOD URI STATUS` of the corp registry's access log lines whose user agent starts with `agent`."""
    found = []
    for line in lines:
        m = _ACCESS.search(line)
        if m and m["agent"].startswith(agent):
            found.append(f"{m['method']} {m['uri']} {m['status']}")
    return found


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def _proxied(lines: list[str]) -> list[str]:
    """The targets of the requests tinyproxy was asked for: `GET http://…` or `CONNECT host:port`."""
    pattern = re.compile(r"Request \(file descriptor \d+\): (\S+ \S+)")
    return [m.group(1) for line in lines if (m := pattern.search(line))]


def _check_bundle(artifacts: Path) -> None:
    names = pc.checked_sums(artifacts)
    assert names == [
        "bundles/binary-daemon/criu",
        "bundles/binary-daemon/docker",
        "bundles/binary-daemon/docker-proxy",
        "bundles/binary-daemon/dockerd-dev",
        "bundles/binary-daemon/frozen-debian-manifest.json",
        "bundles/binary-daemon/gotestsum",
        "bundles/binary-daemon/registry-v2",
        "bundles/binary-daemon/runc",
    ]
    bundle = artifacts / "binary" / "moby" / "bundles" / "binary-daemon"  # as the build job uploaded it
    for name, content in (
        ("docker", DOCKER_CLI),
        ("gotestsum", GOTESTSUM),
        ("criu", CRIU),
        ("runc", RUNC),
        ("registry-v2", REGISTRY),
    ):
        assert (bundle / name).read_bytes() == content, name
    assert b'"schemaVersion": 2' in (bundle / "frozen-debian-manifest.json").read_bytes()


@pytest.mark.parametrize("family", ["20.10", "19.03"])
def test_pipeline_builds_behind_the_firewall(lab: Lab, tmp_path: Path, family: str) -> None:
    assert lab.corp is not None
    assert lab.dockerd is not None
    marks = {
        p: len(_lines(p)) for p in (lab.corp.http_log, lab.corp.proxy_log, lab.corp.apt_log, lab.corp.registry_log)
    }
    started = time.monotonic()
    spec = SPEC.replace("REF", REFS[family])
    if family == "19.03":
        # v19.03.12 builds on buster, which only archive.debian.org serves, so mobyci asks for an archive mirror.
        # No buster can be fetched here: the synthetic 19.03 tree builds on bullseye, and the corp apt mirror
        # stands in for the archive (the same /debian and /debian-security layout).
        spec = spec.replace(f'apt: "{corpmod.APT}"', f'apt: {{archive: "http://{corpmod.APT}"}}')
    done, artifacts = _run_pipeline(lab, tmp_path, spec)
    print(f"\n[rehearsal] {family} pipeline: {time.monotonic() - started:.0f}s")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "checksums"]
    _check_bundle(artifacts)

    def new(path: Path) -> list[str]:
        return _lines(path)[marks[path] :]

    # The engine pulled the FROM images through the registry mirror.
    go_tag = "1.20.10-bullseye" if family == "20.10" else "1.13.15-bullseye"
    # (BuildKit's resolver is containerd's; `ns=docker.io` says it asked the mirror for a Docker Hub image.)
    registry = new(lab.corp.registry_log)
    pulls = _registry_requests(registry, "containerd/")
    assert f"HEAD /v2/library/golang/manifests/{go_tag}?ns=docker.io 200" in pulls, pulls
    if family == "20.10":
        assert "HEAD /v2/library/debian/manifests/bullseye?ns=docker.io 200" in pulls, pulls
    # The frozen-image script (curl in a RUN step) fetched from registryBase, the registry mirror, no token.
    frozen = _registry_requests(registry, "curl/")
    assert "GET /v2/library/debian/manifests/bullseye 200" in frozen, frozen
    # The clones went to the git mirror: moby itself (the prepare job), and the build's installers.
    http = new(lab.corp.http_log)
    for repo in ("moby/moby", "docker/distribution", "opencontainers/runc"):
        assert any(f"POST /github/{repo}.git/git-upload-pack 200" in line for line in http), (repo, http)
    assert any("GET /github/checkpoint-restore/criu/archive/v3.14.tar.gz 200" in line for line in http)
    assert any(
        f"GET /docker-ce/linux/static/stable/{platform.machine()}/docker-17.06.2-ce.tgz 200" in line for line in http
    )
    # apt went to the apt mirror, for the main archive and the security archive.
    apt = "\n".join(new(lab.corp.apt_log))
    assert "debrep/dists/bullseye/" in apt
    assert re.search(r"bullseye-security", apt), apt
    # A RUN step reached upstream only through the corporate proxy: the build args reached RUN.
    proxied = _proxied(new(lab.corp.proxy_log))
    assert "GET http://upstream.rehearsal.test/gotestsum/gotestsum" in proxied
    assert any("upstream 10.204.0.1 GET /gotestsum/gotestsum 200" in line for line in http)
    # Nothing else: the proxy forwarded only to upstream and corp, the engine never asked Docker Hub.
    assert all(
        re.match(rf"(GET|CONNECT) (http://)?(upstream\.rehearsal\.test|{re.escape(netns.CORP)})[/:]", t)
        for t in proxied
    ), proxied
    engine_log = lab.dockerd.log.read_text(errors="replace")
    for host in ("registry-1.docker.io", "auth.docker.io"):
        assert host not in engine_log


def test_runner_reaches_nothing_but_corp(lab: Lab) -> None:
    # No route: the connect fails at once with "Network is unreachable" (curl 7), not after a timeout (28).
    for url in ("https://deb.debian.org/", "http://1.1.1.1/", "https://registry-1.docker.io/v2/"):
        done = lab.runner(["curl", "-sS", "-m", "20", "-o", "/dev/null", url])
        assert done.returncode in (6, 7), (url, done.returncode, done.stderr)
    # ... while corp answers (a 404 for a path it does not serve: curl -f exits 22 after a real HTTP exchange).
    assert lab.corp is not None
    done = lab.runner(["curl", "-fsS", "-o", "/dev/null", "--cacert", str(lab.corp.ca), f"{corpmod.HTTPS}/nothing"])
    assert done.returncode == 22, done.stderr


def _unpatched_build(lab: Lab, tmp_path: Path, family: str) -> subprocess.CompletedProcess[str]:
    """The tree as moby ships it, built with the binary job's environment (proxies, apt mirror, build args)."""
    tree = tmp_path / "moby"
    shutil.copytree(TREES / family, tree)
    env = {
        **_job_env(lab, tmp_path / "home"),
        "HTTP_PROXY": corpmod.PROXY,
        "http_proxy": corpmod.PROXY,
        "HTTPS_PROXY": corpmod.PROXY,
        "https_proxy": corpmod.PROXY,
        "NO_PROXY": netns.CORP,
        "no_proxy": netns.CORP,
        "DOCKER_BUILD_APT_MIRROR": corpmod.APT,
        "DOCKER_BUILD_ARGS": "--build-arg HTTP_PROXY --build-arg HTTPS_PROXY --build-arg NO_PROXY "
        "--build-arg http_proxy --build-arg https_proxy --build-arg no_proxy",
    }
    done = lab.runner(["make", "-C", str(tree), "binary" if family == "20.10" else "build"], env=env, timeout=900)
    (tmp_path / "make.log").write_text(done.stdout + done.stderr)
    return done


def test_unpatched_tree_fails_naming_the_original_host(lab: Lab, tmp_path: Path) -> None:
    """The negative control: the firewall is real. The same tree without the patch cannot build."""
    assert lab.corp is not None
    mark = len(_lines(lab.corp.proxy_log))
    done = _unpatched_build(lab, tmp_path, "20.10")
    assert done.returncode != 0, done.stdout[-3000:]
    output = done.stdout + done.stderr
    assert any(_failures_naming(output, host) for host in ORIGINAL_HOSTS), output[-4000:]
    # The proxy was asked for an original host and could not reach it.
    tried = [t for t in _proxied(_lines(lab.corp.proxy_log)[mark:]) if any(h in t for h in ORIGINAL_HOSTS)]
    assert tried, _lines(lab.corp.proxy_log)[mark:]


def test_a_missing_mirror_rule_fails_naming_the_host(lab: Lab, tmp_path: Path) -> None:
    """Drop the git-host rewrite (no `mirrors.git`): the build fails naming github.com."""
    spec = re.sub(r"^  git: .*\n", "", SPEC.replace("REF", REFS["20.10"]), flags=re.MULTILINE)
    assert "github.com" not in spec
    done, _ = _run_pipeline(lab, tmp_path, spec)
    assert done.returncode != 0
    assert pc.passed_jobs(done.stdout) == ["prepare"]
    assert _failures_naming(done.stdout, "https://github.com/"), done.stdout[-4000:]


def test_bake_family_runs_up_to_the_bake_call(lab: Lab, tmp_path: Path) -> None:
    """25-28: prepare, make and the registry login for real; the buildx calls reach the buildx stand-in."""
    assert lab.corp is not None
    marks = {p: len(_lines(p)) for p in (lab.corp.proxy_log, lab.corp.apt_log, lab.corp.registry_log)}
    done, artifacts = _run_pipeline(lab, tmp_path, SPEC.replace("REF", REFS["25-28"]))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "checksums"]
    calls = [json.loads(line) for line in (tmp_path / "home" / "record.jsonl").read_text().splitlines()]
    assert [c["args"][:2] for c in calls] == [["buildx", "create"], ["buildx", "bake"], ["buildx", "rm"]]
    create, bake, _ = calls
    # The builder the job creates would pull through the registry mirror and run with the proxies.
    assert f'mirrors = ["{corpmod.REGISTRY}"]' in create["buildkitd_config"]
    assert f"env.https_proxy={corpmod.PROXY}" in " ".join(create["args"])
    # make ran the bake call in the patched tree, with the proxies as build args read from the environment.
    assert bake["cwd"].endswith("/builds/binary/moby")
    assert bake["args"][-1] == "binary"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        assert f"*.args.{name}" in bake["args"]
    names = pc.checked_sums(artifacts)
    assert "bundles/binary/dockerd-dev" in names
    assert "bundles/binary/runc" in names
    # What the stand-in's build shows of the 25+ patch: apt in bookworm's deb822 sources went to the apt
    # mirror (no APT_MIRROR hook: the patch's own rewrite), and the proxies reached RUN.
    apt = "\n".join(_lines(lab.corp.apt_log)[marks[lab.corp.apt_log] :])
    assert "debrep/dists/bookworm/" in apt
    assert "bookworm-security" in apt
    pulls = _registry_requests(_lines(lab.corp.registry_log)[marks[lab.corp.registry_log] :], "containerd/")
    assert "HEAD /v2/library/golang/manifests/1.22.11-bookworm?ns=docker.io 200" in pulls, pulls
    assert "HEAD /v2/library/debian/manifests/bookworm?ns=docker.io 200" in pulls, pulls
    proxied = _proxied(_lines(lab.corp.proxy_log)[marks[lab.corp.proxy_log] :])
    assert "GET http://upstream.rehearsal.test/gotestsum/gotestsum" in proxied
