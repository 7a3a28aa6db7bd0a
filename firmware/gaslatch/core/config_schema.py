"""The configuration rules as data: SCHEMA, a JSON Schema (draft 2020-12 subset) of the controller's config file.

json_schema_subset.py interprets it (driven by config.py) on the unit, docs/config.schema.json publishes it for editors and tools.
"""

from gaslatch.core import constants
from gaslatch.core import modbus_rtu
from gaslatch.core.json_schema_subset import DRAFT, one_of_branch

# Names of buses, detectors, zones and profiles: short, lower case, safe in file names and event
# records. config.py holds a hand-written checker for each pattern used here (no `re` on MicroPython).
NAME_PATTERN = "^[a-z0-9][a-z0-9_-]{0,31}$"
# 24-hour wall-clock time "HH:MM".
TIME_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
# A calendar date "YYYY-MM-DD" (install and calibration dates); config.py's checker also refuses 2026-02-30.
DATE_PATTERN = "^20[0-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# Every other text (file and device paths, host names, group and user names): no NUL, no control
# character, no lone UTF-16 surrogate. A NUL in a path crashes the OS call that gets it; a surrogate
# cannot be written to the journal, the store or a topic.
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$"
# The unit's site and name are also MQTT topic levels (uplink_wire): no '/', '+' or '#' either.
IDENTITY_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff/+#]*$"

TEXT_MAX_LENGTH = 64
PATH_MAX_LENGTH = 255
LOCATION_MAX_LENGTH = 128
LINE_MAX_LENGTH = 64

DEFAULT_BAUD = 9600
DEFAULT_PARITY = "N"
DEFAULT_STOP_BITS = 1
# A reply to a 10-register read takes ~34 ms of wire time at 9600 baud (REFERENCE.md): 20 ms only
# suits fast lines; 2 s covers the slowest devices seen.
MIN_RESPONSE_TIMEOUT_MS = 20
MAX_RESPONSE_TIMEOUT_MS = 2000
MIN_POLL_INTERVAL_MS = 100
MAX_POLL_INTERVAL_MS = 10000

# 4-20 mA: 20 mA is the detector's full scale, at most 100 %LEL (Macurco GD-6 is 0-50 %LEL).
DEFAULT_FULL_SCALE_PCT_LEL = 100
MAX_FULL_SCALE_PCT_LEL = 100
DEFAULT_ANALOG_PROFILE = "analog-ne43"
DEFAULT_CONTACT_PROFILE = "contact-dry"
DEFAULT_ZONE = "default"
GASES = sorted(constants.LEL_PCT_VOL)
DEFAULT_GAS = "methane"
MEASURANDS = list(constants.MEASURANDS)
# CO and CO2 set points in ppm: the schema bounds every value; config.py caps each measurand's trip level
# (constants.TOXIC_MAX_HIGH) and fills its defaults (constants.TOXIC_DEFAULTS), which differ per measurand.
MAX_ALARM_PPM = 10000
MAX_HYSTERESIS_PPM = 1000
# A 4-20 mA CO2 transmitter spans 0-5000 or 0-10000 ppm; 10 %vol bounds any sensor.
MAX_FULL_SCALE_PPM = 100000

# Each part of the 100 s fault budget alone (constants.MAX_FAULT_DECLARE_TOTAL_S caps their sum).
MIN_COMM_LOST_AFTER_S = 1
MAX_COMM_LOST_AFTER_S = 60
MAX_FAULT_TRIP_AFTER_S = 90
MIN_WARMUP_MAX_S = 10

VALVE_TYPES = ["hold", "pulse", "motorised"]
VALVE_FEEDBACKS = ["none", "closed", "both"]
VALVE_STARTUPS = ["manual_reset", "auto_arm_external_manual_valve"]
MIN_VALVE_PULSE_MS = 100
MAX_VALVE_PULSE_MS = 5000

FAN_MODES = ["alarm", "continuous"]
MAX_FAN_RUN_ON_S = 3600
MIN_FAN_PROVING_GRACE_S = 1
MAX_FAN_PROVING_GRACE_S = 60

