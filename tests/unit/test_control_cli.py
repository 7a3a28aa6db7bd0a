"""`gaslatch status/reset/silence/inhibit/test-outputs` (the unit's own command, gaslatch.unit.cli) against a
real control socket, served by a stand-in scan thread whose handler drives the real controller core."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from gaslatch.core.scan_loop import ScanStats
from gaslatch.unit.control_client import explain_connect_error
from gaslatch.unit.control_commands import OUTPUT_CHECKS
from gaslatch.unit.control_socket import ControlServer
from gaslatch_tools.kitchen_sim import KitchenSim
from tests.unit.unit_command import run_unit_command

NOBODY_UID = 65534


class KitchenUnit:
    """The runtime's handler in miniature: a simulated kitchen's controller answers status, silence and
    inhibit; reset and output tests follow what the test sets up."""

    def __init__(self) -> None:
        self.sim = KitchenSim(n_detectors=2)
        self.sim.run_until(11000)  # one warm-up poll, then the 10 s clear hold: every detector normal
        self.requests: list[tuple[str, dict]] = []
        self.reset_outcome: dict | None = {"state": "accepted"}
        self.reset_reasons: list[str] = []
        self.refused_lines: dict[str, str] = {}
        self.pending_reset = None
        self.unit_health: dict | None = None
        self.tripped = True
        self.reset_window_s: object = 60

    def leak(self) -> None:
        self.sim.set_gas("d1", 300)
        self.sim.run_until(20000)

    def __call__(self, request, now_ms: int) -> dict:
        self.requests.append((request.cmd, request.args))
        controller, now = self.sim.controller, self.sim.now_ms
        if request.cmd == "status":
            reply = controller.status(now)
            stats = ScanStats(100)
            stats.scans = 120
            stats.execution.add(850)
            reply["scan"] = stats.as_dict()
            if self.unit_health is not None:
                # The runtime's shape: the status nested, with the unit's own health beside the controller's.
                reply.update(self.unit_health)
                return {"ok": True, "status": reply}
            reply["ok"] = True
            return reply
        if request.cmd in ("silence", "inhibit", "end_inhibit"):
            return controller.command(now, request.cmd, request.args, request.source)
        if request.cmd == "reset":
            if not self.tripped:
                return {"ok": True, "state": "not_needed", "message": "not tripped: nothing to reset"}
            if self.reset_reasons:
                return {"ok": False, "error": "reset refused", "reasons": list(self.reset_reasons)}
            self.pending_reset = request
            return {"ok": True, "state": "waiting_for_button", "window_s": self.reset_window_s}
        if request.cmd == "test_output":
            line = request.args["line"]
            if line in self.refused_lines:
                return {"ok": False, "error": self.refused_lines[line]}
            return {"ok": True, "message": "%s on for %d ms" % (line, request.args["ms"])}
        return {"ok": False, "error": "not in this test"}

    def after_service(self) -> None:
        """The button press (or the window running out) resolves a waiting reset at the next scan."""
        if self.pending_reset is not None and self.reset_outcome is not None:
            self.pending_reset.push(self.reset_outcome)
            self.pending_reset = None

    def commands(self) -> list[str]:
        return [cmd for cmd, _ in self.requests]


class Unit:
    """A real control socket and a loop thread calling service() like the runtime's scan thread."""

    def __init__(self, path: str, **server_options) -> None:
        self.path = path
        self.kitchen = KitchenUnit()
        self.server = ControlServer(path, "no-such-group-gl", **server_options)
        self.server.start()
        self.running = threading.Event()
        self.running.set()
        self._serving = threading.Lock()  # held for one check of `running` and the service() it allows
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            with self._serving:
                if self.running.is_set():
                    self.server.service(self.kitchen.sim.now_ms, self.kitchen)
                    self.kitchen.after_service()

    def stall(self) -> None:
        """No service() from now on: returns once a call already past the check has ended."""
        with self._serving:
            self.running.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def unit(short_dir):
    served = Unit(os.path.join(short_dir, "control.sock"))
    yield served
    served.close()


def gaslatch(unit_or_path, *args: str, input: str = ""):
    """Runs `gaslatch <args> --socket PATH` as the unit's command."""
    path = unit_or_path.path if isinstance(unit_or_path, Unit) else unit_or_path
    return run_unit_command(*args, "--socket", path, input=input)


# ---- status ----

