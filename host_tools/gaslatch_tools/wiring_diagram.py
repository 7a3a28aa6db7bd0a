"""Draws docs/images/wiring.png, the installer's wiring diagram, from deploy/config.example.json.

The BCM pins, polarities, bus and ADC settings on the drawing come from the example configuration, so
the two cannot disagree; `python -m gaslatch_tools.wiring_diagram` redraws it, `--check` exits 1 if stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Polygon, Rectangle

from gaslatch.core.config import load_config_file
from gaslatch.core.detector_profile import list_profiles, load_profile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "deploy" / "config.example.json"
DEFAULT_OUTPUT = ROOT / "docs" / "images" / "wiring.png"

WIDTH_PX = 1600
HEIGHT_PX = 1100
DPI = 100
# Drawing units: 1 unit = 10 px, so the canvas is 160 x 110 units.
WIDTH_U = WIDTH_PX / 10
HEIGHT_U = HEIGHT_PX / 10
METADATA_KEY = "gaslatch-wiring"

# BCM GPIO number -> physical pin on the 40-pin header (the same on every 40-pin Raspberry Pi).
HEADER_PIN = {
    2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29, 6: 31, 13: 33,
    19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 1: 28, 12: 32,
    16: 36, 20: 38, 21: 40,
}
I2C1_SDA_BCM = 2
I2C1_SCL_BCM = 3

# Output rows, top to bottom: line, relay, what the relay contact switches.
OUTPUT_ROWS = (
    ("valve", "K1", "gas shutoff valve, hold type, 24 V DC\nenergised = open, de-energised = closed"),
    ("fan", "K2", "exhaust fan contactor coil, 230 V AC\n(fan motor through the contactor)"),
    ("sounder", "K3", "sounder, 24 V DC"),
    ("beacon", "K4", "beacon (strobe), 24 V DC"),
    ("fault_relay", "K5", "volt-free to BMS / fire panel fault input\nclosed = healthy, open = fault or power off"),
)
# Input rows, top to bottom: line, contact type, field device.
INPUT_ROWS = (
    ("valve_feedback_closed", "NO", "valve closed limit switch (made when the valve is closed)"),
    ("fan_proven", "NO", "fan proving: differential pressure switch (made with airflow)"),
    ("fire_input", "NC", "fire panel volt-free contact (opens on fire)"),
    ("reset_button", "NO", "RESET push button, on the panel in the kitchen"),
    ("silence_button", "NO", "SILENCE push button"),
)

INK = "#1a1a1a"
GREY = "#666666"
BLUE = "#1f4e9c"
RED = "#b22222"
GREEN = "#2e7d32"
ORANGE = "#c05a00"
FILL_PI = "#e8f3e8"
FILL_DEV = "#eef3fb"
FILL_FIELD = "#fff6e8"
FILL_POWER = "#f3eefb"
WIRE_W = 1.6


def load_example(path: Path = DEFAULT_CONFIG) -> dict:
    """The normalised configuration at `path` (defaults filled), checked against the shipped profiles."""
    kinds = {name: load_profile(name).kind for name in list_profiles()}
    return load_config_file(str(path), kinds)


def pin_label(bcm: int) -> str:
    """'GPIO17 (pin 11)' for BCM 17."""
    return "GPIO%d (pin %d)" % (bcm, HEADER_PIN[bcm])


def pin_labels(cfg: dict) -> dict[str, str]:
    """Line name -> its pin label, for every line drawn."""
    lines = cfg["lines"]
    return {name: pin_label(lines[name]["pin"]) for name, _, _ in OUTPUT_ROWS + INPUT_ROWS}


def metadata(cfg: dict) -> str:
    """What the drawing shows from the configuration, as canonical JSON (stored in the PNG)."""
    bus_name = sorted(cfg["buses"])[0]
    bus = cfg["buses"][bus_name]
    detectors = {name: det["address"] for name, det in sorted(cfg["detectors"].items()) if det["kind"] == "modbus"}
    shown = {
        "lines": {name: {"pin": cfg["lines"][name]["pin"], "active": cfg["lines"][name]["active"]}
                  for name, _, _ in OUTPUT_ROWS + INPUT_ROWS},
        "bus": {"name": bus_name, "port": bus["port"], "baud": bus["baud"], "parity": bus["parity"],
                "stop_bits": bus["stop_bits"], "detectors": detectors},
        "analog": {"i2c_bus": cfg["analog"]["i2c_bus"], "address": cfg["analog"]["address"],
                   "shunt_ohm": cfg["analog"]["shunt_ohm"]},
    }
    return json.dumps(shown, sort_keys=True, separators=(",", ":"))


def stored_metadata(path: Path) -> str | None:
    """The metadata text stored in the PNG at `path`, or None when absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.info.get(METADATA_KEY)
    except (OSError, ValueError):
        return None


