"""The values of a spec that may name a CI variable (`$NAME`), with their key paths: what a CI system checks when
it has rules for the names of the variables its pipeline reads (CISystem.findings)."""

from __future__ import annotations

from mobyci.specmodel.compiled import Spec

KeyPath = tuple[str | int, ...]


def variable_values(spec: Spec) -> list[tuple[KeyPath, str]]:
    """(key path, value) of every proxy, no_proxy entry, login and CA the pipeline may read from a CI variable, in
    a fixed order; a value that is no reference is listed too (var_ref_name tells them apart)."""
    mirrors = spec.mirrors
    values: list[tuple[KeyPath, str | None]] = [
        (("proxy", "http"), spec.proxy.http),
        (("proxy", "https"), spec.proxy.https),
    ]
    values += [(("proxy", "no_proxy", index), entry) for index, entry in enumerate(spec.proxy.no_proxy)]
    for key, login in (("git_auth", mirrors.git_auth), ("registry_auth", mirrors.registry_auth)):
        if login is not None:
            values += [(("mirrors", key, "username"), login.username), (("mirrors", key, "password"), login.password)]
    values += [(("tls", "ca_certs", index), entry) for index, entry in enumerate(spec.tls.ca_certs)]
    return [(at, value) for at, value in values if value is not None]