MIN_SILENCE_S = 30
MIN_INHIBIT_MAX_MIN = 1
MIN_TWO_DETECTOR_TIMEOUT_S = 1
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# The kitchen unit's platform (the `unit` package on a Raspberry Pi). The core ignores these
# sections; `gaslatch run` and `gaslatch check-config` check the wiring they describe.
BUS_DIRECTIONS = ["auto", "kernel", "gpio"]
GPIO_BACKENDS = ["gpiod", "rpi", "sim"]
DEFAULT_GPIO_CHIP = "/dev/gpiochip0"
DEFAULT_GPIO_SIM_DIR = "/run/gaslatch/gpio"
# Contacts bounce for a few ms; 30 ms is below any safety timing and well above contact bounce.
DEFAULT_DEBOUNCE_MS = 30
MAX_DEBOUNCE_MS = 500
# BCM GPIO numbers on the 40-pin header of every Raspberry Pi since the B+.
MAX_BCM_PIN = 27
LINE_ACTIVE = ["high", "low"]
# ADS1115: four single-ended inputs, I2C addresses 0x48-0x4B. A 150 ohm shunt turns 20 mA into 3.0 V,
# inside the ADC's range on a 3.3 V supply, and 21 mA (over-range) into 3.15 V.
ADS1115_ADDRESSES = [72, 73, 74, 75]
DEFAULT_SHUNT_OHM = 150
MIN_SHUNT_OHM = 10
MAX_SHUNT_OHM = 500
MAX_I2C_BUS = 22
DEFAULT_ANALOG_SAMPLE_MS = 250
MAX_DAILY_CHECK_ITEMS = 12
DAILY_CHECK_ITEMS = [
    {"id": "stove", "zh": "灶具、炉头无异常，不用的已关闭", "en": "Stoves and burners in order; unused ones off"},
    {"id": "hose", "zh": "连接软管无老化、破损、松脱", "en": "Hoses not aged, cracked or loose"},
    {"id": "valve", "zh": "紧急切断阀和手动总阀在位、无异常", "en": "Shutoff valve and manual isolation valve in order"},
    {"id": "detector_lamps", "zh": "探测器电源灯亮、无故障指示", "en": "Detectors' power lamps on, no fault lamp"},
]
DEFAULT_STORE_PATH = "/var/lib/gaslatch/events.db"
DEFAULT_STORE_MAX_EVENTS = 100000  # the floor; GB 16808 (unverified): >= 999 events kept
MIN_STORE_MAX_EVENTS = 1000
MAX_STORE_MAX_EVENTS = 10000000
DEFAULT_CONTROL_SOCKET = "/run/gaslatch/control.sock"
# Written by deploy/install.sh (`gaslatch-unit manifest write`): the installed code's and profiles' hashes.
DEFAULT_MANIFEST_PATH = "/etc/gaslatch/manifest.json"
MAX_CONFIG_VERSION = 2 ** 31 - 1
DEFAULT_CONTROL_GROUP = "gaslatch"
# A reset asked for over the socket is carried out only if the button on site is pressed this soon.
DEFAULT_RESET_WINDOW_S = 60
DEFAULT_WATCHDOG_DEVICE = "/dev/watchdog"
# bcm2835 hardware watchdog: at most about 15 s.
DEFAULT_WATCHDOG_TIMEOUT_S = 15
MAX_WATCHDOG_TIMEOUT_S = 15
LOG_LEVELS = ["debug", "info", "warning", "error"]


