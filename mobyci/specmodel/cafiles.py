"""CA certificates committed to the user's repository (`tls.ca_certs` entries that are paths): PEM certificates
only. Checked when the spec is loaded, relative to the spec's directory, so `mobyci validate` refuses a DER file or
a private key before any pipeline copies it into a build."""

from __future__ import annotations

import binascii
import re
from pathlib import Path

from mobyci.specmodel.compiled import Spec
from mobyci.specmodel.fields import var_ref_name

Finding = tuple[tuple[str | int, ...], str]

_MAX_BYTES = 1 << 20  # a bundle of a few CAs is a few kB
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_DER_FIX = "convert it with `openssl x509 -inform der -in CA.cer -out CA.pem`"


def ca_file_problem(data: bytes) -> str | None:
    """What is wrong with `data` as a PEM file of CA certificates, with the fix; None when it is fine."""
    if b"PRIVATE KEY-----" in data:
        return (
            "holds a private key, not a certificate: keep only the CA's certificate (-----BEGIN CERTIFICATE-----), "
            "never commit a key, and replace a key that was pushed"
        )
    blocks = _BLOCK.findall(data)
    certs = [body for kind, body in blocks if kind == b"CERTIFICATE"]
    if not certs:
        if blocks:
            kind = blocks[0][0].decode()
            return f"holds a {kind}, not a CERTIFICATE: export the CA's certificate in PEM form"
        return f"is not a PEM certificate (no -----BEGIN CERTIFICATE----- block): {_DER_FIX}"
    for body in certs:
        try:
            binascii.a2b_base64(b"".join(body.split()))
        except binascii.Error:
            return "has a CERTIFICATE block that is not valid base64: export the CA's certificate again"
    return None


def ca_file_findings(spec: Spec, base: Path) -> list[Finding]:
    findings: list[Finding] = []
    for index, entry in enumerate(spec.tls.ca_certs):
        if var_ref_name(entry) is not None:
            continue  # read at run time; the pipeline checks it there
        at: tuple[str | int, ...] = ("tls", "ca_certs", index)
        path = base / entry
        try:
            with path.open("rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
        except FileNotFoundError:
            findings.append(
                (
                    at,
                    f"no such file '{entry}' next to the spec: commit the CA's PEM file there, or give it "
                    "through a CI variable ($CORP_CA_CERT)",
                )
            )
            continue
        except OSError as exc:
            findings.append((at, f"cannot read '{entry}': {exc.strerror or exc}"))
            continue
        if len(data) > _MAX_BYTES:
            findings.append((at, f"'{entry}' is larger than 1 MiB: name the CA's certificate file, not a bundle"))
            continue
        problem = ca_file_problem(data)
        if problem is not None:
            findings.append((at, f"'{entry}' {problem}"))
    return findings
