"""The docker-in-docker service a job's docker commands reach (GitLab's `dind` runner profile): its entrypoint,
which makes its daemon trust the CA of tls.ca_certs before the image's own entrypoint starts it."""

from __future__ import annotations

from mobyci.plan.ca import HUB_HOSTS, READ_FUNCTION
from mobyci.plan.mirrors import registry_host


def dind_script(mirror: str | None, env_names: tuple[tuple[str, str], ...]) -> str:
    """The dind service's entrypoint (sh -c): trust the CA, then start the image's own entrypoint with the
    service's command as arguments. `mirror`: mirrors.registry; `env_names`: (service variable, CI variable)."""
    hosts = list(HUB_HOSTS)
    if mirror:
        hosts.append(registry_host(mirror))
    reads = " && ".join(f'mobyci_ca "${{{var}:-}}" {name}' for var, name in env_names)
    dirs = " ".join(f"/etc/docker/certs.d/{host}" for host in hosts)
    return "\n".join(
        [
            "set -eu",
            READ_FUNCTION,
            # docker:dind has no /etc/docker until its daemon starts (nothing in its Dockerfiles makes it).
            "mkdir -p /etc/docker",
            # A file variable's file exists in the job's container only: the service needs the PEM text.
            f"{{ {reads}; }} > /etc/docker/mobyci-ca.crt || {{ echo 'mobyci: give the service the CA as PEM text "
            "(a CI variable of type Variable)' >&2; exit 1; }",
            # The daemon's Go TLS reads the system bundle (token servers such as auth.docker.io, git and https
            # ADD sources); certs.d is its per-registry setting.
            "cat /etc/docker/mobyci-ca.crt >> /etc/ssl/certs/ca-certificates.crt",
            f'for d in {dirs}; do mkdir -p "$d" && cp /etc/docker/mobyci-ca.crt "$d/ca.crt"; done',
            'exec dockerd-entrypoint.sh "$@"',
        ]
    )