def _integer(minimum, maximum, description, default=None):
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _number(minimum, maximum, description, default=None):
    schema = {"type": "number", "minimum": minimum, "maximum": maximum, "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _text(min_length, max_length, description, default=None, pattern=TEXT_PATTERN):
    schema = {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": pattern,
              "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _name(description, default=None):
    schema = {"type": "string", "pattern": NAME_PATTERN, "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _choice(values, description, default=None, type_name="string"):
    schema = {"type": type_name, "enum": list(values), "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _flag(description, default):
    return {"type": "boolean", "default": default, "description": description}


def _weekdays(description, min_items=0, default=None):
    """A list of days, mon ... sun, none twice."""
    schema = {"type": "array", "items": {"type": "string", "enum": list(DAYS)}, "uniqueItems": True,
              "description": description}
    if min_items:
        schema["minItems"] = min_items
    if default is not None:
        schema["default"] = default
    return schema


def _date(description):
    return {"type": "string", "pattern": DATE_PATTERN, "description": description}


def _section(properties, description, required=None):
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "description": description,
    }
    if required:
        schema["required"] = list(required)
    else:
        schema["default"] = {}
    return schema


def _named(value_schema, description, min_properties=0):
    schema = {
        "type": "object",
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": value_schema,
        "description": description,
    }
    if min_properties:
        schema["minProperties"] = min_properties
    else:
        schema["default"] = {}
    return schema


UNIT = _section(
    {
        "site": _text(1, TEXT_MAX_LENGTH, "Site identifier used by the monitoring platform, e.g. the "
                      "restaurant's registration number. 1-64 characters, none of them '/', '+' or '#'.",
                      pattern=IDENTITY_PATTERN),
        "name": _text(1, TEXT_MAX_LENGTH, "Name of this controller, shown in events and on the platform, "
                      "e.g. 'main kitchen'. 1-64 characters, none of them '/', '+' or '#'.",
                      pattern=IDENTITY_PATTERN),
    },
    "Who this controller is. Required.",
    required=["site", "name"],
)

SCAN = _section(
    {
        "period_ms": _integer(
            constants.MIN_SCAN_PERIOD_MS, constants.MAX_SCAN_PERIOD_MS,
            "Period of the control loop in ms: inputs are read and outputs set once per period. Keep it "
            "short: a linkage output must follow its condition within 3 s (GB 16808 / GB 50166 "
            "commissioning limit).",
            constants.DEFAULT_SCAN_PERIOD_MS,
        ),
    },
    "The control loop.",
)

BUS = _section(
    {
        "port": _text(1, PATH_MAX_LENGTH, "Serial device of the RS-485 adapter, e.g. /dev/ttyUSB0, or better a "
                      "stable name under /dev/serial/by-id/."),
        "baud": _choice(
            list(modbus_rtu.BAUDS),
            "Line speed in baud, one of the standard Modbus serial-line rates. Every detector on the bus "
            "must use the same; typical gas modules ship at 9600.",
            DEFAULT_BAUD, "integer",
        ),
        "parity": _choice(
            modbus_rtu.PARITIES,
            "Parity: N none, E even, O odd. Must match the detectors; most gas detectors ship with N "
            "(the Modbus serial-line specification's default is E).",
            DEFAULT_PARITY,
        ),
        "stop_bits": _choice(modbus_rtu.STOP_BITS, "Stop bits, 1 or 2. Must match the detectors.", DEFAULT_STOP_BITS,
                             "integer"),
        "response_timeout_ms": _integer(
            MIN_RESPONSE_TIMEOUT_MS, MAX_RESPONSE_TIMEOUT_MS,
            "How long to wait for a detector's reply before the poll counts as failed, in ms.",
            constants.DEFAULT_RESPONSE_TIMEOUT_MS,
        ),
        "retries": _integer(
            0, constants.MAX_RETRIES,
            "Retries of a failed poll before it counts as a missed reading. Detector vendors advise up "
            "to 3.",
            constants.DEFAULT_RETRIES,
        ),
        "direction": _choice(
            BUS_DIRECTIONS,
            "How the RS-485 transceiver is switched between sending and receiving: auto (USB adapters "
            "that switch by themselves), kernel (the UART driver's RS-485 mode drives RTS as DE/RE), gpio "
            "(a GPIO line named in de_line drives DE/RE).",
            "auto",
        ),
        "de_line": _name("With direction gpio: the line (under lines) wired to the transceiver's DE/RE "
                         "pins."),
    },
    "One RS-485 Modbus RTU bus.",
    required=["port"],
)

DETECTOR_COMMON = {
    "zone": _name(
        "Zone (room or area) the detector watches. Zones group detectors for two-detector "
        "confirmation; see zones.",
        DEFAULT_ZONE,
    ),
    "location": _text(
        0, LOCATION_MAX_LENGTH,
        "Where the detector is mounted, for people, e.g. 'ceiling above wok range 2'. GB 50028: natural "
        "gas detectors within 8 m of the appliance and at most 0.3 m below the ceiling; LPG detectors "
        "within 4 m and at most 0.3 m above the floor.",
        "",
    ),
    "gas": _choice(
        GASES,
        "Gas the detector is calibrated for; it sets the lower explosive limit (methane 5 %vol, propane "
        "and LPG 2.1 %vol).",
        DEFAULT_GAS,
    ),
    "measurand": _choice(
        MEASURANDS,
        "What the detector measures: combustible gas (set points in %LEL), co (carbon monoxide) or co2 (carbon "
        "dioxide), whose set points are in ppm (low_alarm_ppm, high_alarm_ppm, hysteresis_ppm) and never in "
        "%LEL. CJJ/T 146: a kitchen system has a CO detector; IGEM/UP/19: CO2 interlocked with the gas.",
        constants.MEASURAND_COMBUSTIBLE,
    ),
    "low_alarm_ppm": _number(
        1, MAX_ALARM_PPM,
        "CO or CO2 detectors only: the warning level in ppm (fan and sounder; the gas stays on). Default: CO 20 "
        "ppm (EH40 8-hour limit), CO2 2000 ppm. Must be below high_alarm_ppm.",
    ),
    "high_alarm_ppm": _number(
        1, MAX_ALARM_PPM,
        "CO or CO2 detectors only: the level in ppm that closes the gas (latched until a local reset). Default: "
        "CO 100 ppm (EH40 15-minute limit; at most 300), CO2 2800 ppm (IGEM/UP/19 new kitchens; at most 5000, "
        "its level for existing kitchens).",
    ),
    "hysteresis_ppm": _number(
        0, MAX_HYSTERESIS_PPM,
        "CO or CO2 detectors only: an alarm clears only once the reading is this far below its set point, in "
        "ppm. Default: CO 5 ppm, CO2 200 ppm.",
    ),
    "low_alarm_pct_lel": _number(
        constants.MIN_ALARM_PCT_LEL, constants.MAX_LOW_ALARM_PCT_LEL,
        "First (low) alarm set point in %LEL. Must be below the high alarm. Design codes cap the first "
        "alarm at 25 %LEL (GB/T 50493, UL 2075); restaurant products alarm at 10 %LEL.",
        constants.DEFAULT_LOW_ALARM_PCT_LEL,
    ),
    "high_alarm_pct_lel": _number(
        constants.MIN_ALARM_PCT_LEL, constants.MAX_HIGH_ALARM_PCT_LEL,
        "Second (high) alarm set point in %LEL. Design codes cap the second alarm at 50 %LEL "
        "(GB/T 50493, UL 2075).",
        constants.DEFAULT_HIGH_ALARM_PCT_LEL,
    ),
    "hysteresis_pct_lel": _number(
        0, constants.MAX_HYSTERESIS_PCT_LEL,
        "An alarm clears only once the reading is this far below its set point, so a reading that "
        "hovers at the set point does not make the alarm chatter. In %LEL.",
        constants.DEFAULT_HYSTERESIS_PCT_LEL,
    ),
    "installed": _date("Date the detector was installed, YYYY-MM-DD. Its end of life (3 years in a commercial "
                       "kitchen, CJJ/T 146) and first calibration are counted from it. Optional, but without it "
                       "no reminder can be given."),
    "calibrated": _date("Date of the detector's last calibration or bump test, YYYY-MM-DD; the next one is due "
                        "maintenance.calibration_interval_days later. Optional (counted from installed)."),
    "model": _text(0, TEXT_MAX_LENGTH, "The detector's make and model, as on its label.", ""),
    "serial": _text(0, TEXT_MAX_LENGTH, "The detector's serial number, as on its label.", ""),
}


def _detector(kind, description, properties, required):
    return one_of_branch("kind", kind, description, DETECTOR_COMMON, properties, required)


MODBUS_DETECTOR = _detector(
    "modbus",
    "modbus: a detector read over an RS-485 Modbus RTU bus.",
    {
        "bus": {"type": "string", "minLength": 1,
                "description": "Name of the bus (a key of buses) the detector is wired to."},
        "address": _integer(
            modbus_rtu.MIN_SLAVE, modbus_rtu.MAX_SLAVE,
            "Modbus slave address set on the detector, %d-%d (Modbus application protocol: 0 is "
            "broadcast, %d-255 are reserved). Each address is used once per bus."
            % (modbus_rtu.MIN_SLAVE, modbus_rtu.MAX_SLAVE, modbus_rtu.MAX_SLAVE + 1),
        ),
        "profile": _name("Detector profile: the register map of the detector model, by name (a file "
                         "in the firmware's profiles folder)."),
        "poll_interval_ms": _integer(
            MIN_POLL_INTERVAL_MS, MAX_POLL_INTERVAL_MS,
            "Time between polls of this detector in ms. Detector vendors advise at least 500 ms between "
            "polls of one address.",
            constants.DEFAULT_POLL_INTERVAL_MS,
        ),
    },
    ["bus", "address", "profile"],
)

ANALOG_DETECTOR = _detector(
    "analog",
    "analog: a detector with a 4-20 mA current loop output.",
    {
        "channel": _text(1, LINE_MAX_LENGTH, "Analog input channel the current loop is wired to."),
        "profile": _name(
            "Loop-current profile by name. The default reads 4 mA as zero and 20 mA as full scale, with "
            "the NAMUR NE43 failure bands (at or below 3.6 mA, at or above 21 mA).",
            DEFAULT_ANALOG_PROFILE,
        ),
        "full_scale_pct_lel": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_FULL_SCALE_PCT_LEL,
            "default": DEFAULT_FULL_SCALE_PCT_LEL,
            "description": "Concentration the detector reports at 20 mA, in %LEL, from its data sheet "
                           "(some models are 0-50 %LEL). Must be at least the high alarm. Combustible gas only.",
        },
        "full_scale_ppm": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_FULL_SCALE_PPM,
            "description": "CO or CO2 detectors only, and required for them: the concentration the transmitter "
                           "reports at 20 mA, in ppm, from its data sheet (a CO2 transmitter is 0-5000 or "
                           "0-10000 ppm). Must be at least high_alarm_ppm.",
        },
    },
    ["channel"],
)

CONTACT_DETECTOR = _detector(
    "contact",
    "contact: a detector with a dry relay contact (alarm or not).",
    {
        "line": _text(1, LINE_MAX_LENGTH, "Input line wired to the detector's alarm relay contact."),
        "fault_line": _text(1, LINE_MAX_LENGTH, "Input line wired to the detector's fault relay contact, "
                            "if it has one. Optional; no default."),
        "profile": _name("Contact profile by name: how the contact and fault lines are read.",
                         DEFAULT_CONTACT_PROFILE),
    },
    ["line"],
)

DETECTOR = {
    "type": "object",
    "description": "One gas detector. kind says how it is connected: modbus, analog (4-20 mA) or contact.",
    "oneOf": [MODBUS_DETECTOR, ANALOG_DETECTOR, CONTACT_DETECTOR],
}

ZONE = _section(
    {
        "two_detector_confirmation": _flag(
            "GB 16808-2025 option: a high alarm in this zone needs a second detector of the zone to "
            "confirm it, or must last two_detector_timeout_s. Needs at least 2 detectors in the zone.",
            False,
        ),
        "two_detector_timeout_s": _integer(
            MIN_TWO_DETECTOR_TIMEOUT_S, constants.MAX_TWO_DETECTOR_TIMEOUT_S,
            "With two-detector confirmation, a lone high alarm still trips after this many seconds.",
            constants.DEFAULT_TWO_DETECTOR_TIMEOUT_S,
        ),
    },
    "Settings of one zone.",
)

ALARM = _section(
    {
        "confirm_samples": _integer(
            1, constants.MAX_CONFIRM_SAMPLES,
            "An alarm level is confirmed by this many consecutive readings at or above it, or by "
            "holding for confirm_window_ms, whichever comes first. GB 16808: alarm within 10 s of the "
            "detector signal.",
            constants.DEFAULT_CONFIRM_SAMPLES,
        ),
        "confirm_window_ms": _integer(
            0, constants.MAX_CONFIRM_WINDOW_MS,
            "See confirm_samples. In ms; capped well inside the 10 s budget of GB 16808.",
            constants.DEFAULT_CONFIRM_WINDOW_MS,
        ),
        "comm_lost_after_s": _integer(
            MIN_COMM_LOST_AFTER_S, MAX_COMM_LOST_AFTER_S,
            "A detector that has not answered for this long is lost (a fault). comm_lost_after_s + "
            "fault_trip_after_s must be at most 100 s: GB 16808 / GB 50166 commissioning limit for a "
            "lost or broken detector.",
            constants.DEFAULT_COMM_LOST_AFTER_S,
        ),
        "fault_trip_after_s": _integer(
            0, MAX_FAULT_TRIP_AFTER_S,
            "A fault or lost detector that lasts this many seconds more closes the valve. See "
            "comm_lost_after_s for the 100 s limit on the sum.",
            constants.DEFAULT_FAULT_TRIP_AFTER_S,
        ),
        "clear_hold_s": _integer(
            constants.MIN_CLEAR_HOLD_S, constants.MAX_CLEAR_HOLD_S,
            "An alarm, fault, comm loss or warm-up ends only when the detector has been clear (normal "
            "status, reading below the low set point minus hysteresis) for this many seconds since its "
            "last bad report, and for clear_hold_samples samples in a row; a reset is refused until then. "
            "One good sample after a bad one proves nothing.",
            constants.DEFAULT_CLEAR_HOLD_S,
        ),
        "clear_hold_samples": _integer(
            constants.MIN_CLEAR_HOLD_SAMPLES, constants.MAX_CLEAR_HOLD_SAMPLES,
            "See clear_hold_s: clean samples in a row, with no failed poll between, needed as well.",
            constants.DEFAULT_CLEAR_HOLD_SAMPLES,
        ),
        "warmup_max_s": _integer(
            MIN_WARMUP_MAX_S, constants.MAX_WARMUP_MAX_S,
            "A detector still warming up after this many seconds becomes a fault. GB 16808: normal "
            "monitoring after at most 20 min of warm-up.",
            constants.DEFAULT_WARMUP_MAX_S,
        ),
    },
    "How readings become alarms and faults.",
)

VALVE = _section(
    {
        "type": _choice(
            VALVE_TYPES,
            "hold: held open while energised, closes on power loss (GB 50028: closed on power loss); "
            "pulse: a short pulse closes it (e.g. 24 V, 1 A, 0.5 s); motorised: a motor drives it both "
            "ways and it needs feedback 'both'.",
            "hold",
        ),
        "travel_s": _integer(
            1, constants.MAX_VALVE_TRAVEL_S,
            "Longest time the valve takes to move fully (its stroke time), in seconds.",
            constants.DEFAULT_VALVE_TRAVEL_S,
        ),
        "pulse_ms": _integer(
            MIN_VALVE_PULSE_MS, MAX_VALVE_PULSE_MS,
            "Length of the pulse that drives a pulse valve, in ms (typically 500).",
            constants.DEFAULT_VALVE_PULSE_MS,
        ),
        "feedback": _choice(
            VALVE_FEEDBACKS,
            "Position switches wired back to the controller: none, closed (a closed limit switch), or "
            "both (open and closed limit switches).",
            "none",
        ),
        "startup": _choice(
            VALVE_STARTUPS,
            "At power-up. manual_reset: the gas stays off until someone presses reset on site (BS 6173, "
            "NFPA 96: restoring gas needs manual intervention). auto_arm_external_manual_valve: only for "
            "a hold valve that is itself reopened by hand on site; the controller energises it at "
            "start-up, and a person must still open it at the valve.",
            "manual_reset",
        ),
        "installed": _date("Date the valve was installed, YYYY-MM-DD: its end of life is 10 years later "
                           "(CJJ/T 146). Optional, but without it no reminder can be given."),
        "model": _text(0, TEXT_MAX_LENGTH, "The valve's make and model, as on its label.", ""),
        "serial": _text(0, TEXT_MAX_LENGTH, "The valve's serial number, as on its label.", ""),
    },
    "The emergency shutoff valve.",
)

FAN = _section(
    {
        "mode": _choice(
            FAN_MODES,
            "alarm: the exhaust fan starts at the low alarm and runs on for run_on_s after it clears; "
            "continuous: the fan runs all the time.",
            "alarm",
        ),
        "run_on_s": _integer(0, MAX_FAN_RUN_ON_S, "Minimum time the fan keeps running after the alarm "
                             "clears, in seconds.", constants.DEFAULT_FAN_RUN_ON_S),
        "proving": _flag(
            "An airflow proving input is wired (differential-pressure switch or fan-current relay). The "
            "gas then needs proven airflow: a fan that does not prove within proving_grace_s closes the "
            "gas (BS 6173).",
            False,
        ),
        "proving_grace_s": _integer(
            MIN_FAN_PROVING_GRACE_S, MAX_FAN_PROVING_GRACE_S,
            "Time the fan has to prove airflow after it is started, in seconds.",
            constants.DEFAULT_FAN_PROVING_GRACE_S,
        ),
        "loss_confirm_s": _integer(
            1, constants.MAX_FAN_LOSS_CONFIRM_S,
            "Once proven, airflow must be lost this long without a break before the gas closes, in "
            "seconds: wind gusts that make the switch chatter close nothing, a dead fan closes the gas.",
            constants.DEFAULT_FAN_LOSS_CONFIRM_S,
        ),
        "rundown_s": _integer(
            1, constants.MAX_FAN_RUNDOWN_S,
            "No-air check at power-on, with the fan line wired: the fan is held off until the airflow "
            "switch opens; still made after this many seconds (longer than the fan takes to run down) "
            "is a bridged or stuck switch, a fault that keeps the gas off.",
            constants.DEFAULT_FAN_RUNDOWN_S,
        ),
        "bs6173": _flag(
            "BS 6173 mode: the gas is interlocked with the extract fan, and no setting may disable it "
            "(the config refuses proving false and fan mode alarm).",
            False,
        ),
    },
    "The exhaust fan output.",
)

SOUNDER = _section(
    {
        "silence_s": _integer(
            MIN_SILENCE_S, constants.MAX_SILENCE_S,
            "How long a silenced sounder stays quiet, in seconds; a new alarm re-sounds at once "
            "(GB 16808).",
            constants.DEFAULT_SILENCE_S,
        ),
    },
    "The sounder and beacon output.",
)

INTERLOCKS = _section(
    {
        "fire_input": _flag("A fire alarm panel contact is wired to the fire input; it shuts the gas "
                            "(GB 50116 linkage).", False),
        "estop_input": _flag("An emergency-stop button is wired to the e-stop input; pressing it shuts "
                             "the gas.", False),
    },
    "External inputs that shut the gas.",
)

PROVING_MODES = ["none", "switch", "transmitter"]
PROVING_TRANSMITTER = _section(
    {
        "channel": _text(1, LINE_MAX_LENGTH, "Analog input channel of the transmitter (ain0-ain3 on the unit).",
                         "ain3"),
        "range_kpa": _number(1, 100, "Pressure at 20 mA, in kPa (4 mA is 0).", constants.DEFAULT_PROVING_RANGE_KPA),
        "low_kpa": _number(0, 50, "In the check, pressure above this is gas downstream of a closed valve.",
                           constants.DEFAULT_PROVING_LOW_KPA),
        "fill_kpa": _number(0, 50, "The fill must reach this pressure; below the supply's pressure.",
                            constants.DEFAULT_PROVING_FILL_KPA),
        "max_drop_kpa": _number(0, 10, "In the watch, a drop of more than this from the filled pressure fails.",
                                constants.DEFAULT_PROVING_MAX_DROP_KPA),
    },
    "A 4-20 mA pressure transmitter on the pipework downstream of the valve.",
)

PROVING = _section(
    {
        "mode": _choice(
            PROVING_MODES,
            "none: the gas opens at an accepted local reset. switch: a low-pressure switch downstream of the "
            "valve (input line gas_pressure, made when pressure is present); transmitter: a 4-20 mA pressure "
            "transmitter. Either proves the pipework tight after every accepted reset before the gas stays on "
            "(BS 6173 where appliances lack flame-failure devices).",
            "none",
        ),
        "check_s": _integer(1, constants.MAX_PROVING_PHASE_S, "Check: with the valve closed, no pressure "
                            "downstream for this long (a passing main valve fails it).",
                            constants.DEFAULT_PROVING_CHECK_S),
        "fill_s": _integer(1, constants.MAX_PROVING_PHASE_S, "Fill: the valve opens until the pressure is reached, "
                           "for at most this long.", constants.DEFAULT_PROVING_FILL_S),
        "watch_s": _integer(5, constants.MAX_PROVING_PHASE_S, "Watch: with the valve closed again, the pressure "
                            "must hold this long (Merlin 2000C: 20 s).", constants.DEFAULT_PROVING_WATCH_S),
        "transmitter": PROVING_TRANSMITTER,
    },
    "Gas pressure proving after a local reset, before the gas stays on.",
)

INHIBIT = _section(
    {
        "max_minutes": _integer(
            MIN_INHIBIT_MAX_MIN, constants.HARD_INHIBIT_MAX_MIN,
            "Longest maintenance inhibit of one detector (for a bump test), in minutes. An inhibit always "
            "ends by itself; service modes are time-limited in every product and this cap is 30 min.",
            constants.DEFAULT_INHIBIT_MAX_MIN,
        ),
    },
    "Maintenance inhibit of a detector.",
)

PERIOD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["days", "from", "to"],
    "description": "One weekly attended period.",
    "properties": {
        "days": _weekdays("Days the period starts on: mon, tue, wed, thu, fri, sat, sun.", min_items=1),
        "from": {"type": "string", "pattern": TIME_PATTERN,
                 "description": "Start time, 24-hour HH:MM, e.g. 08:30."},
        "to": {"type": "string", "pattern": TIME_PATTERN,
               "description": "End time, 24-hour HH:MM. A 'to' earlier than 'from' runs past midnight."},
    },
}

