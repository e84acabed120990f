"""Starter specs for `mobyci init`."""

from __future__ import annotations

from importlib import resources

from mobyci import HOMEPAGE, SCHEMA_URL, __version__


def starter_spec(preset: str) -> str:
    text = resources.files("mobyci.templates").joinpath("init", f"{preset}.yaml").read_text("utf-8")
    return text.replace("{schema_url}", SCHEMA_URL).replace("{homepage}", HOMEPAGE).replace("{version}", __version__)
