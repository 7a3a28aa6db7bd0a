"""The MicroPython harness: the interpreter is really MicroPython 1.27 and every core module imports there.

Output comes back byte for byte and script errors come back with their traceback.
"""

import pytest

from gaslatch_tools import micropython_runner
from gaslatch_tools.micropython_runner import PACKAGE_DIR, MicroPythonError, run_micropython

CORE_MODULES = sorted(path.stem for path in (PACKAGE_DIR / "core").glob("*.py") if path.stem != "__init__")


def test_interpreter_is_micropython_1_27():
    out = run_micropython("import sys\nprint(sys.implementation.name, sys.implementation.version[:2])")

    assert out == "micropython (1, 27)\n"


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_under_micropython(module):
    out = run_micropython("import gaslatch.core.%s as m\nprint(m.__name__)" % module)

    assert out == "gaslatch.core.%s\n" % module


def test_core_package_is_discovered_with_its_modules():
    assert {"compat", "constants", "scan_loop"} <= set(CORE_MODULES)
    assert "/lib/gaslatch/core/constants.py" in micropython_runner.package_files()


def test_script_exception_raises_micropython_error_with_the_traceback():
    script = "def fail():\n    raise ValueError('valve feedback lost')\nprint('before')\nfail()\n"

    with pytest.raises(MicroPythonError) as caught:
        run_micropython(script)

    assert "Traceback (most recent call last):" in caught.value.stderr
    assert "ValueError: valve feedback lost" in caught.value.stderr
    assert "in fail" in caught.value.stderr
    assert caught.value.stdout == "before\n"


def test_stdout_passes_through_byte_for_byte():
    script = (
        "import json\n"
        "print(json.dumps({'where': '后厨 灶台 — Küche'}))\n"
        "print('no newline', end='')\n"
        "print('\\r\\n\\ttabs')\n"
        "print('x' * 100000)\n"
    )

    out = run_micropython(script)

    assert out == '{"where": "后厨 灶台 — Küche"}\nno newline\r\n\ttabs\n' + "x" * 100000 + "\n"


def test_extra_files_are_importable_from_lib():
    out = run_micropython(
        "from probe import VALUE\nprint(VALUE)", extra_files={"/lib/probe.py": "VALUE = 'from /lib'\n"}
    )

    assert out == "from /lib\n"


def test_missing_npm_package_fails_with_a_hint_to_run_npm_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(micropython_runner, "NPM_PACKAGE_DIR", tmp_path / "absent")

    with pytest.raises(MicroPythonError, match="npm ci"):
        run_micropython("print(1)")