class _Sheet:
    """Drawing primitives on one axes in 10-px units."""

    def __init__(self, ax):
        self.ax = ax

    def wire(self, *points, color=INK, lw=WIRE_W, dashed=False):
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        self.ax.plot(xs, ys, color=color, lw=lw, ls=(0, (4, 3)) if dashed else "-", solid_capstyle="round",
                     zorder=2)

    def dot(self, x, y, color=INK):
        self.ax.plot([x], [y], "o", ms=4.5, color=color, zorder=4)

    def text(self, x, y, s, size=9, ha="left", va="center", color=INK, weight="normal", style="normal"):
        self.ax.text(x, y, s, fontsize=size, ha=ha, va=va, color=color, weight=weight, style=style, zorder=5,
                     linespacing=1.25)

    def box(self, x, y, w, h, fill, title="", body="", title_size=10.5, body_size=9, edge=INK, lw=1.4):
        self.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.8", fc=fill,
                                         ec=edge, lw=lw, zorder=1))
        if title:
            self.text(x + w / 2, y + h - 1.6, title, size=title_size, ha="center", weight="bold")
        if body:
            self.text(x + w / 2, y + h - 3.2, body, size=body_size, ha="center", va="top")

    def net(self, x, y, s, color=RED, ha="left", size=8.5):
        self.ax.text(x, y, s, fontsize=size, ha=ha, va="center", color="white", weight="bold", zorder=6,
                     bbox={"boxstyle": "round,pad=0.25", "fc": color, "ec": color})

    def resistor_h(self, x, y, length, label="", label_above=True, size=8.5):
        """Horizontal resistor (IEC rectangle) from x to x+length."""
        body = min(4.0, length * 0.6)
        start = x + (length - body) / 2
        self.wire((x, y), (start, y))
        self.wire((start + body, y), (x + length, y))
        self.ax.add_patch(Rectangle((start, y - 0.6), body, 1.2, fc="white", ec=INK, lw=1.3, zorder=3))
        if label:
            self.text(x + length / 2, y + (1.5 if label_above else -1.5), label, size=size, ha="center")

    def resistor_v(self, x, y, length, label="", size=8.5):
        """Vertical resistor from y down to y-length."""
        body = min(4.0, length * 0.6)
        top = y - (length - body) / 2
        self.wire((x, y), (x, top))
        self.wire((x, top - body), (x, y - length))
        self.ax.add_patch(Rectangle((x - 0.6, top - body), 1.2, body, fc="white", ec=INK, lw=1.3, zorder=3))
        if label:
            self.text(x + 1.2, top - body / 2, label, size=size)

    def diode_v(self, x, y_low, y_high, label=""):
        """Diode between y_low (anode) and y_high (cathode), conducting upwards."""
        mid = (y_low + y_high) / 2
        self.wire((x, y_low), (x, mid - 0.8))
        self.wire((x, mid + 0.8), (x, y_high))
        self.ax.add_patch(Polygon([(x - 0.9, mid - 0.8), (x + 0.9, mid - 0.8), (x, mid + 0.7)], closed=True,
                                  fc=INK, ec=INK, zorder=3))
        self.wire((x - 0.9, mid + 0.8), (x + 0.9, mid + 0.8), lw=1.8)
        if label:
            self.text(x + 1.4, mid, label, size=8.5)

    def contact(self, x, y, length, kind, label="", label_size=8.5):
        """Switch contact from x to x+length: 'NO' drawn open, 'NC' drawn closed against a stop."""
        a = x + length * 0.25
        b = x + length * 0.75
        self.wire((x, y), (a, y))
        self.wire((b, y), (x + length, y))
        self.dot(a, y)
        if kind == "NO":
            self.wire((a, y), (b, y + 1.5))
        else:
            self.wire((b, y), (b, y + 1.3))
            self.wire((a, y), (b + 0.2, y + 0.9))
        if label:
            self.text((a + b) / 2, y - 1.4, label, size=label_size, ha="center", color=GREY)

    def coil(self, x, y, label):
        self.ax.add_patch(Rectangle((x, y - 1.1), 3.2, 2.2, fc="white", ec=INK, lw=1.3, zorder=3))
        self.text(x + 1.6, y, label, size=8.5, ha="center", weight="bold")

    def ground(self, x, y, label="", protective=False):
        """Ground symbol hanging below (x, y)."""
        self.wire((x, y), (x, y - 1.0))
        for i, half in enumerate((1.2, 0.8, 0.4)):
            self.wire((x - half, y - 1.0 - i * 0.45), (x + half, y - 1.0 - i * 0.45), lw=1.4)
        if protective:
            self.ax.add_patch(Rectangle((x - 1.6, y - 2.6), 3.2, 2.0, fill=False, ec=GREEN, lw=1.0, zorder=3))
        if label:
            self.text(x + 2.0, y - 1.4, label, size=8.5, color=GREEN if protective else INK)


