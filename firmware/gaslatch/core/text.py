"""A sentence the core gives a person, kept as its English template and its values, so it can be read in another
language without the core knowing any (it runs on MicroPython and never imports gettext).

`N_("address %(address)d is also used by %(name)s", address=3, name='"hood"')` is a Text: str() of it is the
English sentence; render(gettext) looks the template up with `gettext` first, then fills the values in (a value
that is itself a Text is rendered the same way; any other value is shown as it is: names, numbers and JSON paths
are never translated). The name N_ is one Babel extracts by default: babel.cfg lists the core files that hold
templates (docs/translating.md). gaslatch/problem_text.py renders a list of problems in the reader's language.
"""


def _english(template):
    return template


class Text:
    """An English %-template with named placeholders and the values that fill them."""

    def __init__(self, template, args=None):
        self.template = template
        self.args = args

    def render(self, gettext=_english):
        """The sentence in the language `gettext` translates to (English by default): the template translated, then
        filled in."""
        template = gettext(self.template)
        if not self.args:
            return template
        values = {}
        for key in self.args:
            value = self.args[key]
            values[key] = value.render(gettext) if isinstance(value, Text) else value
        return template % values

    def __str__(self):
        return self.render()

    def __repr__(self):
        return "Text(%r, %r)" % (self.template, self.args)


class Joined(Text):
    """Texts (or plain values) joined by a translatable separator, e.g. " or " between type words."""

    def __init__(self, separator, parts):
        Text.__init__(self, separator, None)
        self.parts = parts

    def render(self, gettext=_english):
        separator = gettext(self.template)
        return separator.join([part.render(gettext) if isinstance(part, Text) else "%s" % part
                               for part in self.parts])


def N_(template, **args):
    """A Text of the English `template` (marked for Babel's extraction) filled with `args`."""
    return Text(template, args)


def english(text):
    """The English sentence of a Text, or a plain str as it is."""
    return text.render() if isinstance(text, Text) else text
