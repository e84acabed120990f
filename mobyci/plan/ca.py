"""The corporate CA of `tls.ca_certs`, as shell the jobs run: assembled at run time from CI variables and
repository files, never written into a generated file.

A CI variable's value is read either way, so that one spec works on every CI system: a path to a file (a GitLab
file variable, a Buildkite agent environment path) or the PEM text itself (a GitHub secret, a GitLab variable
of type "Variable").
"""

from __future__ import annotations

import posixpath
import shlex

from mobyci.patch.rules import CA_FILE_ENV
from mobyci.specmodel.compiled import Spec
from mobyci.specmodel.fields import var_ref_name

CA_FILE = ".mobyci-ca.crt"  # the CA certificates alone, in the job's work tree
# The system's roots plus the CA: git's http.sslCAInfo and pip's cert replace the default roots, so hosts
# reached without the inspecting proxy (no_proxy) keep working.
TRUST_FILE = ".mobyci-trust.pem"
_SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")
# Registries whose certs.d directory the dind service fills: Docker Hub under the names the daemon uses.
HUB_HOSTS = ("docker.io", "registry-1.docker.io", "index.docker.io")

# Prints the PEM text of one tls.ca_certs value: $1 the value, $2 where it came from (for the message).
READ_FUNCTION = (
    'mobyci_ca() { if [ -f "$1" ]; then cat -- "$1"; else case $1 in *\'-----BEGIN CERTIFICATE-----\'*) '
    "printf '%s\\n' \"$1\" | sed '/^$/d' ;; "
    "*) printf 'mobyci: %s is neither a readable file nor PEM text\\n' \"$2\" >&2; return 1 ;; esac; fi; }"
)
_NO_KEY = (
    "! grep -q 'PRIVATE KEY-----' {file} || {{ printf 'mobyci: tls.ca_certs holds a private key, not a "
    "certificate\\n' >&2; exit 1; }}"
)


def ca_variables(spec: Spec) -> tuple[str, ...]:
    """The CI variables tls.ca_certs names, in order."""
    names = (var_ref_name(entry) for entry in spec.tls.ca_certs)
    return tuple(dict.fromkeys(name for name in names if name is not None))


def spec_dir(path: str) -> str:
    """The directory of the spec as generated files name it (relative to the repository root; commands.py names it
    so), '' for a spec at the root, read from stdin, or named by an absolute path (`mobyci plan /abs/spec`)."""
    if path.startswith("/") or path.startswith("<"):
        return ""
    return posixpath.dirname(path)


def repo_files(spec: Spec, spec_dir: str = "") -> tuple[str, ...]:
    """The tls.ca_certs entries that are files, as jobs read them: relative to the repository root, where jobs run.
    `spec_dir`: the spec's directory relative to that root (the spec names its files relative to itself)."""
    return tuple(
        posixpath.normpath(posixpath.join(spec_dir, entry))
        for entry in spec.tls.ca_certs
        if var_ref_name(entry) is None
    )


def _reads(spec: Spec, spec_dir: str) -> str:
    parts = []
    files = iter(repo_files(spec, spec_dir))
    for entry in spec.tls.ca_certs:
        name = var_ref_name(entry)
        if name is None:
            path = next(files)
            parts.append(f"mobyci_ca {shlex.quote(path)} {shlex.quote(path)}")
        else:
            unset = f"set {name} (tls.ca_certs) for this job"
            parts.append(f'mobyci_ca "${{{name}:?{unset}}}" {name}')
    return " && ".join(parts)


def job_lines(spec: Spec, spec_dir: str = "") -> tuple[str, ...]:
    """Lines that write CA_FILE and TRUST_FILE and point git, pip and the patch script at them. `spec_dir`: as for
    repo_files."""
    if not spec.tls.ca_certs:
        return ()
    bundles = " ".join(_SYSTEM_BUNDLES)
    return (
        READ_FUNCTION,
        f"{{ {_reads(spec, spec_dir)}; }} > {CA_FILE}",
        _NO_KEY.format(file=CA_FILE),
        f'for f in {bundles}; do if [ -f "$f" ]; then cat "$f"; break; fi; done > {TRUST_FILE}',
        f"cat {CA_FILE} >> {TRUST_FILE}",
        # GIT_SSL_CAINFO is http.sslCAInfo for this job only; a shell runner's global git config is left alone.
        f'export {CA_FILE_ENV}="$PWD/{CA_FILE}" GIT_SSL_CAINFO="$PWD/{TRUST_FILE}" PIP_CERT="$PWD/{TRUST_FILE}"',
    )
