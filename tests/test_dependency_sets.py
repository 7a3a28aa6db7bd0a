"""Each extra in pyproject.toml installs everything its commands import, and the base install is the unit.

Read from the source, not from a hand-kept list: every import of every module (lazy ones inside
functions too) is followed from each entry point, until the entry point of another extra; every
third-party module reached must come from the extra's requirements (with the base install and
their own dependencies). A new module no entry point reaches, or an import no extra provides, fails here.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from gaslatch.unit.cli import COMMANDS as UNIT_COMMANDS
from gaslatch_tools.host_cli import HOST_GROUPS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = {"gaslatch": ROOT / "firmware" / "gaslatch", "gaslatch_tools": ROOT / "host_tools" / "gaslatch_tools"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
BASE = ""  # the base install, as an extra name

# Entry points beside the console scripts and the host's command groups: the modules one runs with
# `python -m`, and the unit's GPIO backends, each chosen by the config and installed by its own extra.
OTHER_ENTRY_POINTS = {
    "gaslatch.unit.__main__": BASE,
    "gaslatch.unit.gpio_gpiod": "pi",
    "gaslatch.unit.gpio_rpi": "rpi-gpio",
    "gaslatch_tools.platform.storage_pg": "postgres",  # `gaslatch platform --db postgresql://...`
    # Developer tools: scripts/test.sh regenerates and checks the docs with them; tests and benchmarks use the rest.
    "gaslatch_tools.schema_export": "test",
    "gaslatch_tools.safety_diagram": "test",
    "gaslatch_tools.wiring_diagram": "test",
    "gaslatch_tools.docs_screens": "test",
    "gaslatch_tools.micropython_runner": "test",
    "gaslatch_tools.catalogues": "test",
    "gaslatch_tools.bench.scenario_messages": "test",  # Babel extracts the scenarios' summaries with it (babel.cfg)
    "gaslatch_tools.testing.postgres": "test",
    "gaslatch_tools.testing.fixtures": "test",
    "gaslatch_tools.testing.pki": "test",
    "gaslatch_tools.testing.detector_bus": "test",
    "gaslatch_tools.testing.running_unit": "test",
    "gaslatch_tools.testing.console_server": "test",
    "gaslatch_tools.testing.browser": "test",
    "gaslatch_tools.testing.panel_process": "test",
    "gaslatch_tools.testing.platform_process": "test",
    "gaslatch_tools.testing.terminal": "test",
}
# Import names whose distribution cannot be installed on this machine to be looked up (it is not an x86 package).
NOT_INSTALLABLE_HERE = {"RPi": "RPi.GPIO"}
# Standard-library modules of another Python than this one, imported only where it exists (core/sha256.py: the
# built-in SHA-256 is _sha256 on CPython 3.11 and _sha2 from 3.12).
OTHER_PYTHONS_STDLIB = {"_sha2"}
# Libraries a module uses where they are installed and does without elsewhere: gaslatch.translation compiles a
# catalogue's .po with Babel when the .mo beside it is stale, and reads the .mo as shipped on the unit, which has no
# Babel (its ModuleNotFoundError is caught: tests/test_catalogues.py). The unit's commands and the panel use it.
OPTIONAL_IMPORTS = {"gaslatch.translation": {"babel"}}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalise(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def extra_requirements(extra: str) -> set[str]:
    """Distributions an extra names (gaslatch[other] resolved), plus the base install's."""
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"]) + (list(project["optional-dependencies"][extra]) if extra else [])
    names: set[str] = set()
    for requirement in wanted:
        own = re.fullmatch(r"gaslatch\[([^\]]+)\]", requirement.strip())
        if own:
            for other in own.group(1).split(","):
                names |= extra_requirements(other.strip())
        else:
            names.add(_requirement_name(requirement))
    return names


