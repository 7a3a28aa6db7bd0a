"""Hostile configuration files: whatever `check-config` accepts, the unit starts on (sim backend); whatever it
refuses, it refuses with a JSON path and a non-zero exit, never a traceback (issue 13, section 3)."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gaslatch.core.config import MAX_CONFIG_DEPTH, ConfigError
from gaslatch.core.detector_profile import default_directory
from gaslatch.unit.runtime import Runtime, StartError
from gaslatch.unit.unit_config import load_profiles, load_unit_config
from gaslatch_tools.testing.kitchen_config import kitchen_config
from tests.unit.unit_command import run_unit_command
from tests.in_process_runtime import signal_handlers_kept

PROBLEM_LINE = re.compile(r"^  \$[.\[:]", re.MULTILINE)  # format_problems: "  $.store.path: ...", "  $: ..."

# The keys that name files, devices or the unit, where the issue found text crashing `run`.
PATH_KEYS = (("store", "path"), ("control", "socket"), ("gpio", "sim_dir"))
TEXT_KEYS = (("watchdog", "device"), ("buses", "bus1", "port"), ("unit", "name"), ("unit", "site"),
             ("detectors", "d1", "location"), ("control", "group"), ("uplink", "host"))
# What no file can promise: a watchdog device or a group that this machine has. `run` refuses a missing one
# with StartError naming it (exit 1), as on a unit.
MACHINE_KEYS = {("watchdog", "device"): "watchdog", ("control", "group"): "group"}

# Any character: NUL, controls, lone surrogates, bidi controls, every category, but no '/' (paths stay in the
# example's own directory).
any_char = st.characters(exclude_categories=(), exclude_characters="/")
hostile_text = st.one_of(
    st.text(any_char, min_size=1, max_size=30),
    st.sampled_from(["a\x00b", "\ud800", "\udfff", "x\ny", "\x1b[2J", "\u202e", "\ufeff", "é日本", ".", "..",
                     " ", "x" * 300]),
)
# A file name of the example's directory, not one that is taken (".", "..", another key's file): what a
# file system holds is for `run` to find, not for the config to know.
TAKEN = (".", "..", "events.db", "gpio", "c.sock", "config.json", "ttyNONE")
file_names = hostile_text.filter(lambda name: name not in TAKEN and not name.endswith((".lock", "-wal", "-shm")))
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                                     st.floats(allow_nan=False), hostile_text),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
                           max_leaves=6)


def base_config(directory):
    return kitchen_config(directory, [os.path.join(directory, "ttyNONE")], 1,
                          lines={"valve": {"pin": 17}, "reset_button": {"pin": 5}},
                          control_socket=os.path.join(directory, "c.sock"))


@st.composite
def mutations(draw):
    """[(kind, keys, value)]: hostile text at a key naming a file, device or the unit, any JSON at any key,
    deep nesting, unknown keys."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["path", "text", "value", "nest"]))
        if kind == "path":
            out.append((kind, draw(st.sampled_from(PATH_KEYS)), draw(file_names)))
        elif kind == "text":
            out.append((kind, draw(st.sampled_from(TEXT_KEYS)), draw(hostile_text)))
        elif kind == "value":
            keys = draw(st.sampled_from(PATH_KEYS + TEXT_KEYS + (("scan", "period_ms"), ("store", "max_events"),
                                                                 ("detectors", "d1", "address"), ("unit",),
                                                                 ("lines", "valve", "pin"), ("log", "level")))
                        | st.tuples(st.sampled_from(["unit", "store", "gpio"]), hostile_text))
            out.append((kind, keys, draw(json_values)))
        else:
            out.append((kind, draw(st.sampled_from(PATH_KEYS + TEXT_KEYS)),
                        draw(st.sampled_from([MAX_CONFIG_DEPTH - 4, MAX_CONFIG_DEPTH, 500, 990, 5000]))))
    return out


def mutated(directory, changes):
    doc = base_config(directory)
    for kind, keys, value in changes:
        target = doc
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if kind == "path":
            value = os.path.join(directory, value)
        elif kind == "nest":
            value = NEST % value
        target[keys[-1]] = value
    return doc


NEST = "@nest %d@"  # written out by config_text() as that many nested lists (json.dumps would recurse)


def config_text(doc):
    """The file's text; ensure_ascii writes a lone surrogate as the escape \\ud800, as a hostile editor would."""
    return re.sub(r'"@nest (\d+)@"', lambda m: "[" * int(m.group(1)) + '"x"' + "]" * int(m.group(1)),
                  json.dumps(doc))