def _title(sh: _Sheet, cfg: dict) -> None:
    sh.text(2, 106.8, "gaslatch kitchen unit: wiring", size=17, weight="bold")
    sh.text(2, 103.6, "%s  -  pins and settings from deploy/config.example.json (BCM numbering, physical header "
            "pin in brackets). Every relay de-energised is the safe state: valve closed, fault signalled."
            % cfg["unit"]["name"], size=10, color=GREY)


def _rs485(sh: _Sheet, cfg: dict) -> None:
    bus = json.loads(metadata(cfg))["bus"]
    y_a, y_b, y_c, y_s = 96.0, 93.5, 91.0, 88.5
    sh.box(3, 83.5, 25, 16, FILL_DEV, "USB-RS485 adapter",
           "%s\n%d baud, 8%s%d, auto direction\nbias 560 \u03a9 to 5 V / 0 V: ONE point\n"
           "120 \u03a9 terminator: ON" % (bus["port"], bus["baud"], bus["parity"], bus["stop_bits"]),
           body_size=8.5)
    x0 = 28.0
    for y, name in ((y_a, "A / D+"), (y_b, "B / D\u2212"), (y_c, "0 V common")):
        sh.text(x0 + 0.6, y + 0.9, name, size=8, color=BLUE)
    sh.resistor_v(35.0, y_a, y_a - y_b)
    sh.dot(35.0, y_a)
    sh.dot(35.0, y_b)
    sh.text(36.2, y_a - 1.25, "120 \u03a9", size=8.5, weight="bold", color=RED)
    detectors = sorted(bus["detectors"].items(), key=lambda item: item[1])
    det_x = (48.0, 80.0)
    stub_dx = 6.0
    end_x = det_x[-1] + stub_dx + 5.0
    for y in (y_a, y_b, y_c):
        sh.wire((x0, y), (end_x, y), color=BLUE)
    sh.wire((x0, y_s), (end_x - 1.5, y_s), color=GREY, dashed=True)
    sh.dot(x0 + 1.5, y_s, color=GREY)
    sh.ground(x0 + 1.5, y_s, "shield: earth here only", protective=True)
    for i, ((name, address), x) in enumerate(zip(detectors, det_x)):
        det = cfg["detectors"][name]
        sh.box(x, 77.0, 22, 8.0, FILL_FIELD, "%s  (address %d)" % (name, address),
               "%s, %s\n+24 V / 0 V from the panel" % (det["profile"], det["gas"]), title_size=9.5, body_size=8.5)
        stub = x + stub_dx
        for y in (y_a, y_b, y_c):
            sh.dot(stub, y, color=BLUE)
            sh.wire((stub, y), (stub, 85.0), color=BLUE, lw=1.0)
        sh.text(stub + 0.6, 86.2, "stub \u2264 20 m", size=7.5, color=GREY)
        if i == 0:
            sh.text(stub + 4.0, (y_c + y_s) / 2, "shield joined through at each detector", size=7.5, color=GREY)
    sh.resistor_v(end_x, y_a, y_a - y_b)
    sh.dot(end_x, y_a)
    sh.dot(end_x, y_b)
    sh.text(end_x + 1.2, y_a - 1.25, "120 \u03a9 at the last detector", size=8.5, weight="bold", color=RED)
    sh.text(end_x + 1.2, y_s, "shield: cut back and insulated here", size=7.5, color=GREY)
    notes_x = 118.0
    sh.text(notes_x, 98.6, "RS-485: one daisy chain, no star", size=10, weight="bold", color=BLUE)
    sh.text(notes_x, 96.6, "shielded twisted pair for A/B and a third\nconductor for the 0 V common; 120 \u03a9 "
            "at the\ntwo ends only; up to 1000 m at 9600 baud;\nnever run it beside mains or fan-motor cables",
            size=8.5, va="top")
    sh.text(16.2, 81.2, "USB", size=8.5, color=GREY)
    sh.wire((15.5, 83.5), (15.5, 79.0), lw=2.6, color=GREY)


