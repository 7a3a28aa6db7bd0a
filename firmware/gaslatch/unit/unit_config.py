"""Loads a kitchen unit's configuration: the core's rules, the installed profiles and the wiring.

One entry point for `gaslatch run` and `gaslatch check-config`, so both refuse the same files
with the same messages.
"""

from gaslatch.core.config import ConfigError, Problem, load_config_file
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import Profile, ProfileError, list_profiles, load_profile
from gaslatch.core.text import N_
from gaslatch.unit.wiring import wiring_problems


def load_profiles(directory: str | None = None) -> dict[str, Profile]:
    """Every profile by name (default: the shipped ones); a broken profile file is a ConfigError listing each of
    its problems, the path naming the file."""
    profiles = {}
    for name in list_profiles(directory):
        try:
            profiles[name] = load_profile(name, directory)
        except ProfileError as err:
            raise ConfigError([Problem("profiles/%s %s" % (err.source, problem.path), problem.message_text,
                                       N_("%(hint)s (or reinstall gaslatch)", hint=problem.hint_text))
                               for problem in err.problems]) from None
    return profiles


def load_unit_config(path: str) -> tuple[dict, dict[str, Profile]]:
    """(normalised config, profiles it uses); raises ConfigError listing every problem."""
    profiles = load_profiles()
    kinds = {name: profile.kind for name, profile in profiles.items()}
    cfg = load_config_file(path, kinds)
    problems = wiring_problems(cfg)
    if problems:
        raise ConfigError(problems)
    used = {det["profile"] for det in cfg["detectors"].values()}
    chosen = {name: profiles[name] for name in sorted(used)}
    Controller(cfg, chosen, 0)  # the checks only the profiles allow (alarm budget with their wire time)
    return cfg, chosen