SCHEDULE = _section(
    {
        "enabled": _flag(
            "Shut the gas outside attended hours (the Jiangsu 2023 rectification plan: gas off when the "
            "kitchen is left).",
            False,
        ),
        "attended": {
            "type": "array",
            "items": PERIOD,
            "default": [],
            "description": "Weekly periods when the kitchen is attended. At least one when enabled.",
        },
    },
    "Attended hours.",
)

MAINTENANCE = _section(
    {
        "calibration_interval_days": _integer(
            constants.MIN_CALIBRATION_INTERVAL_DAYS, constants.MAX_CALIBRATION_INTERVAL_DAYS,
            "Days between calibrations or bump tests of each detector. JJG 693 caps the verification period "
            "at a year; detector makers ask for 3-6 months: use the detector's manual where it says less.",
            constants.DEFAULT_CALIBRATION_INTERVAL_DAYS,
        ),
        "notice_days": _integer(
            0, constants.MAX_MAINTENANCE_NOTICE_DAYS,
            "Reminders start this many days before a date is due, to leave time to order and book.",
            constants.DEFAULT_MAINTENANCE_NOTICE_DAYS,
        ),
    },
    "Lifecycle reminders (maintenance_due events): detector and valve end of life, calibration.",
)

DAILY_CHECK_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "zh", "en"],
    "description": "One item of the daily checklist.",
    "properties": {
        "id": _name("Short name of the item, recorded in the event, e.g. hose."),
        "zh": _text(1, TEXT_MAX_LENGTH, "What to check, in Chinese, as the panel shows it."),
        "en": _text(1, TEXT_MAX_LENGTH, "What to check, in English, shown beside the Chinese."),
    },
}

