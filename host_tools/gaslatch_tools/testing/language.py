"""The process's language for part of a test: `with reading("zh"): ...` reads Chinese inside, English again after
(the tests' language: tests/conftest.py). The `chinese` fixture (fixtures.py) does it for a whole test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gaslatch import translation


@contextmanager
def reading(language: str) -> Iterator[str]:
    translation.use(language)
    try:
        yield language
    finally:
        translation.use(translation.ENGLISH)
