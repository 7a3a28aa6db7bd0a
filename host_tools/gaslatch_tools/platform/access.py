"""Who may see and do what on the platform: a person's role and the sites in their scope.

Both come from the contacts file (contacts.py), the one record of who answers for which site: an owner (店主)
sees the sites that name them as owner; a street safety officer (街道安全员) the sites of their districts (and any
they own); the duty centre (值班中心) and the administrators (管理员) the whole fleet. Every query the console or
the CLI runs for a person passes their Actor, and a site outside the scope is answered as if it did not exist, so
an owner cannot learn that another site exists by changing an id.
"""

from __future__ import annotations

from typing import NamedTuple

from gaslatch.translation import N_
from gaslatch_tools.platform.contacts import Contacts

OWNER, OFFICER, OPERATOR, ADMIN = "owner", "officer", "operator", "admin"
ROLES = (OWNER, OFFICER, OPERATOR, ADMIN)  # lowest to highest
# Each role's name (translated where it is shown: words.html() in the console, words.pair() in the CLI).
ROLE_NAMES = {OWNER: N_("owner"), OFFICER: N_("street safety officer"), OPERATOR: N_("duty operator"),
              ADMIN: N_("administrator")}


class Actor(NamedTuple):
    """A person acting: their contacts id, role, and sites (None: the whole fleet)."""

    user: str
    role: str
    sites: frozenset[str] | None

    def sees(self, site: str | None) -> bool:
        return self.sites is None or (site is not None and site in self.sites)

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def actor_for(contacts: Contacts, user: str) -> Actor | None:
    """The Actor of a contacts person, None for someone the contacts file does not give a role."""
    doc = contacts.doc
    if user not in doc["people"]:
        return None
    if user in doc["administrators"]:
        return Actor(user, ADMIN, None)
    if user in doc["duty_centre"]:
        return Actor(user, OPERATOR, None)
    owned = {site for site, entry in doc["sites"].items() if user in entry["owners"]}
    districts = {d for d, entry in doc["districts"].items() if user in entry["officers"]}
    if districts:
        covered = {site for site, entry in doc["sites"].items() if entry["district"] in districts}
        return Actor(user, OFFICER, frozenset(owned | covered))
    if owned:
        return Actor(user, OWNER, frozenset(owned))
    return None


def sql_scope(actor: Actor, column: str = "site") -> tuple[str, tuple]:
    """A WHERE fragment (and its parameters) keeping only the actor's sites: "1=1" for the whole fleet."""
    if actor.sites is None:
        return "1=1", ()
    if not actor.sites:
        return "1=0", ()
    return "%s IN (%s)" % (column, ", ".join("?" * len(actor.sites))), tuple(sorted(actor.sites))
