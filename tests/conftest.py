import os
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def fake_registry(monkeypatch):
    """Make the CLI see exactly the given module classes (forked module processes inherit the patch)."""

    def install(*classes):
        mapping = {cls.name: cls for cls in classes}
        monkeypatch.setattr("burnin.registry.module_classes", lambda: dict(mapping))
        return mapping

    return install


def pytest_configure(config):
    # Forked module processes must not inherit pytest's capture of fds in a way that hides their death.
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
