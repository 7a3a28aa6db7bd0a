"""Whom the platform tells (联系人): sites and their districts, the sites' owners (店主), the districts' street safety
officers (街道安全员), the duty centre (值班中心) and the administrators, each person's channels as Apprise URLs.

The file holds secrets (mail passwords, robot and gateway tokens in the URLs), so it is read only when no one but
its owner may read it (private_file); checked against SCHEMA (docs/schemas/platform-contacts.schema.json).
"""

from __future__ import annotations

from typing import NamedTuple

from gaslatch.told import Told
from gaslatch.translation import N_
from gaslatch.unit.private_file import PrivateFileError, read_private
from gaslatch_tools import data_file

_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
_IDS = {"type": "array", "uniqueItems": True, "items": _ID}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gaslatch platform contacts",
    "description": "Who is told of warnings, and through which channels (Apprise URLs). Keep the real file "
                   "readable by the platform's user only (chmod 600). docs/platform.md#notifications.",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "people", "sites", "districts", "duty_centre", "administrators"],
    "properties": {
        "version": {"const": 1},
        "people": {
            "type": "object", "propertyNames": _ID,
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["name", "channels"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "channels": {"type": "object", "minProperties": 1, "propertyNames": _ID,
                                 "additionalProperties": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*://",
                                                          "description": "An Apprise URL (mailtos://, json://...)."}},
                }}},
        "districts": {
            "type": "object", "propertyNames": _ID,
            "additionalProperties": {"type": "object", "additionalProperties": False, "required": ["officers"],
                                     "properties": {"name": {"type": "string"}, "officers": _IDS}}},
        "sites": {
            "type": "object", "propertyNames": {"type": "string", "minLength": 1, "maxLength": 64},
            "additionalProperties": {"type": "object", "additionalProperties": False,
                                     "required": ["district", "owners"],
                                     "properties": {"name": {"type": "string"}, "district": _ID, "owners": _IDS}}},
        "duty_centre": {**_IDS, "minItems": 1},
        "administrators": {**_IDS, "minItems": 1},
    },
}


class ContactsError(Told, ValueError):
    """A contacts file that cannot be used: the file, and the path in it of each problem (str() the English,
    told() the reader's language)."""


class Recipient(NamedTuple):
    """One channel of one person: a notice goes to each."""

    person: str
    channel: str


class Contacts:
    """The checked contacts: recipients() per site and roles, url() per recipient (at send time)."""

    def __init__(self, doc: dict, source: str = "contacts"):
        self.source = source
        self._doc = doc

    @property
    def doc(self) -> dict:
        """The checked document (read only by convention): access.py reads roles and scopes from it."""
        return self._doc

    def people_for(self, site: str, role: str) -> list[str]:
        """The people of a role for a site. A site the file does not list has its owner and officer told through
        the duty centre, so no warning goes unheard."""
        doc = self._doc
        entry = doc["sites"].get(site)
        if role == "owner":
            return list(entry["owners"]) if entry else list(doc["duty_centre"])
        if role == "officer":
            return list(doc["districts"][entry["district"]]["officers"]) if entry else list(doc["duty_centre"])
        if role == "duty_centre":
            return list(doc["duty_centre"])
        return list(doc["administrators"])

    def recipients(self, site: str, roles: tuple[str, ...]) -> list[Recipient]:
        """Every channel of every person of these roles for the site, each once, in a stable order."""
        out: list[Recipient] = []
        for role in roles:
            for person in self.people_for(site, role):
                for channel in sorted(self._doc["people"][person]["channels"]):
                    r = Recipient(person, channel)
                    if r not in out:
                        out.append(r)
        return out

    def url(self, recipient: Recipient) -> str | None:
        """The Apprise URL of a recipient, None when the file no longer has that person or channel."""
        person = self._doc["people"].get(recipient.person)
        return None if person is None else person["channels"].get(recipient.channel)

    def name(self, person: str) -> str:
        entry = self._doc["people"].get(person)
        return entry["name"] if entry else person


def build(doc: object, source: str = "contacts") -> Contacts:
    """Contacts from a parsed document; ContactsError naming source and the path of each problem."""
    problems = data_file.schema_problem_texts(SCHEMA, doc)
    if problems:
        raise ContactsError(data_file.FILE_PROBLEMS, source=source, problems=problems)
    people = doc["people"]
    for where, ids in ([("$.duty_centre", doc["duty_centre"]), ("$.administrators", doc["administrators"])]
                       + [("$.districts.%s.officers" % d, e["officers"]) for d, e in sorted(doc["districts"].items())]
                       + [("$.sites.%s.owners" % s, e["owners"]) for s, e in sorted(doc["sites"].items())]):
        unknown = [i for i in ids if i not in people]
        if unknown:
            raise ContactsError(N_("%(source)s: %(where)s: no one called %(names)s in $.people"), source=source,
                                where=where, names=", ".join(unknown))
    for site, entry in sorted(doc["sites"].items()):
        if entry["district"] not in doc["districts"]:
            raise ContactsError(N_("%(source)s: $.sites.%(site)s.district: no district %(district)s in $.districts"),
                                source=source, site=site, district=entry["district"])
    return Contacts(doc, source)


def load(path: str) -> Contacts:
    """The contacts file at path (YAML or JSON), refused when others may read it; ContactsError otherwise."""
    try:
        doc = data_file.parse(read_private(path, N_("contacts file")), json_only=path.endswith(".json"))
    except PrivateFileError as err:
        raise ContactsError(err.message, **err.values) from None
    except data_file.PARSE_ERRORS as err:
        raise ContactsError(N_("%(path)s: cannot read the contacts: %(error)s"), path=path, error=err) from None
    return build(doc, path)

