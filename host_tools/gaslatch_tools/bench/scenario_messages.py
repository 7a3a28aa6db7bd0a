"""Babel's extractor for the shipped bench scenarios: each scenario's summary is a message of the catalogue.

A scenario's YAML keeps its summary in English, as data; babel.cfg maps the library's files here, so `gaslatch bench
list` and a run's report show every shipped summary in the reader's language (bench/words.py scenario_text).
"""

from __future__ import annotations

from typing import IO, Any, Iterator

from gaslatch_tools import data_file


def extract_summaries(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                      options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    """(line, funcname, message, comments) for the summary of the scenario file, as Babel's extractors yield."""
    text = fileobj.read().decode("utf-8")
    doc = data_file.parse(text)
    summary = doc.get("summary") if isinstance(doc, dict) else None
    if isinstance(summary, str) and summary:
        line = next((number for number, row in enumerate(text.splitlines(), 1) if row.startswith("summary:")), 1)
        yield line, None, summary, ["TRANSLATORS: a bench scenario's summary, shown by gaslatch bench list "
                                    "and in its report"]
