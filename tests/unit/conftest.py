"""Fixtures shared by the unit runtime's tests."""

import shutil
import tempfile

import pytest


@pytest.fixture
def short_dir():
    """A short directory under /tmp: a UNIX socket path (sun_path) holds 107 bytes, pytest's tmp_path can be longer."""
    directory = tempfile.mkdtemp(prefix="gl-", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
