"""Shell lines several jobs share: logins, heredocs, checksums, the version of a branch build. POSIX sh, run
from the repository root; values from the spec reach them shell-quoted."""

from __future__ import annotations

import re
import shlex

from mobyci.families.versions import COMMIT_RE, tag_version
from mobyci.load.reader import LoadedSpec
from mobyci.plan.mirrors import registry_host
from mobyci.plan.model import (
    GIT_PASSWORD_VAR,
    GIT_USERNAME_VAR,
    GITCOMMIT_FILE,
    REGISTRY_PASSWORD_VAR,
    REGISTRY_USERNAME_VAR,
)
from mobyci.specmodel.fields import EMBED_DELIMITER_RE


def git_auth_lines(loaded: LoadedSpec) -> list[str]:
    """Lines that make every git command of the job send the git mirrors' login as an HTTP header.

    Through git's GIT_CONFIG_COUNT/KEY/VALUE environment (git 2.31+), the same as `git -c` but neither on a
    command line (visible in the process list) nor in a file, and inherited by clones that make runs. Each key
    is scoped to one mirror URL (http.<url>.extraHeader): no other host ever sees the header.
    """
    from mobyci.specmodel.checks import git_auth_prefixes

    if loaded.spec.mirrors.git_auth is None:
        return []
    prefixes = git_auth_prefixes(loaded.spec)
    pairs = " ".join(
        f"GIT_CONFIG_KEY_{i}={shlex.quote(f'http.{url}.extraHeader')} "
        f'GIT_CONFIG_VALUE_{i}="Authorization: Basic $mobyci_git_auth"'
        for i, url in enumerate(prefixes)
    )
    return [
        f'mobyci_git_auth="$(printf \'%s:%s\' "${GIT_USERNAME_VAR}" "${GIT_PASSWORD_VAR}" | base64 | tr -d \'\\n\')"',
        f"export GIT_CONFIG_COUNT={len(prefixes)} {pairs}",
    ]


def build_args_flags(build_args: tuple[str, ...]) -> str:
    # `--build-arg NAME` without a value makes the docker CLI read NAME from its environment: the value
    # never appears on a command line or in the job log, and predefined proxy args stay out of the image.
    return " ".join(f"--build-arg {name}" for name in build_args)


def write_heredoc(path: str, text: str, delimiter: str) -> str:
    """A job line that writes `text` to `path` through a quoted heredoc (nothing in it is expanded)."""
    body = text.rstrip("\n")
    if not EMBED_DELIMITER_RE.fullmatch(delimiter):
        raise ValueError(f"{delimiter}: not a delimiter the spec's validation keeps out of spec values")
    if delimiter in body:
        raise ValueError(f"the text for {path} contains {delimiter}")
    return f"cat > {path} <<'{delimiter}'\n{body}\n{delimiter}"


def registry_login_lines(loaded: LoadedSpec) -> list[str]:
    """`docker login` to the registry mirror, the password read from stdin (never an argument), in the client
    config where the job's other logins land (the CI registry's, for the build cache): buildx hands every login of
    that config to the builder, which uses the one of each registry host it talks to, the mirror's included."""
    registry = loaded.spec.mirrors.registry
    if loaded.spec.mirrors.registry_auth is None or registry is None:
        return []
    return [
        f"printf '%s\\n' \"${REGISTRY_PASSWORD_VAR}\" | "
        f'docker login --username "${REGISTRY_USERNAME_VAR}" --password-stdin {shlex.quote(registry_host(registry))}'
    ]


def ref_version_lines(ref: str) -> list[str]:
    """VERSION for a branch or a commit, which have no release number: `<branch>-<short commit>`, or
    `dev-<short commit>` for a commit (moby's own default is "dev"). Tags get theirs as a pipeline variable."""
    if tag_version(ref) is not None:
        return []
    slug = "dev" if COMMIT_RE.match(ref) else re.sub(r"[^A-Za-z0-9.]+", "-", ref).strip("-")
    # The short commit as `git rev-parse --short` prints it for a fresh clone: the first 7 digits.
    return [f'VERSION="{slug}-$(cut -c1-7 {GITCOMMIT_FILE})" && export VERSION']


def sums_line(out: str) -> str:
    """The shell line that writes `out`/SHA256SUMS the same way for every job that produces files."""
    # The same SHA256SUMS for every family: 23.0+ write no checksums, older ones write .md5/.sha256 per file.
    # Written aside and moved in, so the listing never sees a half-written SHA256SUMS.
    return (
        f'(cd "{out}" && sums="$(mktemp)" && find . -type f ! -name SHA256SUMS ! -name "*.md5" ! -name "*.sha256" '
        '| LC_ALL=C sort | sed \'s|^\\./||\' | while IFS= read -r f; do sha256sum "$f"; done > "$sums" '
        '&& mv "$sums" SHA256SUMS)'
    )


def apt_env(loaded: LoadedSpec) -> list[str]:
    """The family's own APT_MIRROR knob, for a bare host only: its hook swaps the host name and keeps http://."""
    from mobyci.specmodel.apt import apt_sources

    sources, knob = apt_sources(loaded.spec.mirrors, loaded.release), loaded.release.apt_build_arg
    if sources is None or not sources.host_only or not sources.debian.startswith("http://") or knob is None:
        return []
    host = sources.debian.removeprefix("http://").removesuffix("/debian")
    return [f"export {knob}={shlex.quote(host)}"]


def clone_lines(path: str, url: str, ref: str) -> list[str]:
    """A shallow checkout of one ref into `path`. `ref` is shell text as given (quoted, or a "$variable");
    fetching the ref itself works for a branch, a tag and, on hosts that allow it, a commit."""
    return [
        f"git init -q {path}",
        f"git -C {path} remote add origin {shlex.quote(url)}",
        f"git -C {path} fetch -q --depth 1 origin {ref}",
        f"git -C {path} checkout -q FETCH_HEAD",
    ]