def check_then_start(directory, doc, changes):
    """`check-config` on the file, then, if it accepts it, the unit built on it, one scan, and a stop."""
    path = os.path.join(directory, "config.json")
    with open(path, "w", encoding="ascii") as f:
        f.write(config_text(doc))
    result = run_unit_command("check-config", path)
    if result.exit_code != 0:
        assert result.exit_code == 1, result.output
        assert PROBLEM_LINE.search(result.stderr), "a refusal without a JSON path:\n" + result.stderr
        assert "Traceback" not in result.output
        return "refused"
    cfg, profiles = load_unit_config(path)
    log = io.StringIO()
    with signal_handlers_kept():
        try:
            runtime = Runtime(cfg, profiles, log_stream=log)
        except StartError as err:
            named = [MACHINE_KEYS[keys] for _, keys, _ in changes if keys in MACHINE_KEYS]
            assert any(word in str(err) for word in named), "check-config accepted what run refused: %s" % err
            return "refused at start"
        try:
            runtime.scan(runtime.clock.now_us() // 1000)
        finally:
            runtime.shutdown("property test")
    assert "internal error" not in log.getvalue()
    health = runtime.store.health()
    if "pending" in health:  # the store opened: every event of the start, the scan and the stop is in it
        assert (health["pending"], health["lost"], health["rejected"]) == (0, 0, 0), health
    return "started"


@given(mutations())
def test_whatever_check_config_accepts_the_unit_starts_on_and_every_refusal_has_a_path(changes):
    directory = tempfile.mkdtemp(prefix="gl-", dir="/tmp")  # short: a socket path holds 107 bytes
    cwd = os.getcwd()
    os.chdir(directory)  # a relative path in the config names a file of the example, not of the checkout
    try:
        event(check_then_start(directory, mutated(directory, changes), changes))
    finally:
        os.chdir(cwd)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("keys, value", [
    (("store", "path"), "events\x00.db"), (("control", "socket"), "c\x00.sock"), (("gpio", "sim_dir"), "g\x00"),
    (("watchdog", "device"), "/dev/watch\x00dog"), (("unit", "name"), "\ud800"), (("buses", "bus1", "port"), "\ud800"),
    (("unit", "site"), ["x"] * 1), (("unit",), "nest500"), (("unit",), "nest990"),
])
def test_the_real_commands_refuse_the_issues_configs_with_a_path_and_no_traceback(short_dir, keys, value):
    doc = base_config(short_dir)
    target = doc
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = NEST % int(value[4:]) if isinstance(value, str) and value.startswith("nest") else value
    path = os.path.join(short_dir, "config.json")
    with open(path, "w", encoding="ascii") as f:
        f.write(config_text(doc))
    for command in (["check-config", path], ["run", "--config", path]):
        proc = subprocess.run([sys.executable, "-m", "gaslatch.unit"] + command, capture_output=True, text=True,
                              timeout=30)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        assert PROBLEM_LINE.search(proc.stderr), proc.stderr


def broken_profile_problems(directory) -> list:
    """The problems of a profile directory holding cn-generic with a read of 0 registers."""
    document = json.loads((Path(default_directory()) / "cn-generic.json").read_text(encoding="utf-8"))
    document["reads"][0]["count"] = 0
    (directory / "cn-generic.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profiles(str(directory))
    return caught.value.problems


def test_a_broken_profile_is_refused_with_each_of_its_problems_and_the_file(tmp_path):
    [problem] = broken_profile_problems(tmp_path)
    assert problem.path == "profiles/cn-generic.json $.reads[0].count"
    assert problem.message == "0 is below the minimum 1"
    assert problem.hint == "write a whole number from 1 to 125 (or reinstall gaslatch)"


def test_a_unit_that_cannot_start_says_so_in_the_readers_language(tmp_path):
    """`gaslatch run` refused at its start (another run holds the unit's lock): exit 1, the line in the reader's
    language, the cause as the runtime words it (and logs it)."""
    import fcntl

    doc = base_config(str(tmp_path))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    with open(doc["control"]["socket"] + ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for lang, said in (("zh", "gaslatch 无法启动："), ("en", "gaslatch cannot start: ")):
            done = subprocess.run([sys.executable, "-m", "gaslatch.unit", "--lang", lang, "run", "--config",
                                   str(path)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 1, done.stderr
            assert done.stderr.startswith(said) and "another gaslatch run already controls this unit" in done.stderr
            assert "Traceback" not in done.stderr
