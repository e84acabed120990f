"""The fetch inventory as a record (Inventory: one Entry per endpoint, with its route) and as `mobyci plan
--fetches` shows it: JSON for scripts, text for people. How each entry gets its route: fetches.py."""

from __future__ import annotations

from typing import NamedTuple

from mobyci.families.versions import tag_version

# The routes an endpoint can take, in the order the text lists them (fetches.py says what each means).
ROUTES = ("mirror", "internal", "proxy", "runner", "skipped", "direct")


class Entry(NamedTuple):
    kind: str
    endpoint: str
    source: str  # file:line in the tree, or the job of the pipeline's own fetch
    route: str  # one of ROUTES
    via: str  # the mirror URL, the proxy key, or why it goes direct
    tls: bool = False  # the connection its client opens (to the mirror, when one serves it) is TLS
    ca: str = ""  # with tls.ca_certs, whether that client trusts the CA: one of fetchtls.TRUSTS
    ca_where: str = ""  # that client, and where it reads the CA
    built: bool = True  # False: only stages the spec's targets never build fetch it


class Inventory(NamedTuple):
    ref: str
    system: str
    tree: str  # the stored release whose list this is, or the directory scanned
    exact: bool  # the list is the ref's own (a stored tag, or a real tree)
    caveat: str
    entries: tuple[Entry, ...]
    ca: bool = False  # the spec has tls.ca_certs: every TLS entry says whether its client trusts the CA

    @property
    def direct(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.route == "direct" and e.built)

    @property
    def borrowed(self) -> str:
        """Why `--strict` cannot judge this list ("" when it can): a release tag with no stored scan of its own.
        Another tag's tree is not its tree (v20.10.8 has a rootlesskit.installer with its own GOPROXY, v20.10.27
        does not). A branch or a commit has no stored scan by nature: its family's newest list stands in for it,
        as the caveat says, and strict judges that."""
        if self.exact or tag_version(self.ref) is None:
            return ""
        return (
            f"{self.ref} has no stored scan; the list is {self.tree}'s, not its own tree: run "
            f"`mobyci patch --check DIR` on a checkout of {self.ref}, or add it to the stored scans "
            f"(MOBYCI_MOBY_GIT=… python -m mobyci.families.fetchscan {self.ref})"
        )

    @property
    def untrusted(self) -> tuple[Entry, ...]:
        """TLS fetches whose client does not trust the CA of tls.ca_certs (none without it)."""
        return tuple(e for e in self.entries if e.ca == "no" and e.built)


def inventory_data(inventory: Inventory) -> dict[str, object]:
    return {
        "schema_version": 1,
        "ref": inventory.ref,
        "system": inventory.system,
        "tree": inventory.tree,
        "exact": inventory.exact,
        "caveat": inventory.caveat,
        "fetches": [entry._asdict() for entry in inventory.entries],
        "direct": len(inventory.direct),
        "not_built": sum(not entry.built for entry in inventory.entries),
        "tls": sum(entry.tls for entry in inventory.entries),
        "ca_certs": inventory.ca,
        "ca_untrusted": len(inventory.untrusted),
    }


def _tls_mark(entry: Entry) -> str:
    if not entry.tls:
        return ""
    if not entry.ca:
        return " [TLS]"
    return f" [TLS; CA {'NOT trusted' if entry.ca == 'no' else 'trusted'} by {entry.ca_where}]"


def _short(endpoint: str) -> str:
    """A digest shortened to 12 hex digits for people (JSON keeps it whole): an image line then fits 80 columns."""
    import re

    return re.sub(r"@sha256:([0-9a-f]{12})[0-9a-f]{52}", r"@sha256:\1…", endpoint)


def inventory_text(inventory: Inventory, width: int = 80) -> str:
    from mobyci.report.view import layout

    tls = sum(e.tls for e in inventory.entries)
    untrusted = f", {len(inventory.untrusted)} whose client does not trust the CA" if inventory.ca else ""
    title = (
        f"Fetches of {inventory.ref} (list of {inventory.tree}; {len(inventory.entries)} endpoints, {tls} over TLS"
        f"{untrusted})"
    )
    lines = [title]
    if inventory.caveat:
        lines += layout([("note", inventory.caveat)], width)
    lines.append("")
    for route in ROUTES:
        rows = [
            (e.kind, f"{_short(e.endpoint)} ({e.source}): {e.via}{_tls_mark(e)}")
            for e in inventory.entries
            if e.route == route and e.built
        ]
        if rows:
            lines.append(f"{route} ({len(rows)})")
            lines += layout(rows, width)
            lines.append("")
    unbuilt = [
        (e.kind, f"{_short(e.endpoint)} ({e.source}): {e.route}, {e.via}{_tls_mark(e)}")
        for e in inventory.entries
        if not e.built
    ]
    if unbuilt:
        lines.append(
            f"not built ({len(unbuilt)}): only stages the targets never build fetch these; --strict skips them"
        )
        lines += layout(unbuilt, width)
        lines.append("")
    return "\n".join(lines)
