"""Errors a person reads (gaslatch/told.py) and codes' names (translation.named) never fail on what they are given:
any text, nested errors, lists, numbers beyond a float, codes a table lacks or cannot hash."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gaslatch.told import Told, halves, told
from gaslatch.translation import CHINESE, N_, in_language, named

ZH = in_language(CHINESE).gettext
TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=200) | st.sampled_from(
    ["%", "%(x)s", "{x}", "\x00", "\ud800", "\u202e", "x" * 100_000])
VALUE = st.recursive(TEXT | st.integers(min_value=-10 ** 400, max_value=10 ** 400) | st.none(),
                     lambda inner: st.lists(inner, max_size=4) | inner.map(lambda v: Told(N_("order %(order)s"),
                                                                                          order=v)),
                     max_leaves=12)
STATE = N_("acknowledged")  # a message the catalogue translates


@settings(max_examples=300, deadline=None)
@given(TEXT, VALUE)
def test_an_error_with_any_value_is_said_in_english_and_in_chinese_without_failing(user, value):
    err = Told(N_("no warning %(warning)s among the sites of %(user)s (%(state)s)"), warning=value, user=user,
               state=Told(STATE))
    english = str(err)
    assert user in english and english.endswith("(acknowledged)")
    zh, en = err.both()
    assert en == english and user in zh and ZH(STATE) in zh
    assert err.told(ZH) == zh and err.told(str) == english and told(err) in (zh, english)
    assert told(ValueError(user)) == user


def test_a_translation_that_does_not_fit_its_values_gives_the_english():
    err = Told(N_("order %(order)s"), order=5)
    assert err.told(lambda message: "%(nope)s") == "order 5"
    assert err.told(lambda message: "%d") == "order 5"


@given(st.one_of(TEXT, st.integers(), st.none(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(TEXT, TEXT, max_size=2)))
def test_a_code_a_table_lacks_or_cannot_hash_is_shown_as_it_is(code):
    names = {"acknowledged": STATE}
    assume(code != "acknowledged")
    assert named(names, code) == "%s" % (code,)
    assert named(names, "acknowledged") in ("acknowledged", ZH(STATE))


def test_halves_say_a_told_value_in_each_language_and_keep_any_other_value_as_it_is():
    """How the console's both() and the panel's pair() fill one message twice: a Told value per language, any other
    value (a lone surrogate, NUL, a number) untouched in both."""
    zh, en = halves({"order": Told(N_("order %(order)d"), order=7), "note": "\ud800\x00%(x)s", "n": 3})
    assert zh == {"order": "工单 7", "note": "\ud800\x00%(x)s", "n": 3}
    assert en == {"order": "order 7", "note": "\ud800\x00%(x)s", "n": 3}
