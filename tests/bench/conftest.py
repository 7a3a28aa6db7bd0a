"""Fixtures of the bench's tests."""

import pytest

from gaslatch import translation


@pytest.fixture
def chinese():
    """The process reads Chinese for one test (as with --lang zh), then English again (tests/conftest.py)."""
    translation.use(translation.CHINESE)
    try:
        yield
    finally:
        translation.use(translation.ENGLISH)