def test_status_shows_detectors_with_their_reading_outputs_interlocks_and_the_trip(unit):
    unit.kitchen.leak()
    result = gaslatch(unit, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "LATCHED" in out and "gas: d1 high alarm" in out
    assert "d1" in out and "high alarm" in out and "30.00 %LEL" in out
    assert "d2" in out and "0.00 %LEL" in out
    for name in ("valve", "sounder", "beacon", "fan", "fault relay"):
        assert name in out
    assert "de-energised" in out
    assert "emergency stop" in out and "fire alarm" in out
    assert "bus1" in out and "Scan loop (period 100 ms)" in out and "0.85 ms" in out


def test_status_shows_the_clear_hold_still_to_serve_and_why_a_reset_would_be_refused(unit):
    unit.kitchen.leak()
    unit.kitchen.sim.set_gas("d1", 0)
    unit.kitchen.sim.run_until(unit.kitchen.sim.now_ms + 3000)
    out = gaslatch(unit, "status").output
    hold_s = (unit.kitchen.sim.controller.status(unit.kitchen.sim.now_ms)["detectors"]["d1"]["clear_hold_remaining_ms"]
              + 999) // 1000
    assert 6 <= hold_s <= 8
    assert "RESET now: would be refused: d1: high alarm (clear hold: at least %d s more clear)" % hold_s in out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("d1 "))
    assert "high alarm" in row and " %d s " % hold_s in row and " ok " in row


def test_status_shows_a_detector_on_a_degraded_link_as_untrusted(unit):
    sim = unit.kitchen.sim
    for _ in range(12):
        sim.set_responding("d2", False)
        sim.run_until(sim.now_ms + 3000)
        sim.set_responding("d2", True)
        sim.run_until(sim.now_ms + 300)
    out = gaslatch(unit, "status").output
    row = next(line for line in out.splitlines() if line.lstrip().startswith("d2 "))
    assert "LINK" in row and "/16 failed" in row


def test_status_shows_the_units_own_problems_from_the_runtimes_nested_reply(unit):
    unit.kitchen.unit_health = {
        "store": {"ok": False, "error": "disk I/O error", "lost": 2},
        "ports": {"bus1": {"error": "could not open port /dev/ttyUSB0: No such file or directory"}, "bus2": {}},
        "clock_synced": False,
    }
    result = gaslatch(unit, "status")
    assert result.exit_code == 0, result.output
    assert "Event store problem: disk I/O error (lost 2)" in result.output
    assert "Serial port of bus1: could not open port /dev/ttyUSB0" in result.output
    assert "bus2:" not in result.output
    assert "Clock not synchronised" in result.output
    assert "d1" in result.output and "Scan loop" in result.output


def test_status_shows_the_airflow_proving_state_beside_the_ventilation_interlock(unit):
    unit.kitchen.unit_health = {"airflow": "bridged",
                                "interlocks": {"emergency_stop": False, "fire_alarm": False, "ventilation": True}}
    result = gaslatch(unit, "status")
    assert result.exit_code == 0, result.output
    assert "ACTIVE (airflow bridged)" in result.output


def test_status_json_prints_the_raw_reply(unit):
    result = gaslatch(unit, "status", "--json")
    assert result.exit_code == 0
    reply = json.loads(result.output)
    assert reply["ok"] is True and sorted(reply["detectors"]) == ["d1", "d2"]
    assert reply["outputs"]["valve"] is False


def test_status_takes_the_socket_from_the_config_file(unit, short_dir):
    config = os.path.join(short_dir, "config.json")
    with open(config, "w") as f:
        json.dump({"control": {"socket": unit.path, "group": "kitchen"}}, f)
    result = run_unit_command("status", "--json", "--config", config)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True


def test_an_unreadable_config_file_is_a_usage_error(short_dir):
    config = os.path.join(short_dir, "config.json")
    with open(config, "w") as f:
        f.write("{not json")
    result = run_unit_command("status", "--config", config)
    assert result.exit_code == 2
    assert "is not valid JSON" in result.output


# ---- reaching the socket ----

def test_no_socket_exits_3_and_asks_whether_gaslatch_is_running(short_dir):
    result = gaslatch(os.path.join(short_dir, "absent.sock"), "status")
    assert result.exit_code == 3
    assert "is gaslatch running?" in result.stderr


