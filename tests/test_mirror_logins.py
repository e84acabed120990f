"""Logins for a token-protected git mirror and a login-protected registry mirror, executed by gitlab-ci-local.

The pipeline's own clone must send the git mirror's login as an HTTP header resolved by git itself for the mirror
URL (never in the URL, never in a file), and `docker login` must read the registry password from stdin; no log
may show either value.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc

STANDINS = ROOT / "tests" / "fixtures" / "standins"
TOKEN = "glpat-mirror-t0ken-4c4c"  # noqa: S105 (a marker, not a secret)
HARBOR_PASSWORD = "harbor-pa55-8e8e"  # noqa: S105
SPEC = """\
version: 1
moby: {ref: v27.5.1}
mirrors:
  git: {"https://github.com/": "https://git.mirror.test/github/"}
  git_auth: {username: ci-bot, password: $GIT_MIRROR_TOKEN}
  registry: https://harbor.mirror.test
  registry_auth: {username: $HARBOR_USER, password: $HARBOR_PASSWORD}
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY}
targets: [binary]
ci: {gitlab: {runner: shell}}
"""
# A recording wrapper around the real git: for each `git -C DIR remote add origin URL`, the header git itself
# resolves for URL from its configuration (http.<url>.extraHeader), then the real command.
GIT_WRAPPER = """\
#!/bin/sh
if [ "$3" = remote ] && [ "$4" = add ]; then
  printf '%s|%s\\n' "$6" "$(/usr/bin/git config --get-urlmatch http.extraheader "$6" || true)" >> "$MOBYCI_GIT_RECORD"
fi
exec /usr/bin/git "$@"
"""


def test_clone_sends_the_header_and_docker_login_reads_stdin(tmp_path: Path) -> None:
    standins = tmp_path / "standins"
    standins.mkdir()
    for tool in ("docker", "make"):
        (standins / tool).symlink_to(STANDINS / tool)
    (standins / "git").write_text(GIT_WRAPPER)
    (standins / "git").chmod(0o755)
    git_record = tmp_path / "git-record.txt"
    git_record.touch()
    os.environ["MOBYCI_GIT_RECORD"] = str(git_record)  # gitlab-ci-local passes its environment to shell jobs
    try:
        done, calls, _ = pc.run_shell_pipeline(
            tmp_path,
            SPEC,
            git_mirrors={
                "https://git.mirror.test/github/moby/moby.git": pc.fixture_moby_repo(
                    tmp_path, ROOT / "tests" / "fixtures" / "trees" / "25-28", "v27.5.1"
                )
            },
            standins=standins,
            variables={"GIT_MIRROR_TOKEN": TOKEN, "HARBOR_USER": "mobyci-robot", "HARBOR_PASSWORD": HARBOR_PASSWORD},
        )
    finally:
        del os.environ["MOBYCI_GIT_RECORD"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "checksums"]
    expected = "Authorization: Basic " + base64.b64encode(f"ci-bot:{TOKEN}".encode()).decode()
    assert git_record.read_text().splitlines() == [f"https://git.mirror.test/github/moby/moby.git|{expected}"]
    logins = [c for c in calls if c["tool"] == "docker" and c["args"][:1] == ["login"] and "harbor" in c["args"][-1]]
    assert [c["args"] for c in logins] == [
        ["login", "--username", "mobyci-robot", "--password-stdin", "harbor.mirror.test"]
    ]
    assert logins[0]["stdin"] == HARBOR_PASSWORD + "\n"
    # The login happened before the build, in the same client config the build then used.
    assert calls.index(logins[0]) < next(i for i, c in enumerate(calls) if c["tool"] == "make")
    make = next(c for c in calls if c["tool"] == "make")
    assert logins[0].get("env", {}).get("DOCKER_CONFIG") == make["env"].get("DOCKER_CONFIG")
    for secret in (TOKEN, HARBOR_PASSWORD, base64.b64encode(f"ci-bot:{TOKEN}".encode()).decode()):
        assert secret not in done.stdout + done.stderr


def test_a_login_protected_registry_mirror_on_dind_is_said_to_miss_the_engine_pulls() -> None:
    from mobyci.emit.gitlab_system import DIND_MIRROR_LOGIN
    from mobyci.load.reader import load_text

    spec = (
        "version: 1\nmoby: {ref: v28.5.2}\n"
        "mirrors: {registry: 'https://hub.example.test', registry_auth: {username: bot, password: $REG_TOKEN}}\n"
        "targets: [binary]\n"
    )
    warning = f"mobyci.yaml:3:64: mirrors.registry_auth: warning: {DIND_MIRROR_LOGIN}"
    assert warning in load_text(spec).warnings
    assert DIND_MIRROR_LOGIN.startswith(
        "GitLab's docker-in-docker service (ci.gitlab.runner: dind) pulls through its --registry-mirror without this "
        "login: an engine sends a mirror the credentials of the image's own registry (docker.io), and when the "
        "mirror refuses it falls back to Docker Hub"
    )
    # A shell runner's engine is configured by its owner, and a spec rendered only for GitHub has no dind service.
    shell = spec + "ci: {gitlab: {runner: shell}}\n"
    assert not [w for w in load_text(shell).warnings if DIND_MIRROR_LOGIN in w]
    github = spec + "outputs: {github: .github/workflows/mobyci.yml}\n"
    assert not [w for w in load_text(github).warnings if DIND_MIRROR_LOGIN in w]