def _pi(sh: _Sheet, cfg: dict, out_y: list[float], in_y: list[float]) -> float:
    """The Pi with its header terminals; returns the x of the terminal edge."""
    x, y, w, h = 3.0, 26.0, 35.0, 53.0
    sh.box(x, y, w, h, FILL_PI)
    sh.text(x + 1.5, y + h - 2.2, "Raspberry Pi 3 / 4 / 5", size=12, weight="bold")
    sh.text(x + 1.5, y + h - 4.6, "Raspberry Pi OS Bookworm, gaslatch.service", size=8.5, color=GREY)
    edge = x + w
    lines = cfg["lines"]
    for (name, _, _), row_y in zip(OUTPUT_ROWS + INPUT_ROWS, out_y + in_y):
        sh.text(edge - 1.0, row_y, pin_label(lines[name]["pin"]), size=9.5, ha="right", weight="bold")
        sh.dot(edge, row_y)
    sh.text(x + 1.5, (out_y[-1] + in_y[0]) / 2, "40-pin header \u2192", size=8.5, color=GREY)
    sh.text(x + 1.5, out_y[1], "5 V in from the\n24\u21925 V converter\n\nhardware watchdog:\n"
            "dtparam=watchdog=on", size=8.5, va="top", color=GREY)
    return edge


def _line_name(sh: _Sheet, edge: float, y: float, name: str, active: str) -> None:
    sh.text(edge + 1.0, y + 1.0, name, size=8.5, color=BLUE, weight="bold")
    sh.text(edge + 1.0, y - 1.0, "active %s" % active, size=8, color=BLUE)


def _outputs(sh: _Sheet, cfg: dict, edge: float, rows_y: list[float]) -> None:
    lines = cfg["lines"]
    drv_x, drv_w = 56.0, 9.0
    top = rows_y[0] + 2.6
    bottom = rows_y[-1] - 2.6
    sh.box(drv_x, bottom, drv_w, top - bottom, FILL_DEV)
    sh.text(drv_x + drv_w / 2, (top + bottom) / 2, "ULN\n2803A\nrelay\ndriver\n\nCOM to\n+24 V\nGND to\n0 V\n\n10 k\u03a9\npull-down\nper input",
            size=8, ha="center")
    sh.text(drv_x + drv_w + 1.0, top + 1.2, "relay coils 24 V DC, between +24 V and the driver", size=8,
            color=GREY)
    coil_x = 69.0
    contact_x = 81.0
    load_x = 95.0
    for (name, relay, load), y in zip(OUTPUT_ROWS, rows_y):
        sh.wire((edge, y), (drv_x, y))
        _line_name(sh, edge, y, name, lines[name]["active"])
        sh.wire((drv_x + drv_w, y), (coil_x, y))
        sh.coil(coil_x, y, relay)
        sh.wire((coil_x + 1.6, y - 1.1), (coil_x + 1.6, y - 1.9), (contact_x + 2.4, y - 1.9),
                (contact_x + 2.4, y + 0.5), color=GREY, dashed=True, lw=1.0)
        if name == "fault_relay":
            sh.text(coil_x, y - 3.2, "dashed: a relay coil and its own contact", size=7.5, color=GREY)
            sh.net(contact_x - 0.6, y, "BMS", color=GREY, ha="right", size=7.5)
            sh.contact(contact_x, y, 6.0, "NO")
            sh.wire((contact_x + 6.0, y), (load_x - 1.0, y))
            sh.text(load_x, y, load, size=8.5)
            continue
        supply = "230 V L" if name == "fan" else "+24 V"
        sh.net(contact_x - 0.6, y, supply, color=RED, ha="right", size=7.5)
        sh.contact(contact_x, y, 6.0, "NO")
        sh.wire((contact_x + 6.0, y), (load_x, y))
        if name == "valve":
            _valve(sh, load_x, y, load)
        else:
            sh.ax.add_patch(Rectangle((load_x, y - 1.0), 3.0, 2.0, fc="white", ec=INK, lw=1.3, zorder=3))
            sh.wire((load_x + 3.0, y), (load_x + 4.4, y))
            sh.net(load_x + 4.5, y, "N" if name == "fan" else "0 V", color=GREY, size=7.5)
            sh.text(load_x + 8.6, y, load, size=8.5)