DAILY_CHECK = _section(
    {
        "enabled": _flag("Staff confirm a checklist at the kitchen panel once a day (每日检查); a day without a "
                         "confirmation by due_by raises a daily_check missed event.", False),
        "due_by": {"type": "string", "pattern": TIME_PATTERN, "default": constants.DEFAULT_DAILY_CHECK_DUE_BY,
                   "description": "Local time, HH:MM, by which the check must be confirmed on a check day."},
        "days": _weekdays("Days the check is due. With attended hours enabled, only those of them on which an "
                          "attended period starts.", default=list(DAYS)),
        "items": {
            "type": "array",
            "items": DAILY_CHECK_ITEM,
            "maxItems": MAX_DAILY_CHECK_ITEMS,
            "default": DAILY_CHECK_ITEMS,
            "description": "The checklist: stove, hose, valve and detector lamps unless set. Every item must be "
                           "ticked to confirm.",
        },
    },
    "The daily check (每日检查) at the kitchen panel.",
)

GPIO = _section(
    {
        "backend": _choice(
            GPIO_BACKENDS,
            "gpiod: libgpiod v2 (every Raspberry Pi, the only one that works on the Pi 5); rpi: RPi.GPIO "
            "(Pi 4 and older, or the rpi-lgpio shim); sim: files in sim_dir, for the test bench.",
            "gpiod",
        ),
        "chip": _text(1, PATH_MAX_LENGTH, "gpiod: the GPIO chip of the 40-pin header.", DEFAULT_GPIO_CHIP),
        "sim_dir": _text(1, PATH_MAX_LENGTH, "sim: directory with one sub-directory per line holding a "
                         "'value' file (0 or 1), like Linux sysfs GPIO.", DEFAULT_GPIO_SIM_DIR),
        "debounce_ms": _integer(0, MAX_DEBOUNCE_MS, "An input must hold a new level this long before it "
                                "counts; contact bounce lasts a few ms.", DEFAULT_DEBOUNCE_MS),
    },
    "How the controller reaches its GPIO lines.",
)

