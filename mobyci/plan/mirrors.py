"""Mirror mappings applied to single URLs (the clone URL of moby itself)."""

from __future__ import annotations


def rewrite_url(url: str, mapping: dict[str, str]) -> str:
    """`url` through a mirrors.git-style mapping: an exact key wins, then the longest prefix key ("…/")."""
    if url in mapping and not url.endswith("/"):
        return mapping[url]
    prefixes = sorted((k for k in mapping if k.endswith("/") and url.startswith(k)), key=len, reverse=True)
    if prefixes:
        return mapping[prefixes[0]] + url[len(prefixes[0]) :]
    return url
