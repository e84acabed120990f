"""Starter specs for `mobyci init`."""

from __future__ import annotations

from importlib import resources

from mobyci import HOMEPAGE, __version__
from mobyci.committed.site import SCHEMA_NAME


def starter_spec(preset: str) -> str:
    """The spec; its first line points editors at the schema file `mobyci init` writes beside it: a relative
    path, which yaml-language-server resolves from the spec's own directory (its README, "Using inlined schema":
    `$schema=<urlToTheSchema|relativeFilePath|absoluteFilePath>`, relative to the open file), so it works offline."""
    text = resources.files("mobyci.templates").joinpath("init", f"{preset}.yaml").read_text("utf-8")
    return text.replace("{schema_file}", SCHEMA_NAME).replace("{homepage}", HOMEPAGE).replace("{version}", __version__)