LINE = _section(
    {
        "pin": _integer(0, MAX_BCM_PIN, "BCM GPIO number on the 40-pin header (GPIO17 is 17, on pin 11)."),
        "active": _choice(LINE_ACTIVE, "Level of the pin when the line is active (output on, input "
                          "signalling). Wire safety inputs fail-safe: a normally closed contact read active "
                          "low makes a cut wire count as active.", "high"),
    },
    "One named GPIO line.",
    required=["pin"],
)

ANALOG = _section(
    {
        "i2c_bus": _integer(0, MAX_I2C_BUS, "I2C bus of the ADS1115 ADC: 1 is pins 3 and 5 of the header.", 1),
        "address": _choice(ADS1115_ADDRESSES, "I2C address of the ADS1115 (72-75 = 0x48-0x4B, set by its "
                           "ADDR pin).", 72, "integer"),
        "shunt_ohm": _number(MIN_SHUNT_OHM, MAX_SHUNT_OHM, "Shunt resistor that turns each loop current "
                             "into a voltage, in ohms: 150 gives 3.0 V at 20 mA.", DEFAULT_SHUNT_OHM),
        "sample_period_ms": _integer(100, 2000, "How often each channel is converted, in ms.",
                                     DEFAULT_ANALOG_SAMPLE_MS),
    },
    "The 4-20 mA input ADC; analog detectors name its channels ain0-ain3.",
)

