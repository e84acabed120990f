"""Mirror mappings applied to single URLs (the clone URL of moby itself), and the registry mirror's host."""

from __future__ import annotations


def rewrite_url(url: str, mapping: dict[str, str]) -> str:
    """`url` through a mirrors.git-style mapping: an exact key wins, then the longest prefix key ("…/")."""
    if url in mapping and not url.endswith("/"):
        return mapping[url]
    prefixes = sorted((k for k in mapping if k.endswith("/") and url.startswith(k)), key=len, reverse=True)
    if prefixes:
        return mapping[prefixes[0]] + url[len(prefixes[0]) :]
    return url


def registry_host(url: str) -> str:
    """host[:port] of a registry URL: what `docker login` and /etc/docker/certs.d/<host> name."""
    return url.split("://", 1)[-1].split("/", 1)[0]
