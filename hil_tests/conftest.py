"""The HIL scenarios share the rule of the other tests: a skipped scenario fails the run."""

from tests.conftest import pytest_sessionfinish  # noqa: F401  (pytest calls it by name)
