from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.helpers import BASE_SPEC

# CI must not fail on an example no run before it tried: there the fuzz tests replay a fixed sequence.
# Run locally, they explore new examples every time (and keep failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Distro lifecycles are judged on the day mobyci runs: tests (and the CLIs they start) pin it, so that a test
# passes or fails the same way next year. Tests about other days set it themselves.
os.environ.setdefault("MOBYCI_TODAY", "2026-12-01")


@pytest.fixture
def base_spec() -> str:
    return BASE_SPEC