STORE = _section(
    {
        "path": _text(1, PATH_MAX_LENGTH, "SQLite file of the event store.", DEFAULT_STORE_PATH),
        "max_events": _integer(MIN_STORE_MAX_EVENTS, MAX_STORE_MAX_EVENTS, "Events kept. When full, the "
                               "oldest delivered telemetry goes first; an undelivered alarm, fault, trip or "
                               "reset is never dropped.", DEFAULT_STORE_MAX_EVENTS),
    },
    "The local event store.",
)

CONTROL = _section(
    {
        "socket": _text(1, PATH_MAX_LENGTH, "UNIX socket of the local control interface (gaslatch status, "
                        "reset, silence, inhibit).", DEFAULT_CONTROL_SOCKET),
        "group": _text(1, 32, "Group allowed to use the socket (mode 0660).", DEFAULT_CONTROL_GROUP),
        "reset_window_s": _integer(10, 300, "A reset asked for over the socket is carried out only if the "
                                   "reset button on site is pressed within this time.", DEFAULT_RESET_WINDOW_S),
    },
    "Local control socket.",
)

WATCHDOG = _section(
    {
        "device": _text(0, PATH_MAX_LENGTH, "Hardware watchdog device; empty for none (test benches only).",
                        DEFAULT_WATCHDOG_DEVICE),
        "timeout_s": _integer(1, MAX_WATCHDOG_TIMEOUT_S, "A hung loop resets the Pi after this long, which "
                              "de-energises (closes) a hold valve. The bcm2835 allows at most 15 s.",
                              DEFAULT_WATCHDOG_TIMEOUT_S),
    },
    "Hardware watchdog.",
)

