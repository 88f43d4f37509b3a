"""Markers applied by rule rather than by hand (pytest.ini registers them; browser tests get
`browser` from tests/browser/conftest.py)."""

import pytest


def pytest_collection_modifyitems(config, items):
    """A test that runs a notebook in a Jupyter kernel (the `kernel` fixture) takes seconds of its
    own, so it is `slow`: `-m "not browser and not slow"` is the fast layer to run while editing."""
    for item in items:
        if "kernel" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
