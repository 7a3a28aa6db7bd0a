"""The `gaslatch` command on a machine with only some extras: the unit's commands work on the base install and
load no host library; a command whose extra is missing says which pip command installs it, no traceback."""

import os
import subprocess
import sys

from tests.bench.test_controller_process import HOST_ONLY_MODULES, imported_modules


def gaslatch(*args: str, missing: tuple[str, ...] = (), env: dict | None = None) -> subprocess.CompletedProcess:
    """`gaslatch ARGS` in a fresh interpreter in which the `missing` packages cannot be imported."""
    code = ("import sys\nfor name in %r: sys.modules[name] = None\n"
            "from gaslatch_tools.cli import main\nmain(%r)\n" % (missing, list(args)))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_the_units_commands_through_gaslatch_load_no_host_library(tmp_path):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "gaslatch_tools.cli", "status", "--socket",
                           str(tmp_path / "absent.sock")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "is gaslatch running?" in done.stderr
    loaded = imported_modules(done.stderr.splitlines())
    assert "gaslatch.unit.control_commands" in loaded
    assert sorted(name for name in loaded if name.split(".")[0] in HOST_ONLY_MODULES and
                  name not in ("gaslatch_tools", "gaslatch_tools.cli")) == []


def test_the_units_commands_work_without_the_host_extra():
    done = gaslatch("check-config", "deploy/config.example.json", missing=("click", "rich"))
    assert done.returncode == 0, done.stderr
    assert "valid (2 detectors" in done.stdout


def test_a_host_command_without_its_extra_names_the_pip_command():
    done = gaslatch("commission", "scan", missing=("click", "rich"))
    assert done.returncode == 2
    assert "pip install 'gaslatch[commission]'" in done.stderr and "Traceback" not in done.stderr


def test_the_demo_without_the_bench_extra_names_it():
    done = gaslatch("demo", missing=("jsonschema",))
    assert done.returncode == 1
    assert "gaslatch demo needs jsonschema, which is not installed: pip install 'gaslatch[bench]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_group_without_its_extra_is_listed_with_the_pip_command():
    done = gaslatch("commission", "scan", "--port", "/dev/ttyUSB0", missing=("yaml",))
    assert done.returncode == 1
    assert "gaslatch commission needs yaml, which is not installed: pip install 'gaslatch[commission]'" in done.stderr
    for args in (("--help",), ("commission", "--help")):
        listing = gaslatch(*args, missing=("yaml",))
        assert listing.returncode == 0 and "not installed: pip install 'gaslatch[commission]'" in listing.stdout


def test_a_missing_extra_is_named_in_the_language_asked_for():
    done = gaslatch("--lang", "zh", "demo", missing=("jsonschema",))
    assert done.returncode == 1
    assert "gaslatch demo 需要 jsonschema，但它未安装：pip install 'gaslatch[bench]'" in done.stderr


def test_lang_takes_zh_or_en_only():
    done = gaslatch("--lang", "de", "commission", "scan")
    assert done.returncode == 2 and "'de' is not one of 'zh', 'en'" in done.stderr


def test_the_help_of_a_commission_command_is_in_the_language_asked_for():
    """Help texts are translated as their module is imported, which gaslatch does after reading --lang."""
    chinese = gaslatch("--lang", "zh", "commission", "scan", "--help")
    assert chinese.returncode == 0 and "查找总线上的所有探测器" in chinese.stdout
    assert "USB-RS485 转换器的串口" in chinese.stdout
    english = gaslatch("--lang", "en", "commission", "scan", "--help", env=dict(os.environ, LANG="zh_CN.UTF-8"))
    assert english.returncode == 0 and "Find every detector on the bus" in english.stdout


def test_the_demo_s_simulated_only_options_without_simulated_are_refused_before_anything_runs():
    for option in ("--json", "--no-outputs", "--outputs"):
        done = gaslatch("demo", option)
        assert done.returncode == 2 and "--json and --outputs/--no-outputs go with --simulated" in done.stderr
        assert "emulated kitchen" not in done.stdout
    done = gaslatch("--lang", "zh", "demo", "--json")
    assert done.returncode == 2 and "只能与 --simulated 一起使用" in done.stderr
    done = gaslatch("demo", "--simulated", "--json")
    assert done.returncode == 0 and done.stdout.count("\n") > 5 and done.stdout.startswith("{")


def test_gaslatch_help_lists_every_unit_command_in_the_language_asked_for():
    """The unit's command summaries are looked up when the list is shown (after --lang or LANG is read)."""
    from gaslatch.unit.cli import COMMANDS
    from gaslatch.translation import CHINESE, in_language
    chinese = gaslatch("--help", env=dict(os.environ, LANG="zh_CN.UTF-8", LC_ALL="", LC_MESSAGES=""))
    assert chinese.returncode == 0, chinese.stderr
    zh = in_language(CHINESE).gettext
    listing = {line.split()[0]: line for line in chinese.stdout.splitlines() if line.startswith("  ") and
               line.split() and line.split()[0] in {command.name for command in COMMANDS}}
    assert sorted(listing) == sorted(command.name for command in COMMANDS)
    for command in COMMANDS:
        assert zh(command.summary)[:12] in listing[command.name], listing[command.name]
    assert "调试：依次" in listing["test-outputs"] and "Commissioning" not in chinese.stdout
    english = gaslatch("--lang", "en", "--help", env=dict(os.environ, LANG="zh_CN.UTF-8"))
    assert "Commissioning: switch each output" in english.stdout and "调试" not in english.stdout