def _valve(sh: _Sheet, x: float, y: float, label: str) -> None:
    """Valve coil with its flyback diode in parallel (cathode to the + side)."""
    coil_w = 4.0
    sh.ax.add_patch(Rectangle((x, y - 1.2), coil_w, 2.4, fc="#ffe9e9", ec=RED, lw=1.6, zorder=3))
    sh.text(x + coil_w / 2, y, "Y1", size=8.5, ha="center", weight="bold", color=RED)
    sh.wire((x + coil_w, y), (x + coil_w + 2.4, y))
    sh.net(x + coil_w + 2.5, y, "0 V", color=GREY, size=7.5)
    d_y = y + 2.6
    left = x - 1.0
    right = x + coil_w + 0.9
    sh.dot(left, y)
    sh.dot(right, y)
    sh.wire((left, y), (left, d_y))
    sh.wire((right, y), (right, d_y))
    mid = x + coil_w / 2
    sh.wire((left, d_y), (mid - 0.8, d_y))
    sh.wire((mid + 0.8, d_y), (right, d_y))
    # Conducts from the 0 V side (right) to the + side (left): the cathode bar faces +24 V.
    sh.ax.add_patch(Polygon([(mid + 0.8, d_y - 0.9), (mid + 0.8, d_y + 0.9), (mid - 0.7, d_y)], closed=True,
                            fc=INK, ec=INK, zorder=3))
    sh.wire((mid - 0.8, d_y - 0.9), (mid - 0.8, d_y + 0.9), lw=1.8)
    sh.text(right + 0.8, d_y + 0.4, "D1 1N4007 flyback diode across the valve coil, cathode to +24 V", size=8,
            color=GREY)
    sh.text(x + 13.0, y - 0.4, label, size=8.5, color=RED, weight="bold")


def _inputs(sh: _Sheet, cfg: dict, edge: float, rows_y: list[float]) -> None:
    lines = cfg["lines"]
    cond_x, cond_w = 56.0, 9.0
    top = rows_y[0] + 2.2
    bottom = rows_y[-1] - 2.2
    sh.box(cond_x, bottom, cond_w, top - bottom, FILL_DEV)
    sh.text(cond_x + cond_w / 2, (top + bottom) / 2, "each input:\n1 k\u03a9 series\n10 k\u03a9 to 0 V\n100 nF to 0 V",
            size=8, ha="center")
    contact_x = 71.0
    for (name, kind, device), y in zip(INPUT_ROWS, rows_y):
        sh.wire((edge, y), (cond_x, y))
        _line_name(sh, edge, y, name, lines[name]["active"])
        sh.wire((cond_x + cond_w, y), (contact_x, y))
        sh.contact(contact_x, y, 7.0, kind)
        sh.text(contact_x + 3.5, y - 1.3, kind, size=8, ha="center", color=GREY)
        sh.wire((contact_x + 7.0, y), (contact_x + 8.0, y))
        sh.net(contact_x + 8.1, y, "3V3", color=ORANGE, size=7.5)
        sh.text(contact_x + 13.0, y, device, size=8.5)
    sh.text(contact_x + 13.0, rows_y[-1] - 3.0,
            "3V3 = header pin 1 or 17. The fire contact is normally closed and read active low, so a cut wire is a "
            "fire\ninput (gas off). The NO switches read active high: a cut wire is 'not closed' / 'not proven' / "
            "'not pressed'.", size=8, va="top", color=GREY)


