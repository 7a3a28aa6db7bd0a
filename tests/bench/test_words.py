"""What the bench shows a person: the demo's own texts are all in the catalogue, the bench's actions and the
controller's events read as words in either language, and no field the bench did not write can break a screen."""

import io
import json
import os
import re
import subprocess
import sys

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from gaslatch import translation
from gaslatch_tools.bench import scenario as S
from gaslatch_tools.bench.expectations import _condition_text, say
from gaslatch_tools.bench.live_view import LiveView
from gaslatch_tools.bench.progress_lines import ProgressLines
from gaslatch_tools.bench.trace import Trace
from gaslatch_tools.bench.words import DEMO_TEXTS, action_text, event_line, scenario_text
from gaslatch_tools.testing.language import reading

ZH = translation.in_language("zh").gettext
HAN = re.compile(r"[\u4e00-\u9fff]")
EN = translation.in_language("en").gettext


def test_every_text_of_the_demo_scenario_is_in_the_catalogue():
    with open(S.find("demo"), encoding="utf-8") as f:
        demo = yaml.safe_load(f)
    texts = [demo["summary"]] + [e["name"] for e in demo["expect"]] + [
        d["config"]["location"] for d in demo["detectors"].values()]
    assert sorted(set(texts) - set(DEMO_TEXTS)) == [], "list them in bench/words.py DEMO_TEXTS"
    assert all(ZH(text) != text for text in DEMO_TEXTS)


def test_an_action_and_an_event_read_as_words_in_either_language():
    press = {"t_s": 18.0, "do": "press", "label": "reset_with_gas", "ok": True}
    assert action_text(press, EN) == "pressed reset_with_gas" and action_text(press, ZH) == "按下 reset_with_gas"
    failed = {"do": "_power_back", "ok": False}
    assert action_text(failed, EN) == "power back (failed)" and action_text(failed, ZH) == "恢复供电 （失败）"
    assert action_text({"do": "teleport", "label": "x"}, ZH) == "teleport x"  # an action the words do not know
    trip = {"type": "trip", "state": "latched", "source": "controller", "reason": "gas: wok-hood high alarm"}
    assert event_line(trip, EN) == "gas shut off and latched · gas: wok-hood high alarm"
    assert event_line(trip, ZH) == "燃气已切断并锁定 · gas: wok-hood high alarm"


JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.just(10 ** 5000), st.floats(),
                 st.text(alphabet=st.characters(blacklist_categories=()), max_size=300), st.just("\ud800\x00\u202e"),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


