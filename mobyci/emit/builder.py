"""The BuildKit builder that cached bake jobs run on, the same for every CI system.

The `docker` driver cannot export a build cache (only inline), so a cached job needs a `docker-container`
builder. Such a builder is a BuildKit daemon of its own in a container: it does not use the Docker daemon's
`registry-mirrors` nor the daemon's proxy. Both are given to it here: the mirrors in its buildkitd.toml
(`buildkitd_config`, the one place that writes that file's content), the proxies as the container's environment
(`--driver-opt env.http_proxy=…`, read from the job's environment when it runs, never written into a file).
"""

from __future__ import annotations

import json

from mobyci.plan import ca
from mobyci.plan import model as p

# buildx reads BUILDX_BUILDER as its --builder flag (docker/buildx commands/root.go): a named builder that cannot
# be found is an error ("no builder … found"), never a silent fall-back to the daemon's own builder.
BUILDER_VAR = "BUILDX_BUILDER"
BUILDKITD_CONFIG_FILE = ".mobyci-buildkitd.toml"
_EOF = "MOBYCI_BUILDKITD_EOF"
# The builder's container: buildx names it after the builder's first node, `<builder>0` (docker/buildx
# driver/driver.go BuilderName, store/nodegroup.go nextNodeName; the docs' `docker logs buildx_buildkit_mybuilder0`).
_CONTAINER = f'"buildx_buildkit_${{{BUILDER_VAR}}}0"'
# moby/buildkit's image is Alpine with git (Dockerfile, stage buildkit-export): Go's TLS (ADD of an https URL,
# registries) and git's libcurl (ADD of a git URL; buildkit runs git with a cleaned environment, so no
# GIT_SSL_CAINFO reaches it: util/gitutil/git_cli.go) both read Alpine's one bundle.
_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def registry_host(url: str) -> str:
    """A registry as buildkitd.toml names it: host[:port][/path], no scheme (https is BuildKit's default)."""
    return url.split("://", 1)[-1].rstrip("/")


def buildkitd_config(plan: p.Plan, ca_path: str | None = None) -> str:
    """buildkitd.toml for the builder ("" when there is nothing to configure). `ca_path`: the file of tls.ca_certs
    as the job sees it; buildx copies it into the builder (docker/buildx util/confutil/container.go)."""
    sections: list[str] = []
    ca_line = f"  ca = [{json.dumps(ca_path)}]\n" if ca_path else ""
    mirror = registry_host(plan.registry_mirror) if plan.registry_mirror else None
    if mirror or ca_line:
        # Docker Hub is the only registry the spec mirrors; other registries are reached directly.
        mirrors = f"  mirrors = [{json.dumps(mirror)}]\n" if mirror else ""
        sections.append(f'[registry."docker.io"]\n{mirrors}{ca_line}')
    if mirror and ca_line:
        sections.append(f"[registry.{json.dumps(mirror)}]\n{ca_line}")
    return "\n".join(sections)


def driver_env(plan: p.Plan) -> tuple[str, ...]:
    """The proxy variables the builder container gets, by name (buildkitd, a Go program, reads either case)."""
    return tuple(name for name, _ in plan.variables if name in ("http_proxy", "https_proxy", "no_proxy"))


def create_lines(plan: p.Plan, name: str) -> list[str]:
    """Shell lines that create the job's builder, named `name` (shell text, unique per job: on a shell runner
    the builder's container shares the host daemon with other jobs), select it for every later buildx call
    and remove it when the job's shell exits."""
    # tls.ca_certs: the CA file must exist when the builder is created (buildx reads it then, relative to the job's
    # directory like the config file itself).
    lines: list[str] = list(plan.ca_lines)
    options = ["--driver docker-container"]
    config = buildkitd_config(plan, ca_path=ca.CA_FILE if plan.ca_lines else None)
    if config:
        lines.append(f"cat > {BUILDKITD_CONFIG_FILE} <<'{_EOF}'\n{config.rstrip()}\n{_EOF}")
        options.append(f"--buildkitd-config {BUILDKITD_CONFIG_FILE}")
    for var in driver_env(plan):
        # buildx reads each --driver-opt as a CSV record: quoted, NO_PROXY's commas stay in the value.
        options.append(f'--driver-opt "\\"env.{var}=${{{var}:-}}\\""')
    lines += [
        f'{BUILDER_VAR}="{name}" && export {BUILDER_VAR}',
        f'docker buildx create --name "${BUILDER_VAR}" {" ".join(options)} --bootstrap',
        f"trap 'docker buildx rm \"${BUILDER_VAR}\" >/dev/null 2>&1 || true' EXIT",
        *(trust_lines() if plan.ca_lines else []),
    ]
    return lines


def trust_lines() -> list[str]:
    """Lines that make the builder named in BUILDER_VAR trust the CA for everything it fetches itself.

    Its buildkitd config's `ca` covers only the registries it names; an `ADD https://…` or `ADD <git URL>` and any
    other registry use the container's system bundle, so the CA is appended there. The daemon is restarted
    because Go reads the system roots once per process, and waited for as buildx waits for a new builder
    (`buildctl debug workers` until it answers: docker/buildx driver/docker-container/driver.go:328-354): buildx
    bootstraps only a builder whose container is not running, so it would not wait itself."""
    return [
        f"docker exec -i {_CONTAINER} sh -c 'cat >> {_BUNDLE}' < {ca.CA_FILE}",
        f"docker restart {_CONTAINER} > /dev/null",
        f"mobyci_try=0; until docker exec {_CONTAINER} buildctl debug workers > /dev/null 2>&1; do "
        'mobyci_try=$((mobyci_try + 1)); [ "$mobyci_try" -lt 30 ] || { echo "mobyci: the BuildKit builder did not '
        'come back after its restart" >&2; exit 1; }; sleep 1; done',
    ]