UPLINK = _section(
    {
        "enabled": _flag("Report every event to the monitoring platform over MQTT. The unit protects the kitchen "
                         "fully without it.", False),
        "host": _text(0, PATH_MAX_LENGTH, "MQTT broker host name; with TLS it must match the broker's "
                      "certificate.", ""),
        "port": _integer(1, 65535, "MQTT broker port: 8883 for MQTT over TLS, 1883 without.", 8883),
        "tls": _flag("Use TLS and verify the broker's certificate and host name.", True),
        "ca_file": _text(0, PATH_MAX_LENGTH, "CA certificate(s) that sign the broker's certificate; empty for "
                         "the system's CAs.", ""),
        "cert_file": _text(0, PATH_MAX_LENGTH, "Client certificate for mutual TLS; empty for none.", ""),
        "key_file": _text(0, PATH_MAX_LENGTH, "Client private key for mutual TLS (file mode 0600).", ""),
        "username": _text(0, TEXT_MAX_LENGTH, "MQTT user name; empty for none. With the shipped broker configuration (docs/broker.md) it is `<site>/<unit>`: the broker lets that user publish only to this unit's topics.", ""),
        "password_file": _text(0, PATH_MAX_LENGTH, "File holding the MQTT password (mode 0600): secrets never go "
                               "in this configuration. The uplink refuses a file that group or others may read.", ""),
        "hmac_key_file": _text(0, PATH_MAX_LENGTH, "File holding this unit's command key (mode 0600): commands "
                               "from the platform must be signed with it.", "/etc/gaslatch/uplink.key"),
        "keepalive_s": _integer(5, 600, "MQTT keepalive, in seconds.", 30),
        "telemetry_s": _integer(5, 3600, "Interval of the periodic telemetry message, in seconds.", 60),
        "state_s": _integer(10, 3600, "The retained state is republished on every change and at least this often.",
                            300),
        "backoff_max_s": _integer(5, 3600, "Longest wait between reconnection attempts (exponential back-off with "
                                  "jitter).", 300),
        "allow_silence": _flag("Accept the remote silence command (it never silences a new alarm).", False),
    },
    "Reporting to the monitoring platform over MQTT.",
)

SELF_TEST = _section(
    {
        "manifest": _text(0, PATH_MAX_LENGTH, "The manifest deploy/install.sh wrote: the SHA-256 of every installed "
                          "code and profile file, checked at every start (EN 50271: protected program and site "
                          "data). A file that differs, is missing or was added keeps the gas off. Empty for none "
                          "(test benches only: the start is then recorded as not checked).", DEFAULT_MANIFEST_PATH),
    },
    "The start-up self-test.",
)

LOG = _section(
    {
        "level": _choice(LOG_LEVELS, "Least severe log line written to the journal.", "info"),
    },
    "Logging to the journal.",
)

SCHEMA = {
    "$schema": DRAFT,
    "title": "gaslatch controller configuration",
    "description": "Configuration of one gaslatch kitchen controller. Unknown keys are errors. No key "
                   "opens the valve remotely or disables the manual reset.",
    "type": "object",
    "additionalProperties": False,
    "required": ["unit", "detectors"],
    "properties": {
        "unit": UNIT,
        "config_version": _integer(0, MAX_CONFIG_VERSION, "Counted up by every `gaslatch commission config push` "
                                   "(0: never pushed). Shown with the configuration identity in status, events "
                                   "and the commissioning report; not part of the identity.", 0),
        "scan": SCAN,
        "buses": _named(BUS, "RS-485 Modbus RTU buses by name, e.g. rs485a."),
        "detectors": _named(DETECTOR, "Gas detectors by name, e.g. hood1. At least one.", 1),
        "zones": _named(ZONE, "Zone settings by zone name. A zone used by a detector and not listed here "
                              "gets the defaults."),
        "alarm": ALARM,
        "valve": VALVE,
        "fan": FAN,
        "sounder": SOUNDER,
        "interlocks": INTERLOCKS,
        "proving": PROVING,
        "inhibit": INHIBIT,
        "schedule": SCHEDULE,
        "maintenance": MAINTENANCE,
        "daily_check": DAILY_CHECK,
        "gpio": GPIO,
        "lines": _named(LINE, "GPIO lines by logical name: valve, fan, sounder, beacon, fault_relay, "
                              "reset_button, silence_button, fire_input, estop_input, fan_proven, gas_pressure, "
                              "valve_feedback_closed, valve_feedback_open, contact detectors' lines, DE lines."),
        "analog": ANALOG,
        "store": STORE,
        "control": CONTROL,
        "watchdog": WATCHDOG,
        "log": LOG,
        "uplink": UPLINK,
        "self_test": SELF_TEST,
    },
}