def test_a_left_over_socket_file_exits_3_and_says_nothing_is_listening(short_dir):
    path = os.path.join(short_dir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    result = gaslatch(path, "silence")
    assert result.exit_code == 3
    assert "nothing is listening" in result.stderr


def test_a_user_outside_the_group_is_told_to_join_it(unit):
    exit_code, stderr = _run_as_outsider(unit.path, ["status"])
    assert exit_code == 3
    assert "join the gaslatch group: sudo usermod -aG gaslatch $USER, then log in again" in stderr


def _run_as_outsider(path: str, args: list[str]) -> tuple[int, str]:
    """Runs the CLI as a user the socket's mode 0660 keeps out: nobody when we are root (root passes
    every permission check), else ourselves after taking the socket's permissions away."""
    if os.geteuid() != 0:
        os.chmod(path, 0)
        result = gaslatch(path, *args)
        return result.exit_code, result.stderr
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)
            result = gaslatch(path, *args)
            os.write(write_fd, json.dumps([result.exit_code, result.stderr]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    exit_code, stderr = json.loads(data)
    return exit_code, stderr


def test_connect_errors_are_explained_for_the_user():
    assert "join the kitchen group: sudo usermod -aG kitchen $USER" in explain_connect_error(
        "/run/x.sock", "kitchen", PermissionError(13, "Permission denied"))
    assert "is gaslatch running?" in explain_connect_error("/run/x.sock", "g", FileNotFoundError(2, "No such file"))
    assert "nothing is listening" in explain_connect_error("/run/x.sock", "g", ConnectionRefusedError(111, "refused"))


def test_a_stalled_scan_loop_is_reported_as_a_failed_request(short_dir):
    stalled = Unit(os.path.join(short_dir, "c.sock"), reply_timeout_s=0.3)
    try:
        stalled.stall()
        result = gaslatch(stalled, "silence")
        assert result.exit_code == 1
        assert "did not take the request" in result.output and "nothing was done" in result.output
        told = gaslatch_zh(stalled, "silence")
        assert told.exit_code == 1
        assert "控制器未在 0.3 秒内受理请求：未执行任何操作" in told.output, told.output
    finally:
        stalled.close()


def test_no_answer_at_all_within_the_timeout_exits_3(unit):
    unit.stall()
    result = gaslatch(unit, "status", "--timeout", "0.3")
    assert result.exit_code == 3
    assert "no answer from gaslatch within 0.3 s" in result.stderr


# ---- reset ----

def test_reset_waits_for_the_button_and_exits_0_when_accepted(unit):
    result = gaslatch(unit, "reset")
    assert result.exit_code == 0, result.output
    assert "Press the RESET button on the controller within 60 s" in result.output
    assert "Reset accepted" in result.output


def test_reset_when_nothing_is_tripped_exits_0_without_waiting(unit):
    unit.kitchen.tripped = False
    result = gaslatch(unit, "reset")
    assert result.exit_code == 0
    assert "nothing to reset" in result.output and "Press the RESET" not in result.output


def test_reset_refused_at_once_prints_every_reason_and_exits_1(unit):
    unit.kitchen.reset_reasons = ["d1: high alarm", "fire alarm input active"]
    result = gaslatch(unit, "reset")
    assert result.exit_code == 1
    assert "Reset refused" in result.output
    assert "d1: high alarm" in result.output and "fire alarm input active" in result.output
    assert "Press the RESET button" not in result.output


def test_reset_refused_when_the_button_is_pressed_exits_1_with_the_reasons(unit):
    unit.kitchen.reset_outcome = {"state": "refused", "reasons": ["d2: comm lost"]}
    result = gaslatch(unit, "reset")
    assert result.exit_code == 1
    assert "Reset refused when the button was pressed" in result.output and "d2: comm lost" in result.output


def test_reset_not_pressed_in_time_exits_1_and_says_nothing_was_reset(unit):
    unit.kitchen.reset_outcome = {"state": "expired"}
    result = gaslatch(unit, "reset")
    assert result.exit_code == 1
    assert "was not pressed within 60 s: nothing was reset" in result.output


@pytest.mark.parametrize("window_s", ["sixty", None, -5, 0, 10 ** 400, [60]])  # (the socket sends no nan)
def test_a_reset_window_the_command_cannot_count_is_the_default_one_not_a_traceback(unit, window_s):
    """Adversarial review (issue 18): a window that is no number of seconds (an older or newer controller, a
    damaged reply) ended `gaslatch reset` in a ValueError/TypeError traceback."""
    unit.kitchen.reset_window_s = window_s
    result = gaslatch(unit, "reset")
    assert result.exit_code == 0, result.output
    assert "Press the RESET button on the controller within 60 s" in result.output
    assert "Reset accepted" in result.output and "Traceback" not in result.output


# ---- silence and inhibit (answered by the real controller core) ----

def test_silence_with_nothing_sounding_is_refused(unit):
    result = gaslatch(unit, "silence")
    assert result.exit_code == 1
    assert "nothing is sounding" in result.output


def test_silence_during_an_alarm_is_done(unit):
    unit.kitchen.leak()
    result = gaslatch(unit, "silence")
    assert result.exit_code == 0, result.output
    assert "sounder silenced" in result.output


def test_inhibit_sends_the_detector_and_minutes_and_prints_the_outcome(unit):
    result = gaslatch(unit, "inhibit", "d2", "--minutes", "10")
    assert result.exit_code == 0, result.output
    assert "detector d2 inhibited for 10 min" in result.output
    assert unit.kitchen.requests[-1] == ("inhibit", {"detector": "d2", "minutes": 10})
    assert json.loads(gaslatch(unit, "status", "--json").output)["detectors"]["d2"]["inhibited"] is True
    ended = gaslatch(unit, "inhibit", "d2", "--end")
    assert ended.exit_code == 0 and "inhibit of d2 ended" in ended.output


def test_inhibit_of_an_unknown_detector_is_refused(unit):
    result = gaslatch(unit, "inhibit", "d9", "--minutes", "5")
    assert result.exit_code == 1
    assert "no detector named d9" in result.output


@pytest.mark.parametrize("args", [["--minutes", "0"], ["--minutes", "31"], [], ["--minutes", "5", "--end"]])
def test_inhibit_without_a_bounded_time_is_a_usage_error_and_sends_nothing(unit, args):
    result = gaslatch(unit, "inhibit", "d1", *args)
    assert result.exit_code == 2
    assert unit.kitchen.requests == []


# ---- test-outputs ----

def test_test_outputs_pulses_each_output_in_turn_and_asks_after_each(unit):
    result = gaslatch(unit, "test-outputs", "--ms", "100", input="y\n" * 6)
    assert result.exit_code == 0, result.output
    names = [name for name, _ in OUTPUT_CHECKS]
    assert unit.kitchen.requests == [("test_output", {"line": name, "ms": 100}) for name in names]
    for _, question in OUTPUT_CHECKS:
        assert question in result.output
    assert "CLOSES the gas valve" in result.output
    assert result.output.index("Did the sounder sound?") < result.output.index("Did the beacon flash?")


def test_an_output_not_seen_makes_test_outputs_fail(unit):
    result = gaslatch(unit, "test-outputs", "--ms", "100", "--line", "sounder", "--line", "fan", input="y\nn\n")
    assert result.exit_code == 1
    assert "NOT confirmed" in result.output and "lines.fan" in result.output


def test_declining_the_valve_warning_leaves_the_valve_alone(unit):
    result = gaslatch(unit, "test-outputs", "--ms", "100", "--line", "valve", input="n\n")
    assert result.exit_code == 1
    assert unit.kitchen.requests == []
    assert "skipped" in result.output


def test_yes_skips_every_prompt(unit):
    result = gaslatch(unit, "test-outputs", "--ms", "100", "--yes")
    assert result.exit_code == 0, result.output
    assert "Did the" not in result.output and "Close the valve now?" not in result.output
    assert unit.kitchen.commands() == ["test_output"] * len(OUTPUT_CHECKS)


def test_an_output_the_controller_refuses_is_reported_and_the_rest_still_tested(unit):
    unit.kitchen.refused_lines["beacon"] = "no beacon line in the config"
    result = gaslatch(unit, "test-outputs", "--ms", "100", "--yes")
    assert result.exit_code == 1
    assert "no beacon line in the config" in result.output
    assert [args["line"] for _, args in unit.kitchen.requests] == [name for name, _ in OUTPUT_CHECKS]


def test_an_answer_nested_deeper_than_json_can_read_is_told_not_a_traceback(short_dir):
    """Adversarial review (issue 18): a peer on the socket path answering [[[[...]]]] 100,000 deep (well under the
    8 MiB reply limit) ended every command in a RecursionError traceback."""
    path = os.path.join(short_dir, "deep.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _address = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"[" * 100000 + b"]" * 100000 + b"\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        result = gaslatch(path, "status", "--timeout", "5")
    finally:
        thread.join(timeout=5)
        server.close()
    assert result.exit_code == 3, result.output
    assert "is not JSON" in result.stderr and "Traceback" not in result.output


def test_a_reset_outcomes_text_reaches_the_terminal_escaped(unit):
    """Adversarial review (issue 18): the outcome's error went to the terminal raw: an escape sequence in it could
    clear the screen or recolour what the operator reads, a bidi control reverse it."""
    unit.kitchen.reset_outcome = {"state": "odd", "error": "\x1b[2Jgas \u202eoff"}
    result = gaslatch(unit, "reset")
    assert result.exit_code == 1
    assert "Reset not done: \\x1b[2Jgas \\u202eoff" in result.output and "\x1b" not in result.output


# ---- the controller's answers in the reader's language (the real core answers silence and inhibit) ----

def gaslatch_zh(unit_or_path, *args: str, input: str = ""):
    """`gaslatch --lang zh <args> --socket PATH`."""
    path = unit_or_path.path if isinstance(unit_or_path, Unit) else unit_or_path
    return run_unit_command("--lang", "zh", *args, "--socket", path, input=input)


def test_the_controllers_answers_read_in_chinese(unit):
    refused = gaslatch_zh(unit, "silence")
    assert refused.exit_code == 1 and "拒绝：没有正在鸣响的报警" in refused.output
    unit.kitchen.leak()
    for args, code, said in (
            (("silence",), 0, "蜂鸣器已消音 300 秒"),
            (("inhibit", "d2", "--minutes", "10"), 0, "探测器 d2 已屏蔽 10 分钟"),
            (("inhibit", "d1", "--minutes", "5"), 1, "探测器 d2 已在屏蔽中：一次只能屏蔽一个，不可续期"),
            (("inhibit", "d2", "--end"), 0, "探测器 d2 屏蔽已结束"),
            (("inhibit", "d1", "--minutes", "5"), 1, "探测器 d1：高限报警，只有正常状态的探测器才能屏蔽"),
            (("inhibit", "d9", "--minutes", "5"), 1, "没有名为 d9 的探测器")):
        result = gaslatch_zh(unit, *args)
        assert (result.exit_code, said) == (code, said) and said in result.output, result.output
        assert not any(word in result.output for word in ("detector", "inhibit", "sounder", "silenced")), result.output


def test_an_answer_no_phrase_knows_is_shown_as_sent(unit):
    unit.kitchen.refused_lines["beacon"] = "no beacon line in the config"
    result = gaslatch_zh(unit, "test-outputs", "--ms", "100", "--line", "beacon", "--yes")
    assert result.exit_code == 1 and "报警灯 被拒绝：no beacon line in the config" in result.output


@pytest.mark.parametrize("lang, rows", [
    ("en", {"sounder": "switched on briefly (not confirmed: --yes)", "fault relay": "dropped briefly (not confirmed: "
            "--yes)", "valve": "closed (not confirmed: --yes)"}),
    ("zh", {"蜂鸣器": "已短时接通（未确认：--yes）", "故障继电器": "已短时断开（未确认：--yes）",
            "紧急切断阀": "已关闭（未确认：--yes）"})])
def test_test_outputs_yes_says_the_valve_closed_and_the_others_switched_briefly(unit, lang, rows):
    result = run_unit_command("--lang", lang, "test-outputs", "--ms", "100", "--yes", "--socket", unit.path)
    assert result.exit_code == 0, result.output
    table = {line.split("  ")[0].strip(): line for line in result.output.splitlines()}
    for output, said in rows.items():
        assert output in table and said in table[output], (output, result.output)
    if lang == "zh":
        assert "正在断开故障继电器" in result.output and "正在关闭燃气切断阀" in result.output
    else:
        assert "Dropping the fault relay" in result.output and "Switching fault_relay on" not in result.output


@pytest.mark.parametrize("command", [["status"], ["reset"], ["silence"], ["inhibit", "d1", "--end"],
                                     ["test-outputs", "--yes"]])
def test_a_config_that_cannot_be_used_is_a_usage_error_in_the_readers_language(short_dir, command):
    bad_json = os.path.join(short_dir, "bad.json")
    with open(bad_json, "w") as handle:
        handle.write("{")
    not_object = os.path.join(short_dir, "control.json")
    with open(not_object, "w") as handle:
        handle.write('{"control": [1]}')
    for path, zh, en in (("/nonexistent", "--config：无法读取 /nonexistent：No such file or directory",
                          "--config: cannot read /nonexistent: No such file or directory"),
                         (bad_json, "--config：%s 不是有效的 JSON：" % bad_json, "--config: %s is not valid JSON" % bad_json),
                         (not_object, "--config：%s 中的 control 不是对象" % not_object,
                          "--config: control in %s is not an object" % not_object)):
        chinese = run_unit_command("--lang", "zh", *command, "--config", path)
        assert chinese.exit_code == 2 and zh in chinese.stderr and "Traceback" not in chinese.output, chinese.output
        english = run_unit_command("--lang", "en", *command, "--config", path)
        assert english.exit_code == 2 and en in english.stderr, english.output