def _analog(sh: _Sheet, cfg: dict) -> None:
    analog = cfg["analog"]
    shunt = analog["shunt_ohm"]
    adc_x, adc_y, adc_w, adc_h = 22.0, 3.0, 16.0, 16.0
    sh.box(adc_x, adc_y, adc_w, adc_h, FILL_DEV, "ADS1115", "I2C bus %d\naddress 0x%02X (%d)\nADDR to GND"
           % (analog["i2c_bus"], analog["address"], analog["address"]), body_size=8.5)
    for i, adc_pin in enumerate(("VDD", "SDA", "SCL", "GND")):
        x = adc_x + 2.0 + i * 3.6
        sh.wire((x, adc_y + adc_h), (x, 27.0))
        sh.dot(x, 27.0)
        sh.text(x + 0.3, adc_y + adc_h + 1.3, adc_pin, size=7.5, color=BLUE)
    sh.text(43.0, 23.0, "ADS1115 to the Pi: VDD to 3V3 (pin 1), SDA to %s,\nSCL to %s, GND to GND (pin 9)"
            % (pin_label(I2C1_SDA_BCM), pin_label(I2C1_SCL_BCM)), size=8, color=GREY)
    sh.box(3.0, 6.0, 11.0, 11.0, FILL_FIELD, "4-20 mA", "2-wire detector\n(optional;\nchannel ain0)",
           title_size=9.5, body_size=8)
    sh.net(5.5, 21.0, "+24 V", color=RED, size=7.5)
    sh.wire((8.5, 20.3), (8.5, 17.0))
    node_x, node_y = 16.0, 9.0
    sh.wire((14.0, node_y), (node_x, node_y))
    sh.dot(node_x, node_y)
    sh.resistor_h(node_x, node_y, adc_x - node_x, "1 k\u03a9", size=8)
    sh.text(adc_x + 0.6, node_y, "AIN0", size=8.5, color=BLUE, weight="bold")
    sh.resistor_v(node_x, node_y, 5.5)
    sh.text(node_x + 1.2, node_y - 2.2, "%g \u03a9" % shunt, size=8.5, weight="bold", color=RED)
    sh.ground(node_x, node_y - 5.5)
    sh.text(43.0, 16.5, "shunt %g \u03a9, 0.1 %%, 0.25 W: 4 mA = %.2f V, 20 mA = %.2f V,\n"
            "21 mA = %.2f V (over-range). Loop 0 V = Pi GND." % (shunt, 0.004 * shunt, 0.020 * shunt, 0.021 * shunt),
            size=8, color=GREY)


def _power(sh: _Sheet) -> None:
    x, y, w, h = 84.0, 4.0, 36.0, 13.0
    sh.box(x, y, w, h, FILL_POWER, "24 V DC supply with battery backup",
           "DC-UPS + sealed lead-acid battery, sized for\n8 h standby + 30 min alarm (GB 16808);\n"
           "feeds detectors, Pi, relays, sounder, beacon, valve", body_size=8.5)
    sh.net(x + w + 1.5, y + h - 3.0, "+24 V", color=RED, size=8)
    sh.net(x + w + 1.5, y + h - 7.0, "0 V", color=GREY, size=8)
    sh.text(x + w + 8.0, y + h - 3.0, "\u2192 DC-DC 24\u21925 V, 3 A (5 A for a Pi 5) \u2192 Pi", size=8.5)
    sh.text(x + w + 8.0, y + h - 7.0, "one 0 V for all: Pi GND, ULN2803A,\nADS1115, RS-485 common", size=8.5)
    sh.text(x, y - 1.8, "230 V AC mains feeds the supply and the fan contactor (the fan is not battery-backed).",
            size=8, color=GREY)


def draw(cfg: dict) -> Figure:
    """The wiring diagram of `cfg` (a normalised configuration) as a 1600 x 1100 px figure."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH_U)
    ax.set_ylim(0, HEIGHT_U)
    ax.set_axis_off()
    sh = _Sheet(ax)
    out_y = [71.0, 66.0, 61.0, 56.0, 51.0]
    in_y = [44.5, 40.5, 36.5, 32.5, 28.5]
    _title(sh, cfg)
    _rs485(sh, cfg)
    edge = _pi(sh, cfg, out_y, in_y)
    _outputs(sh, cfg, edge, out_y)
    _inputs(sh, cfg, edge, in_y)
    _analog(sh, cfg)
    _power(sh)
    return fig


def write_png(cfg: dict, path: Path) -> None:
    """Draws `cfg` into the PNG at `path`, with the configuration it shows stored as PNG text."""
    fig = draw(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None, METADATA_KEY: metadata(cfg)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaslatch_tools.wiring_diagram", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="configuration (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the PNG does not show the configuration")
    args = parser.parse_args(argv)
    cfg = load_example(args.config)
    if args.check:
        if stored_metadata(args.output) == metadata(cfg):
            return 0
        print("%s does not match %s; run: python -m gaslatch_tools.wiring_diagram" % (args.output, args.config),
              file=sys.stderr)
        return 1
    write_png(cfg, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
