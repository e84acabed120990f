"""The fetch inventory: every GitHub URL a tree's build files name is listed, with its file and line, and routed
through the git mirror when the spec has one; strict mode names what would go direct.

The oracle is a plain grep of the same files (a different pattern than the scanner's), on the fixture trees
always and on a real moby tree when MOBYCI_MOBY_GIT points at a moby git directory.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mobyci.emit.render import make_plan, pipeline_plan
from mobyci.families.fetchscan import scan
from mobyci.load.reader import load_text
from mobyci.report.fetches import build_inventory, plan_inventory, stored_list
from mobyci.report.inventory import Inventory
from tests.helpers import ROOT
from tests.helpers.families import NEWEST_TAG

TREES = ROOT / "tests" / "fixtures" / "trees"
MOBY_GIT = os.environ.get("MOBYCI_MOBY_GIT")
SEED_MIRRORS = """\
mirrors:
  apt: mirrors.tuna.tsinghua.edu.cn
  git: {"https://github.com/": "https://gitee.com/"}
  downloads: {"https://download.docker.com/linux/static": "https://mirrors.aliyun.com/docker-ce/linux/static"}
  registry: https://5162s31v.mirror.aliyuncs.com
  goproxy: https://goproxy.cn,direct
"""
_GITHUB = re.compile(r"https://github\.com/[^\s\"'?$)`]+")


def _spec(ref: str, mirrors: str = SEED_MIRRORS, family: str = "") -> str:
    moby = f"{{ref: {ref}, family: '{family}'}}" if family else f"{{ref: {ref}}}"
    if ref.startswith("v19.03") or family == "19.03":  # Debian buster is archived: the seed's archive mirror
        mirrors = mirrors.replace(
            "apt: mirrors.tuna.tsinghua.edu.cn", "apt: {archive: https://mirrors.tuna.tsinghua.edu.cn/debian-archive}"
        )
    return f"version: 1\nmoby: {moby}\n{mirrors}targets: [binary]\n"


def _github_urls(files: dict[str, str]) -> set[tuple[str, int, str]]:
    """(file, line, URL) of every GitHub URL on a non-comment line of the build files: Dockerfile, everything
    under hack/dockerfile/."""
    found = set()
    for path, text in files.items():
        if path != "Dockerfile" and not path.startswith("hack/dockerfile/"):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip().startswith("#"):
                continue
            found |= {(path, number, url.rstrip(".,;:")) for url in _GITHUB.findall(line)}
    return found


def _tree_files(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): p.read_text("utf-8") for p in tree.rglob("*") if p.is_file()}


def _check(files: dict[str, str], spec_text: str) -> None:
    loaded = load_text(spec_text)
    inventory = build_inventory(
        pipeline_plan(loaded, "gitlab"), scan(list(files), files.__getitem__), tree="t", exact=True
    )
    listed = {(e.source, e.endpoint): e for e in inventory.entries}
    expected = _github_urls(files)
    assert expected, "the tree names no GitHub URL: the check would prove nothing"
    for path, line, url in expected:
        entry = listed[(f"{path}:{line}", url)]
        assert entry.route == "mirror", entry
        assert entry.via == "mirrors.git -> " + url.replace("https://github.com/", "https://gitee.com/")
    bare = build_inventory(
        pipeline_plan(
            load_text(spec_text.replace('  git: {"https://github.com/": "https://gitee.com/"}\n', "")), "gitlab"
        ),
        scan(list(files), files.__getitem__),
        tree="t",
        exact=True,
    )
    direct = {(e.source, e.endpoint) for e in bare.direct}
    assert {(f"{p}:{n}", u) for p, n, u in expected} <= direct


@pytest.mark.parametrize("family", sorted(p.name for p in TREES.iterdir()))
def test_every_github_url_of_a_fixture_tree_is_listed_and_mirrored(family: str) -> None:
    _check(_tree_files(TREES / family), _spec(NEWEST_TAG[family]))


def _git(*args: str) -> str:
    assert MOBY_GIT is not None
    return subprocess.run(["git", f"--git-dir={MOBY_GIT}", *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(MOBY_GIT is None, reason="set MOBYCI_MOBY_GIT to a moby git directory")
def test_the_stored_list_of_v28_5_2_matches_the_real_tree() -> None:
    paths = _git("ls-tree", "-r", "--name-only", "v28.5.2").splitlines()
    build_files = [p for p in paths if p == "Dockerfile" or p.startswith("hack/dockerfile/")]
    files = {p: _git("show", f"v28.5.2:{p}") for p in build_files}
    expected = _github_urls(files)
    assert len(expected) >= 10
    _check(files, _spec("v28.5.2"))
    stored = {
        (e.source, e.endpoint) for e in plan_inventory(pipeline_plan(load_text(_spec("v28.5.2")), "gitlab")).entries
    }
    assert {(f"{p}:{n}", u) for p, n, u in expected} <= stored


@pytest.mark.skipif(MOBY_GIT is None, reason="set MOBYCI_MOBY_GIT to a moby git directory")
def test_every_stored_list_is_what_the_scan_gives_now() -> None:
    from mobyci.report.fetches import _stored

    for tag, rows in _stored().items():
        paths = _git("ls-tree", "-r", "--name-only", tag).splitlines()
        fetches = scan(paths, functools.partial(_show, tag))
        assert [f.row() for f in fetches] == rows, f"regenerate: python -m mobyci.families.fetchscan {tag}"


def _show(tag: str, path: str) -> str:
    return _git("show", f"{tag}:{path}")


def _mobyci(tmp_path: Path, spec_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "mobyci.yaml").write_text(spec_text)
    return subprocess.run(
        [sys.executable, "-m", "mobyci", "plan", "--fetches", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )


def test_plan_fetches_json_marks_every_github_url_mirrored(tmp_path: Path) -> None:
    done = _mobyci(tmp_path, _spec("v28.5.2"), "--format", "json", "--strict")
    data = json.loads(done.stdout)
    assert (data["ref"], data["tree"], data["exact"], data["caveat"]) == ("v28.5.2", "v28.5.2", True, "")
    github = [f for f in data["fetches"] if f["endpoint"].startswith("https://github.com/")]
    assert len(github) >= 10
    assert all(f["route"] == "mirror" and f["via"].startswith("mirrors.git -> https://gitee.com/") for f in github)
    swagger = {
        "kind": "git",
        "endpoint": "https://github.com/kolyshkin/go-swagger.git",
        "source": "Dockerfile:89",
        "route": "mirror",
        "via": "mirrors.git -> https://gitee.com/kolyshkin/go-swagger.git",
        "tls": True,
        "ca": "",
        "ca_where": "",
        "built": False,  # only the swagger stages clone it, which `binary` never builds
    }
    assert swagger in data["fetches"]
    # Not rewritten by any mirror of the seed, and no proxy: these go direct, so strict fails and names them...
    assert done.returncode == 1
    assert "  Dockerfile:160: https://sum.golang.org (go-sumdb: no mirrors.gosumdb: " in done.stderr
    # ...but only those of the stages `binary` builds: criu's archive key is listed, not judged.
    criu = "https://download.opensuse.org/repositories/devel:/tools:/criu/Debian_11/Release.key"
    assert [(f["route"], f["built"]) for f in data["fetches"] if f["endpoint"] == criu] == [("direct", False)]
    assert criu not in done.stderr


def test_strict_names_every_built_github_url_without_the_git_mirror(tmp_path: Path) -> None:
    mirrors = SEED_MIRRORS.replace('  git: {"https://github.com/": "https://gitee.com/"}\n', "")
    swagger = "  Dockerfile:89: https://github.com/kolyshkin/go-swagger.git (git: no mirrors.git rule matches it)"
    prepare = "  prepare: https://github.com/moby/moby.git (git: no mirrors.git rule matches it)"
    # `binary` builds none of v28.5.2's stages that clone from GitHub (go-swagger is the dev image's): only the
    # prepare job's clone is judged; with deb, docker-ce-packaging runs moby's installers (tini's clone) as well.
    for targets, tini in (("[binary]", False), ("[binary, {name: deb, distros: [debian-bookworm]}]", True)):
        spec = _spec("v28.5.2", mirrors).replace("targets: [binary]", f"targets: {targets}")
        done = _mobyci(tmp_path, spec, "--strict")
        assert done.returncode == 1
        lines = [line for line in done.stderr.splitlines() if ": warning: " not in line]
        assert re.fullmatch(
            r"mobyci: \d+ fetches would go direct \(no mirror rewrites them, no proxy carries them\):", lines[0]
        )
        assert prepare in lines
        assert swagger not in lines
        assert "https://github.com/kolyshkin/go-swagger.git (Dockerfile:89): direct" in " ".join(done.stdout.split())
        installer = "  hack/dockerfile/install/tini.installer:10: https://github.com/krallin/tini.git (git: no "
        assert (installer + "mirrors.git rule matches it)" in lines) == tini, done.stderr


def test_a_proxy_carries_what_no_mirror_rewrites(tmp_path: Path) -> None:
    spec = _spec("v28.5.2").replace("targets:", "proxy: {https: $CORP_HTTPS_PROXY, http: $CORP_HTTP_PROXY}\ntargets:")
    done = _mobyci(tmp_path, spec, "--format", "json", "--strict")
    data = json.loads(done.stdout)
    opensuse = next(f for f in data["fetches"] if f["source"] == "Dockerfile:71")
    assert (opensuse["route"], opensuse["via"]) == ("proxy", "proxy.https ($CORP_HTTPS_PROXY)")
    # Job images are pulled by the runner itself: the pipeline cannot route them, strict does not count them.
    assert {f["route"] for f in data["fetches"] if f["kind"] in ("job-image", "service")} == {"runner"}
    assert done.returncode == 0, done.stderr


def test_a_release_without_a_stored_list_gets_the_nearest_one_with_a_caveat() -> None:
    tag, exact, _ = stored_list(make_plan(load_text(_spec("v28.5.1"))))
    assert (tag, exact) == ("v28.5.2", False)
    inventory = plan_inventory(pipeline_plan(load_text(_spec("v28.5.1")), "gitlab"))
    assert inventory.caveat == (
        "v28.5.1 has no stored list: this is the list of v28.5.2, the nearest stored release of family 25-28; "
        "`mobyci patch --check DIR` lists a checked-out tree exactly"
    )
    branch = stored_list(make_plan(load_text(_spec("master", family="29"))))
    assert (branch[0], branch[1]) == ("docker-v29.7.2", False)


def test_patch_check_lists_the_fetches_of_a_real_tree(tmp_path: Path) -> None:
    (tmp_path / "mobyci.yaml").write_text(_spec("v28.5.2"))
    done = subprocess.run(
        [sys.executable, "-m", "mobyci", "patch", "--check", str(TREES / "25-28")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"Fetches of v28.5.2 (list of {TREES / '25-28'}; " in done.stdout
    for path, line, url in _github_urls(_tree_files(TREES / "25-28")):
        assert f"{url} ({path}:{line})" in " ".join(done.stdout.split())


# --- TLS endpoints and the CA of tls.ca_certs -----------------------------------------------------------------------

CA = "tls: {ca_certs: [$CORP_CA_CERT]}\n"


def _marks(inventory: Inventory, source: str, endpoint: str) -> tuple[bool, str, str]:
    entry = next(e for e in inventory.entries if (e.source, e.endpoint) == (source, endpoint))
    return entry.tls, entry.ca, entry.ca_where


def test_the_scan_marks_what_buildkit_adds_itself() -> None:
    from mobyci.families.fetchscan import Fetch

    dockerfile = (
        "FROM debian:bookworm AS base\n"
        "ADD --chmod=0644 https://download.example.org/key.asc /etc/apt/key.asc\n"
        "ADD https://github.com/go-delve/delve.git?ref=v1&keep-git-dir=1 .\n"
        "RUN git clone https://github.com/opencontainers/runc.git\n"
    )
    found = scan(["Dockerfile"], {"Dockerfile": dockerfile}.__getitem__)
    assert [f for f in found if f.kind != "image"] == [
        Fetch("download", "https://download.example.org/key.asc", "Dockerfile", 2, "builder"),
        Fetch("git", "https://github.com/go-delve/delve.git", "Dockerfile", 3, "builder"),
        Fetch("git", "https://github.com/opencontainers/runc.git", "Dockerfile", 4),
    ]
    assert found[-1].row() == ["git", "https://github.com/opencontainers/runc.git", "Dockerfile", 4]


def test_tls_is_the_scheme_of_what_the_client_reaches() -> None:
    # The seed's apt mirror is a bare host: http, like deb.debian.org itself; its registry and git mirrors are https.
    inventory = plan_inventory(pipeline_plan(load_text(_spec("v28.5.2")), "gitlab"))
    assert _marks(inventory, "Dockerfile:66", "http://deb.debian.org/debian") == (False, "", "")
    assert _marks(inventory, "Dockerfile:58", "golang:1.24.9-bookworm") == (True, "", "")
    assert _marks(inventory, "prepare", "https://github.com/moby/moby.git") == (True, "", "")
    https_apt = _spec("v28.5.2").replace(
        "apt: mirrors.tuna.tsinghua.edu.cn", "apt: https://mirrors.tuna.tsinghua.edu.cn"
    )
    assert _marks(
        plan_inventory(pipeline_plan(load_text(https_apt), "gitlab")), "Dockerfile:66", "http://deb.debian.org/debian"
    )[0]
    # Without tls.ca_certs nothing is said about trust, and strict counts nothing for it.
    assert all(e.ca == "" for e in inventory.entries)
    assert inventory.untrusted == ()


def test_with_a_ca_each_tls_fetch_says_whether_its_client_trusts_it() -> None:
    from mobyci.families.fetchscan import Fetch

    loaded = load_text(_spec("v28.5.2") + CA)
    fetches = [
        Fetch("git", "https://github.com/containerd/containerd.git", "hack/dockerfile/install/containerd.installer", 9),
        Fetch("git", "https://github.com/go-delve/delve.git", "Dockerfile", 112, "builder"),
        Fetch("image", "golang:1.24.9-bookworm", "Dockerfile", 58),
        Fetch("image", "ghcr.io/example/tool:1", "Dockerfile", 60),
        Fetch("frozen-image", "busybox:latest", "Dockerfile", 122),
    ]
    gitlab = build_inventory(pipeline_plan(loaded, "gitlab"), fetches, tree="t", exact=True)
    containerd, delve, golang, ghcr, frozen = gitlab.entries[:5]
    assert (containerd.tls, containerd.ca) == (True, "yes")
    assert containerd.ca_where == "the build stage's store (patch rule ca)"
    # 25+ builds run in a docker-container builder: its registry config trusts the CA for Docker Hub and the
    # mirror, and the CA appended to its system bundle covers ADD sources and other registries.
    assert (delve.ca, ghcr.ca, golang.ca, frozen.ca) == ("yes", "yes", "yes", "yes")
    assert delve.ca_where == "BuildKit's ADD in a docker-container builder (its system bundle)"
    assert ghcr.ca_where == "the docker-container builder (its system bundle)"
    assert golang.ca_where == "the docker-container builder (buildkitd config ca = …)"
    assert gitlab.untrusted == ()
    by_kind = {(e.source, e.kind): e for e in gitlab.entries}
    prepare = by_kind["prepare", "git"]
    assert (prepare.ca, prepare.ca_where) == ("yes", "the job's git (GIT_SSL_CAINFO)")
    assert by_kind["mobyci-check", "pypi"].ca == "yes"
    assert {e.ca for e in gitlab.entries if e.kind in ("job-image", "service")} == {"runner"}
    assert {e.ca for e in gitlab.entries if e.kind == "alpine"} == {"yes"}


def test_the_builder_decides_who_trusts_images_and_add_sources() -> None:
    from mobyci.families.fetchscan import Fetch

    fetches = [Fetch("image", "golang:1.20.10-bullseye", "Dockerfile", 13)]
    dind = load_text(_spec("v20.10.27") + CA)
    shell = load_text(_spec("v20.10.27") + CA + "ci: {gitlab: {runner: shell}}\n")
    # 20.10 builds with the daemon's own BuildKit: dind's daemon has the CA, a shell runner's host daemon is the
    # administrator's.
    assert build_inventory(pipeline_plan(dind, "gitlab"), fetches, tree="t", exact=True).entries[0].ca == "yes"
    assert build_inventory(pipeline_plan(shell, "gitlab"), fetches, tree="t", exact=True).entries[0].ca == "runner"
    assert build_inventory(pipeline_plan(dind, "buildkite"), fetches, tree="t", exact=True).entries[0].ca == "runner"
    assert build_inventory(pipeline_plan(dind, "github"), fetches, tree="t", exact=True).entries[0].ca == "yes"


def test_package_images_trust_the_ca_over_tls_only_where_they_use_it() -> None:
    spec = (
        _spec("v28.5.2").replace(
            "targets: [binary]",
            "targets: [{name: rpm, distros: [rhel-9, centos-9]}, {name: deb, distros: [ubuntu-noble]}]",
        )
        + CA
    )
    inventory = plan_inventory(pipeline_plan(load_text(spec), "gitlab"))
    # UBI's CDN and CentOS Stream's metalink are https; Ubuntu's archive is http.
    assert _marks(inventory, "rpm-rhel-9", "cdn-ubi.redhat.com") == (
        True,
        "yes",
        "the package image's store (packaging patch)",
    )
    assert _marks(inventory, "rpm-centos-9", "mirrors.centos.org")[:2] == (True, "yes")
    assert _marks(inventory, "deb-ubuntu-noble", "archive.ubuntu.com") == (False, "", "")


# No client of today's plans is left without the CA; this stand-in takes the CA away from BuildKit's ADD to see
# what --strict does with one that is.
_UNTRUSTING_STANDIN = """\
import sys
import mobyci.report.fetchtls as fetchtls
real = fetchtls.Trust.mark
def mark(self, url, client):
    got = real(self, url, client)
    if client == "builder-add" and got.trust:
        return got._replace(trust="no", where="an untrusting stand-in client")
    return got
