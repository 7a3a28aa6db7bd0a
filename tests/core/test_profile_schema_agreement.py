"""The core's profile checker agrees with the reference jsonschema implementation on profile_schema.SCHEMA, says
the same on MicroPython, and docs/profile.schema.json (what an editor checks a vendor's new profile with) is current.
"""

import json
from pathlib import Path

import jsonschema
from hypothesis import assume, given
from hypothesis import strategies as st

from gaslatch.core import profile_check
from gaslatch.core.profile_schema import SCHEMA
from gaslatch_tools import schema_export
from gaslatch_tools.micropython_runner import run_micropython
from tests.core.test_config_schema_agreement import collect
from tests.core.test_detector_profile import JSON_VALUES, SHIPPED, mutated_profiles, shipped_document

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "docs" / "profile.schema.json"
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)


def texts_in(value):
    """Every key and string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in texts_in(item)]
    if isinstance(value, dict):
        return list(value) + [text for item in value.values() for text in texts_in(item)]
    return []


def comparable(document):
    """Python's re lets `$` match before a trailing newline, ECMA-262 (and the core) do not: leave such text out."""
    return not any(text.endswith("\n") for text in texts_in(document))


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_shipped_profile_passes_both_validators():
    for name in SHIPPED:
        document = shipped_document(name)
        assert list(REFERENCE.iter_errors(document)) == [], name
        assert profile_check.schema_problems(document) == [], name


@given(mutated_profiles())
def test_core_and_reference_agree_on_damaged_profiles(document):
    assume(comparable(document))
    core = profile_check.schema_problems(document)
    assert (core == []) == REFERENCE.is_valid(document), (core, [e.message for e in REFERENCE.iter_errors(document)])


@given(st.sampled_from(SHIPPED).map(shipped_document) | JSON_VALUES)
def test_core_and_reference_agree_on_arbitrary_json(document):
    assume(comparable(document))
    assert (profile_check.schema_problems(document) == []) == REFERENCE.is_valid(document)


MICROPYTHON_SCRIPT = """
import json
from gaslatch.core.profile_check import ProfileError, check_document
with open('/docs.jsonl') as lines:
    for line in lines:
        try:
            check_document(json.loads(line), 'candidate.json')
            print(json.dumps([]))
        except ProfileError as error:
            print(json.dumps([[p.path, p.message, p.hint] for p in error.problems]))
"""


def cpython_problems(document):
    try:
        profile_check.check_document(document, "candidate.json")
    except profile_check.ProfileError as error:
        return [[p.path, p.message, p.hint] for p in error.problems]
    return []


def test_micropython_gives_the_same_problems_as_cpython():
    documents = [shipped_document(name) for name in SHIPPED] + collect(mutated_profiles())
    # Raw UTF-8: MicroPython's json does not join escaped surrogate pairs into one character.
    lines = "".join(json.dumps(document, ensure_ascii=False) + "\n" for document in documents)
    out = run_micropython(MICROPYTHON_SCRIPT, extra_files={"/docs.jsonl": lines}, heapsize=8 * 1024 * 1024)
    results = out.split("\n")[:-1]
    assert len(results) == len(documents)
    for document, result in zip(documents, results):
        assert json.loads(result) == cpython_problems(document), json.dumps(document)


def test_published_schema_file_is_current():
    assert PUBLISHED.read_text(encoding="utf-8") == json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"
    assert schema_export.main(["--check", "--schema", "profile"]) == 0


def test_schema_export_check_fails_on_a_stale_profile_schema_and_writing_fixes_it(tmp_path):
    target = tmp_path / "profile.schema.json"
    target.write_text("{}\n", encoding="utf-8")
    assert schema_export.main(["--check", "--schema", "profile", "--output", str(target)]) == 1
    assert schema_export.main(["--schema", "profile", "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == SCHEMA
