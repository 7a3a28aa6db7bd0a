"""The wiring checks: every line the configuration relies on is wired, and each line has one job."""

from gaslatch.core.config import load_config
from gaslatch.unit.wiring import wiring_problems


def cfg(**extra):
    doc = {"unit": {"site": "s", "name": "u"},
           "buses": {"b": {"port": "/dev/ttyAMA0"}},
           "detectors": {"d1": {"kind": "modbus", "bus": "b", "address": 1, "profile": "cn-generic"}},
           "lines": {"valve": {"pin": 17}, "reset_button": {"pin": 20}}}
    for key, value in extra.items():
        if isinstance(value, dict) and key in doc:
            doc[key].update(value)
        else:
            doc[key] = value
    return load_config(doc)


def messages(config):
    return [(p.path, p.message) for p in wiring_problems(config)]


def test_a_complete_minimal_unit_is_wired():
    assert wiring_problems(cfg()) == []


def test_a_bus_de_line_can_never_be_a_safety_output_or_input():
    for line in ("valve", "fault_relay", "sounder", "reset_button"):
        config = cfg(buses={"b": {"port": "/dev/ttyAMA0", "direction": "gpio", "de_line": line}})
        found = messages(config)
        assert ("$.buses.b.de_line", "line %s is already the %s %s; it cannot also be the DE line of bus b" % (
            line, line, "input" if line == "reset_button" else "output")) in found, found


def test_a_contact_detector_line_cannot_be_a_safety_line():
    config = cfg(detectors={"c1": {"kind": "contact", "line": "valve"}})
    assert any(path == "$.detectors.c1.line" for path, _ in messages(config))


def test_direction_gpio_must_leave_the_scan_its_time():
    slow = cfg(buses={"b": {"port": "/dev/ttyAMA0", "baud": 1200, "direction": "gpio", "de_line": "de1"}},
               lines={"de1": {"pin": 4}})
    assert any(path == "$.buses.b.direction" for path, _ in messages(slow))
    fine = cfg(buses={"b": {"port": "/dev/ttyAMA0", "baud": 9600, "direction": "gpio", "de_line": "de1"}},
               lines={"de1": {"pin": 4}})
    assert wiring_problems(fine) == []


def test_two_lines_on_one_pin_and_unknown_line_names_are_reported():
    config = cfg(lines={"fan": {"pin": 17}, "vlave": {"pin": 5}})
    found = messages(config)
    assert ("$.lines.vlave", "no line is called vlave") in found
    assert any(path == "$.lines.valve.pin" or path == "$.lines.fan.pin" for path, _ in found)


def test_a_control_socket_path_longer_than_a_unix_socket_address_is_a_problem():
    assert messages(cfg(control={"socket": "/run/" + "é" * 60})) == [
        ("$.control.socket", "125 bytes long; a UNIX socket path holds at most 107")]


def test_the_store_the_socket_and_the_sim_gpio_directory_each_need_their_own_path():
    config = cfg(gpio={"backend": "sim", "sim_dir": "/run/x"}, control={"socket": "/run/x"},
                 store={"path": "/run/./x"})
    assert messages(config) == [("$.control.socket", "is the same path as store.path"),
                                ("$.gpio.sim_dir", "is the same path as store.path")]