fetchtls.Trust.mark = mark
from mobyci.cli import app
sys.argv = ["mobyci", "plan", "--fetches", "--strict"]
app()
"""


def test_strict_with_a_ca_names_the_fetches_whose_client_does_not_trust_it(tmp_path: Path) -> None:
    # docker-v29.7.2: its gowinres stage, which `binary` builds, fetches go-winres by a git ADD (BuildKit's own
    # client); v28.5.2's only ADD is criu's, a stage `binary` never builds, which --strict does not judge.
    spec = _spec("docker-v29.7.2").replace("targets:", "proxy: {https: $P, http: $P}\n" + CA + "targets:")
    done = _mobyci(tmp_path, spec, "--strict")
    assert done.returncode == 0, done.stderr  # every TLS client trusts the CA, nothing is direct
    assert "[TLS; CA trusted by BuildKit's ADD in a docker-container builder (its system bundle)]" in " ".join(
        done.stdout.split()
    )
    title = done.stdout.splitlines()[0]
    assert title.endswith("over TLS, 0 whose client does not trust the CA)"), title
    untrusting = subprocess.run(
        [sys.executable, "-c", _UNTRUSTING_STANDIN], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert untrusting.returncode == 1
    lines = [line for line in untrusting.stderr.splitlines() if ": warning: " not in line]
    assert lines == [
        "mobyci: 1 TLS fetches would fail behind the inspecting proxy (their client does not trust tls.ca_certs):",
        "  Dockerfile:131: https://github.com/tc-hib/go-winres.git (git: an untrusting stand-in client)",
    ]
    # JSON: the same marks and counts, and the same bytes from run to run.
    first = _mobyci(tmp_path, spec, "--format", "json")
    data = json.loads(first.stdout)
    assert (data["ca_certs"], data["ca_untrusted"]) == (True, 0)
    assert data["tls"] == sum(f["tls"] for f in data["fetches"])
    assert _mobyci(tmp_path, spec, "--format", "json").stdout == first.stdout


def test_an_image_pull_names_the_mirror_setting_of_the_builder_that_pulls() -> None:
    from mobyci.families.fetchscan import Fetch

    fetches = [Fetch("image", "golang:1.24.9-bookworm", "Dockerfile", 58)]
    # 23.0+ GitLab jobs bake on a docker-container builder: its buildkitd.toml mirrors Docker Hub, not the service.
    bake = build_inventory(pipeline_plan(load_text(_spec("v28.5.2")), "gitlab"), fetches, tree="t", exact=True).entries[
        0
    ]
    assert bake.via == "mirrors.registry -> https://5162s31v.mirror.aliyuncs.com (the BuildKit builder's mirror config)"
    # 20.10 builds with the daemon's own BuildKit: in the docker-in-docker service, with its --registry-mirror.
    daemon = build_inventory(
        pipeline_plan(load_text(_spec("v20.10.27")), "gitlab"), fetches, tree="t", exact=True
    ).entries[0]
    assert daemon.via.endswith("(the docker-in-docker service's --registry-mirror)")


# --- Frontends and Go module fetches, from the stored scans of the real tags ---------------------------------------


def _stored_rows(kind: str) -> list[tuple[str, list[object]]]:
    from mobyci.report.fetches import _stored

    return [(tag, row) for tag, rows in _stored().items() for row in rows if row[0] == kind]


def test_every_stored_syntax_frontend_is_an_image_pulled_through_the_registry_mirror() -> None:
    frontends = [(tag, row) for tag, row in _stored_rows("image") if row[4:] == ["frontend"]]
    # Every release from 20.10 on starts its Dockerfile with a `# syntax=` directive; 19.03 has none.
    assert {tag for tag, _ in frontends} == {tag for tag in _tags() if not tag.startswith("v19.03")}
    for tag, row in frontends:
        assert row[2:4] == ["Dockerfile", 1], (tag, row)
        inventory = plan_inventory(pipeline_plan(load_text(_spec(tag)), "gitlab"))
        entry = next(e for e in inventory.entries if (e.source, e.endpoint) == ("Dockerfile:1", row[1]))
        assert (entry.kind, entry.route) == ("image", "mirror"), (tag, entry)
        assert entry.via.startswith("mirrors.registry -> https://5162s31v.mirror.aliyuncs.com"), (tag, entry)


def _tags() -> list[str]:
    from mobyci.report.fetches import _stored

    return list(_stored())


def test_every_stored_go_install_goes_through_the_go_proxy_and_its_sums_through_gosumdb() -> None:
    modules = _stored_rows("go-module")
    assert {tag for tag, _ in modules} == set(_tags()), "every stored release installs a Go tool"
    sumdb_files = {(tag, row[2]) for tag, row in _stored_rows("go-sumdb")}
    assert {(tag, row[2]) for tag, row in modules} == sumdb_files, "one checksum database entry per file"
    for tag in sorted({tag for tag, _ in modules}):
        rows = [row for t, row in modules if t == tag]
        mirrored = plan_inventory(pipeline_plan(load_text(_spec(tag)), "gitlab"))
        for row in rows:
            entry = next(e for e in mirrored.entries if (e.source, e.endpoint) == (f"{row[2]}:{row[3]}", row[1]))
            assert (entry.route, entry.via) == ("mirror", "mirrors.goproxy -> https://goproxy.cn,direct"), entry
        sums = [e for e in mirrored.entries if e.kind == "go-sumdb"]
        # The seed names no checksum database: Go asks sum.golang.org itself, which no mirror covers.
        assert sums
        assert {(e.route, e.endpoint) for e in sums} == {("direct", "https://sum.golang.org")}
        bare = plan_inventory(
            pipeline_plan(
                load_text(_spec(tag, SEED_MIRRORS.replace("  goproxy: https://goproxy.cn,direct\n", ""))), "gitlab"
            )
        )
        module_routes = {(e.route, e.via) for e in bare.entries if e.kind == "go-module"}
        assert module_routes == {("direct", "no mirrors.goproxy (Go's default proxy.golang.org)")}, tag


@pytest.mark.parametrize(
    ("gosumdb", "route", "contacted"),
    [
        ("off", "skipped", ""),
        (
            "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8 https://sumdb.corp.example/sumdb",
            "mirror",
            "https://sumdb.corp.example/sumdb",
        ),
        ("sum.golang.google.cn", "direct", "https://sum.golang.google.cn"),
    ],
)
def test_mirrors_gosumdb_routes_the_checksum_fetches(gosumdb: str, route: str, contacted: str) -> None:
    spec = _spec("v20.10.27").replace(
        "  goproxy: https://goproxy.cn,direct\n", f"  goproxy: https://goproxy.cn,direct\n  gosumdb: '{gosumdb}'\n"
    )
    inventory = plan_inventory(pipeline_plan(load_text(spec), "gitlab"))
    sums = [e for e in inventory.entries if e.kind == "go-sumdb"]
    assert sums
    assert {e.route for e in sums} == {route}
    if route == "skipped":
        assert {e.via for e in sums} == {"mirrors.gosumdb: off (no checksum verification)"}
        assert not any(e.tls for e in sums)
    else:
        assert all(contacted in e.via for e in sums), sums


def test_gosumdb_accepts_go_s_name_key_url_form_and_validate_says_what_off_costs(tmp_path: Path) -> None:
    from mobyci.specmodel.fields import gosumdb_url

    keyed = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8 https://sum.golang.google.cn"
    assert gosumdb_url(keyed) == "https://sum.golang.google.cn"
    assert gosumdb_url("sum.golang.org+033de0ae+Ac4z") == "https://sum.golang.org"
    assert gosumdb_url("off") is None
    for value, ok in ((keyed, True), ("sum.golang.org", True), ("off", True), ("a b c", False), ("x https://", False)):
        spec = _spec("v20.10.27").replace("  goproxy:", f"  gosumdb: '{value}'\n  goproxy:")
        (tmp_path / "mobyci.yaml").write_text(spec)
        done = subprocess.run(
            [sys.executable, "-m", "mobyci", "validate"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert (done.returncode == 0) == ok, (value, done.stderr)
        if not ok:
            assert re.search(r"mobyci\.yaml:\d+:\d+: mirrors\.gosumdb: ", done.stderr), done.stderr
        off_warning = "mirrors.gosumdb: warning: off: the build's `go install` steps accept whatever the Go proxy"
        assert (off_warning in " ".join(done.stderr.split())) == (value == "off"), done.stderr


def test_the_scan_reads_frontends_and_go_installs_as_moby_writes_them() -> None:
    from mobyci.families.fetchscan import Fetch

    # Stand-in files in the shapes of moby's Dockerfile header and rootlesskit installer (not copies of them).
    dockerfile = (
        "# syntax=docker/dockerfile:1.99\n# escape=\\\n\nARG TOOL_VERSION=v1.2.3\nFROM golang:1 AS tool\n"
        'RUN GOBIN=/build/ GO111MODULE=on go install "example.org/tool/cmd/tool@${TOOL_VERSION}"\n'
    )
    installer = (
        ': "${KIT_VERSION:=v0.9.0}"\n'
        "_install() (\n"
        "\tfor f in kit kit-proxy; do\n"
        '\t\tGOBIN="${PREFIX}" go install ${MODE} -ldflags="$FLAGS" "example.org/kit/cmd/${f}@${KIT_VERSION}"\n'
        "\tdone\n)\n"
        "# go install example.org/commented@v1\n"
        '\texport GOPROXY="https://proxy.example.org"\n'
    )
    files = {"Dockerfile": dockerfile, "hack/dockerfile/install/kit.installer": installer}
    found = [f for f in scan(list(files), files.__getitem__) if f.kind != "image" or f.by]
    path = "hack/dockerfile/install/kit.installer"
    assert found == [
        Fetch("image", "docker/dockerfile:1.99", "Dockerfile", 1, "frontend"),
        Fetch("go-module", "example.org/tool/cmd/tool@v1.2.3", "Dockerfile", 6),
        Fetch("go-modules", "https://proxy.golang.org", "Dockerfile", 6),
        Fetch("go-sumdb", "https://sum.golang.org", "Dockerfile", 6),
        Fetch("go-module", "example.org/kit/cmd/kit-proxy@v0.9.0", path, 4),
        Fetch("go-module", "example.org/kit/cmd/kit@v0.9.0", path, 4),
        Fetch("go-sumdb", "https://sum.golang.org", path, 4),
        Fetch("go-modules", "https://proxy.example.org", path, 8),
    ]
    # A directive after the first empty line is a comment, and so is a syntax line after an instruction.
    late = "FROM busybox\n# syntax=docker/dockerfile:1\n"
    assert not [f for f in scan(["Dockerfile"], {"Dockerfile": late}.__getitem__) if f.by == "frontend"]


@pytest.mark.skipif(MOBY_GIT is None, reason="set MOBYCI_MOBY_GIT to a moby git directory")
def test_the_stored_frontends_and_go_installs_are_the_real_trees() -> None:
    # An oracle apart from the scanner: line 1 of the Dockerfile, and a grep for `go install|get …@`.
    for tag in _tags():
        first = _git("show", f"{tag}:Dockerfile").splitlines()[0]
        stored = [row for t, row in _stored_rows("image") if t == tag and row[4:] == ["frontend"]]
        want = [first.split("=", 1)[1].strip()] if first.startswith("# syntax=") else []
        assert [row[1] for row in stored] == want, tag
        grep = subprocess.run(
            [
                "git",
                f"--git-dir={MOBY_GIT}",
                "grep",
                "-n",
                "-E",
                r"go (install|get) .*@",
                tag,
                "--",
                "Dockerfile",
                "hack/dockerfile",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        lines = {
            (path, int(number))
            for _, path, number, text in (g.split(":", 3) for g in grep.splitlines())
            if not text.lstrip().startswith("#")
        }
        assert lines == {(row[2], row[3]) for t, row in _stored_rows("go-module") if t == tag}, tag


def test_the_longest_mirror_key_owns_a_url_as_in_the_patch() -> None:
    # Every GitHub download the stored scans found (GitHub's /archive/ tarballs, which a git mirror does not serve).
    downloads = [(tag, row) for tag, row in _stored_rows("download") if str(row[1]).startswith("https://github.com/")]
    assert downloads, "no stored scan downloads from GitHub: the check would prove nothing"
    for tag, row in downloads:
        url, source = str(row[1]), f"{row[2]}:{row[3]}"
        key = url.rsplit("/", 1)[0] + "/"
        for target, route, via in (
            (
                "https://files.corp.example/archive/",
                "mirror",
                "mirrors.downloads -> https://files.corp.example/archive/",
            ),
            (key, "direct", f"mirrors.downloads keeps it at its upstream ({key})"),
        ):
            mirrors = SEED_MIRRORS.replace("  downloads: {", f'  downloads: {{"{key}": "{target}", ')
            inventory = plan_inventory(pipeline_plan(load_text(_spec(tag, mirrors)), "gitlab"))
            entry = next(e for e in inventory.entries if (e.source, e.endpoint) == (source, url))
            assert (entry.route, entry.via[: len(via)]) == (route, via), (tag, entry)
        # Without the longer key the git prefix owns it.
        entry = next(
            e for e in plan_inventory(pipeline_plan(load_text(_spec(tag)), "gitlab")).entries if e.source == source
        )
        assert entry.via.startswith("mirrors.git -> https://gitee.com/"), entry


def test_strict_fails_for_a_release_tag_that_borrows_another_tags_scan() -> None:
    from mobyci.families import resolve
    from mobyci.families.facts import table
    from mobyci.report.fetches import _stored

    stored = set(_stored())
    tags = list(table().releases)
    unstored = [tag for tag in tags if tag not in stored]
    assert unstored, "every release of the facts table has a stored scan: the check would prove nothing"
    for tag in tags:
        release = resolve(tag, None)
        assert release is not None
        # A release on an archived Debian must say where that archive is.
        loaded = load_text(_spec(tag, "mirrors: {apt: archive}\n" if release.debian_archived else ""))
        _, exact, _ = stored_list(make_plan(loaded))
        inventory = Inventory(tag, "gitlab", "t", exact, "", ())
        assert bool(inventory.borrowed) == (tag in unstored), tag
    # A branch has no scan by nature: its family's newest list stands in, with the caveat, and strict judges it.
    branch = stored_list(make_plan(load_text(_spec("patched-29.7", family="29"))))
    assert not Inventory("patched-29.7", "gitlab", branch[0], branch[1], "", ()).borrowed


def test_strict_names_the_borrowed_scan_on_the_command_line(tmp_path: Path) -> None:
    from mobyci.families.facts import table
    from mobyci.report.fetches import _stored

    proxied = "proxy: {https: $P, http: $P}\n"
    tag = next(t for t in table().releases if t not in _stored() and t.startswith("v28."))
    stored = next(t for t in _stored() if t.startswith("v28."))
    for ref, code in ((tag, 1), (stored, 0)):
        done = _mobyci(tmp_path, _spec(ref, "").replace("targets:", proxied + "targets:"), "--strict")
        assert done.returncode == code, done.stderr
        named = f"mobyci: --strict judges a tree's own fetches: {ref} has no stored scan"
        assert (named in done.stderr) == (code == 1), done.stderr


@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
def test_the_bundled_examples_that_claim_strict_pass_it(system: str) -> None:
    # fork-29-shell: a fork on a branch behind a proxy, with internal hosts in no_proxy.
    spec = ROOT / "examples" / "fork-29-shell" / "mobyci.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "mobyci", "plan", "--fetches", "--strict", "--for", system, str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Its own repository's host is one no_proxy names: reached inside, neither mirrored nor proxied.
    assert "internal" in done.stdout


@pytest.mark.skipif(MOBY_GIT is None, reason="set MOBYCI_MOBY_GIT to a moby git directory")
def test_an_installer_s_own_goproxy_is_mirrored_only_where_the_patch_rewrites_it() -> None:
    # v20.10.8's rootlesskit.installer exports its own GOPROXY: the scan of the real tree lists it, and the route
    # is the mirror only because the goproxy-installer rule rewrites that line.
    paths = _git("ls-tree", "-r", "--name-only", "v20.10.8").splitlines()
    fetches = scan(paths, functools.partial(_show, "v20.10.8"))
    own = [f for f in fetches if f.kind == "go-modules" and f.file.endswith("rootlesskit.installer")]
    assert own
    archive = "mirrors:\n  apt: archive\n  goproxy: https://goproxy.corp.example\n"
    inventory = build_inventory(
        pipeline_plan(load_text(_spec("v20.10.8", archive)), "gitlab"), own, tree="t", exact=True
    )
    assert [e.route for e in inventory.entries[: len(own)]] == ["mirror"] * len(own)
