"""safe_text: whatever text enters an event comes out valid Unicode without controls, bounded, the
original readable in escapes; safe text is left alone."""

from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E

# Any code point, lone surrogates and NUL included, in texts up to well beyond the bound.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=3000) | st.text(st.sampled_from("\x00\n\x1b\x7f\x85\ud800\udfff\u202e\u2028\ufeff\uffff\U0001fffe\\a\u00e9"), max_size=50)


def is_safe(text):
    return all(not E.is_unsafe_code_point(ord(ch)) for ch in text) and len(text) <= E.MAX_TEXT_CHARS


@given(ANY_TEXT)
def test_any_text_comes_out_safe_utf8_bounded_and_stable(text):
    out = E.safe_text(text)
    assert is_safe(out)
    out.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in out
    assert E.safe_text(out) == out


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Cn", "Co")), max_size=200))
def test_printable_text_within_the_bound_is_unchanged(text):
    assert E.safe_text(text) == text


def test_unsafe_characters_are_shown_escaped_and_long_text_says_how_much_was_cut():
    assert E.safe_text("a\x00b\nc\ud800\u202e\U0001fffe") == "a\\x00b\\x0ac\\ud800\\u202e\\U0001fffe"
    cut = E.safe_text("x" * 5000)
    assert len(cut) <= E.MAX_TEXT_CHARS and cut.endswith("...(+%d chars)" % (5000 - cut.index(".")))
    assert E.safe_text(None) == "None" and E.safe_text(b"\x00") == "b'\\x00'"


@given(st.integers(), ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_every_emitted_record_carries_only_safe_text_and_encodes(t_ms, source, state, reason):
    log = E.EventLog()
    record = log.emit(t_ms, E.COMMAND, E.SEVERITY_WARNING, source, state, reason, reason)
    for key in ("type", "severity", "source", "state", "value", "reason"):
        assert is_safe(record[key])
    E.encode(record).encode("ascii")