def field(value) -> str:
    """A value as the unit's journal writes one (JSON strings, numbers, - for none): all a journal line holds."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return "%d" % value if abs(value) < 10 ** 4000 else "9" * 5000
    return json.dumps(value if isinstance(value, str) else repr(value)[:300])


class JunkRun:
    """A BenchRun as the views read it, every field the bench did not write holding anything."""

    def __init__(self, event: dict, action: dict) -> None:
        self.t0 = 100.0
        self.scenario = {"name": "demo", "duration_s": 48, "detectors": {"wok-hood": {}, "co": {"measurand": "co"}}}
        self.trace = Trace()
        self.trace.actions.append(dict(action, t_s=1.0))
        self.controller = self
        self._line = "<2>event t_ms=101000 seq=1 " + " ".join("%s=%s" % (key, field(value))
                                                             for key, value in event.items())

    def now(self) -> float:
        return 1.0

    def journal_lines(self) -> list[str]:
        return [self._line]


@settings(max_examples=150, deadline=None)
@given(fields=st.fixed_dictionaries({key: JUNK for key in ("type", "state", "source", "value", "reason",
                                                           "severity")}),
       action=st.fixed_dictionaries({"do": JUNK, "label": JUNK, "detail": JUNK, "ok": JUNK}),
       status=st.one_of(JUNK, st.fixed_dictionaries({"detectors": st.one_of(JUNK, st.fixed_dictionaries({
           "wok-hood": st.one_of(JUNK, st.fixed_dictionaries({"state": JUNK, "concentration_centi_pct_lel": JUNK})),
           "co": st.one_of(JUNK, st.fixed_dictionaries({"state": JUNK, "concentration_centi_ppm": JUNK}))}))})),
       language=st.sampled_from(["zh", "en"]))
def test_no_field_the_bench_did_not_write_breaks_the_live_view_or_the_progress_lines(fields, action, status,
                                                                                     language):
    event = dict(fields, type=fields["type"] if isinstance(fields["type"], str) and fields["type"] != "output"
                 and "\ud800" not in fields["type"] else "trip")
    with reading(language):
        run = JunkRun(event, action)
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)  # as a real terminal
        console = Console(file=out, width=120, force_terminal=True)
        view = LiveView(run, console)
        view._status = status
        console.print(view.render())
        lines = ProgressLines(run, console)
        lines.stop()
        assert "t=   1.0 s" in raw.getvalue().decode("utf-8")


def test_a_scenarios_own_text_outside_the_catalogue_is_shown_as_written():
    assert scenario_text("no trip before the gas") == "no trip before the gas"
    assert scenario_text(None) == "" and scenario_text(10 ** 5000) == "?"


def test_an_unknown_scenario_is_said_in_the_language_asked_for():
    def bench_run(*lang: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", *lang, "bench", "run", "no-such"],
                              capture_output=True, text=True, timeout=60, env=dict(os.environ, LC_ALL="", LANG="C"))

    chinese = bench_run("--lang", "zh")
    assert chinese.returncode == 2
    assert chinese.stderr.strip() == "gaslatch bench：没有场景文件 no-such，场景库中也没有这个名称的场景（gaslatch bench list）"
    english = bench_run()
    assert english.returncode == 2 and "no scenario file no-such and no library scenario of that name" in english.stderr


def test_every_shipped_scenarios_summary_is_in_the_catalogue():
    untranslated = []
    for path in S.library():
        with open(path, encoding="utf-8") as f:
            summary = yaml.safe_load(f)["summary"]
        if ZH(summary) == summary or not HAN.search(ZH(summary)):
            untranslated.append(os.path.basename(path))
    assert untranslated == [], "run python -m gaslatch_tools.catalogues update and translate them"


def bench(*args: str, locale: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "bench", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG=locale))


def test_bench_list_shows_every_summary_in_the_readers_language():
    chinese = bench("list", locale="zh_CN.UTF-8")
    assert chinese.returncode == 0, chinese.stderr
    lines = [line for line in chinese.stdout.splitlines() if line.strip()]
    assert len(lines) == len(S.library()) and all(HAN.search(line) for line in lines)
    assert "缓慢泄漏（GB 15322 缓慢上升试验，1 %LEL/min）" in chinese.stdout
    english = bench("list", locale="C")
    assert "A slow leak (GB 15322 slow-rise test, 1 %LEL/min)" in english.stdout
    assert not HAN.search(english.stdout.replace("人走阀关", ""))


def test_a_scenario_that_does_not_fit_the_format_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "sc.yaml"
    path.write_text("name: x\nsummary: 3\nflavour: sweet\n", encoding="utf-8")
    chinese = bench("run", str(path), locale="zh_CN.UTF-8")
    assert chinese.returncode == 2 and "Traceback" not in chinese.stderr
    assert "%s 不是有效的测试台场景：" % path in chinese.stderr
    assert "$：缺少字段 duration_s" in chinese.stderr and "$：没有这些字段：flavour" in chinese.stderr
    assert "$.summary：此处的值不允许（3 is not of type 'string'）" in chinese.stderr
    assert "is a required property" not in chinese.stderr
    english = bench("run", str(path), locale="C")
    assert "%s is not a bench scenario: " % path in english.stderr
    assert "$: the field duration_s is missing" in english.stderr and "$: no such field: flavour" in english.stderr


def test_an_output_lines_level_reads_as_what_it_does():
    def shown(condition, gettext):
        return say(_condition_text(condition), gettext)

    assert shown({"line": "valve", "is": False}, ZH) == "阀门断电（关闭）"
    assert shown({"line": "valve", "is": True}, ZH) == "阀门通电（打开）"
    assert shown({"line": "valve", "is": False}, EN) == "valve de-energised (closed)"
    assert shown({"line": "fan", "is": True}, ZH) == "排风机开启" and shown({"line": "sounder", "is": False}, ZH) == \
        "蜂鸣器关闭"
    assert shown({"line": "fault_relay", "is": False}, EN) == "fault_relay off"