def installed_with(names: set[str]) -> set[str]:
    """The distributions and everything they require (their own extras aside), as installed in this venv."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installable here (RPi.GPIO): it provides what its own name says
        todo += [_requirement_name(r) for r in requires if not re.search(r"\bextra\s*==", r)]
    return found


def _distribution_of(import_name: str) -> str:
    if import_name in NOT_INSTALLABLE_HERE:
        return _normalise(NOT_INSTALLABLE_HERE[import_name])
    candidates = metadata.packages_distributions().get(import_name)
    assert candidates, ("no installed distribution provides `import %s`: declare it in the extra that needs it "
                        "(or in NOT_INSTALLABLE_HERE when it cannot be installed on this machine)" % import_name)
    return _normalise(candidates[0])


def our_modules() -> dict[str, Path]:
    """Every module of both packages by dotted name."""
    modules = {}
    for package, folder in PACKAGE_ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = [package] + list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = our_modules()


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(our modules, third-party top-level names) that module `name` imports anywhere in its body."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours: set[str] = set()
    third_party: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + ["%s.%s" % (base, alias.name) for alias in node.names]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            if top in PACKAGE_ROOTS:
                ours |= {prefix for prefix in _prefixes(target) if prefix in MODULES}
            elif top not in sys.stdlib_module_names and top not in OTHER_PYTHONS_STDLIB and top != "__future__" \
                    and top not in OPTIONAL_IMPORTS.get(name, ()):
                third_party.add(top)
    return ours, third_party


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def entry_points() -> dict[str, str]:
    """Module -> the extra that must make it importable: console scripts, host groups, the rest above."""
    points = dict(OTHER_ENTRY_POINTS)
    scripts = PYPROJECT["project"]["scripts"]
    points[scripts["gaslatch-unit"].split(":")[0]] = BASE
    for command in UNIT_COMMANDS:  # each handler is imported by name when its command runs
        points[command.handler.split(":")[0]] = command.extra or BASE
    points[scripts["gaslatch"].split(":")[0]] = BASE  # the front door: the unit's commands on the base install
    points["gaslatch_tools.host_cli"] = "host"
    for group in HOST_GROUPS.values():
        points[group.module] = group.extra
    return points


ENTRY_POINTS = entry_points()


def reach(start: str) -> tuple[set[str], set[str]]:
    """(our modules, third-party names) imported from `start`, stopping at other entry points."""
    seen = {start}
    third_party: set[str] = set()
    todo = [start]
    while todo:
        ours, outside = imports_of(todo.pop())
        third_party |= outside
        for module in ours - seen:
            seen.add(module)
            if module not in ENTRY_POINTS:
                todo.append(module)
    return seen, third_party


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS), ids=lambda m: "%s[%s]" % (m, ENTRY_POINTS[m] or "base"))
def test_every_library_an_entry_point_imports_is_installed_by_its_extra(module):
    extra = ENTRY_POINTS[module]
    _, third_party = reach(module)
    available = installed_with(extra_requirements(extra))
    missing = sorted("%s (%s)" % (name, _distribution_of(name)) for name in third_party
                     if _distribution_of(name) not in available)
    assert missing == [], "%s imports %s, which pip install 'gaslatch%s' does not install" % (
        module, ", ".join(missing), "[%s]" % extra if extra else "")


def test_every_module_is_reached_from_an_entry_point():
    reached = set()
    for module in ENTRY_POINTS:
        reached |= reach(module)[0]
    orphans = sorted(set(MODULES) - reached - {"gaslatch", "gaslatch_tools"})
    assert orphans == [], ("no entry point reaches %s: add it to OTHER_ENTRY_POINTS with the extra that installs "
                           "what it imports" % ", ".join(orphans))


def test_the_unit_never_imports_the_host_tools():
    offenders = sorted(name for name in MODULES if name.startswith("gaslatch.") or name == "gaslatch"
                       if any(module.startswith("gaslatch_tools") for module in imports_of(name)[0]))
    assert offenders == []


def test_the_base_install_is_the_unit_and_holds_no_host_library():
    base = installed_with(extra_requirements(BASE))
    assert {"pyserial", "paho-mqtt"} <= base
    assert base.isdisjoint({"click", "rich", "babel", "reportlab", "matplotlib", "jsonschema", "pyyaml", "psycopg",
                            "pymodbus", "minimalmodbus", "gpiod", "rpi-gpio"})


def test_the_demo_and_the_tests_install_what_the_readme_commands_need():
    demo = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    tests = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "-e '.[bench]'" in demo and "gaslatch demo" in demo
    assert "-e '.[test]'" in tests
    assert HOST_GROUPS["bench"].extra == "bench"
