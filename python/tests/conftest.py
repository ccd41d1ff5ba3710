"""Shared fixtures: the repository's test vectors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "testdata" / "vectors"
INPUTS = VECTORS / "inputs"


def read(name: str) -> bytes:
    return (INPUTS / name).read_bytes()


@pytest.fixture
def photo() -> bytes:
    return read("photo_640x480.jpg")


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    return json.loads((VECTORS / "vectors.json").read_text())["cases"]
