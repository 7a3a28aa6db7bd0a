"""Every default and hard limit of the safety logic, each with the source it comes from.

One place, so docs/safety.md, the config schema and the code cannot disagree.
"""

# Detector statuses a profile may decode a device, loop current or contact into.
STATUS_NORMAL = "normal"
STATUS_WARMUP = "warmup"
STATUS_PRE_ALARM = "pre_alarm"
STATUS_LOW_ALARM = "low_alarm"
STATUS_HIGH_ALARM = "high_alarm"
STATUS_FAULT = "fault"
STATUS_OVER_RANGE = "over_range"
STATUS_CALIBRATION = "calibration"
STATUS_END_OF_LIFE = "end_of_life"
STATUSES = (
    STATUS_NORMAL,
    STATUS_WARMUP,
    STATUS_PRE_ALARM,
    STATUS_LOW_ALARM,
    STATUS_HIGH_ALARM,
    STATUS_FAULT,
    STATUS_OVER_RANGE,
    STATUS_CALIBRATION,
    STATUS_END_OF_LIFE,
)

# Concentrations are fixed-point: hundredths of %LEL.
CENTI = 100

# Alarm set points. Restaurant products alarm at 10 %LEL (Jade Bird; Merlin 8/10 %LEL);
# design codes cap the first alarm at 25 %LEL and the second at 50 %LEL (GB/T 50493, UL 2075).
DEFAULT_LOW_ALARM_PCT_LEL = 10
DEFAULT_HIGH_ALARM_PCT_LEL = 25
MAX_LOW_ALARM_PCT_LEL = 25
MAX_HIGH_ALARM_PCT_LEL = 50
MIN_ALARM_PCT_LEL = 1
# Clearing hysteresis: an alarm clears only this far below its set point.
DEFAULT_HYSTERESIS_PCT_LEL = 2
MAX_HYSTERESIS_PCT_LEL = 5

# Confirmation: a level found from the reading is confirmed by N consecutive samples at or above
# it, or by it holding for the window, whichever comes first. GB 16808 (unverified): alarm within
# 10 s of the detector signal; the window cap keeps confirmation well inside that budget.
DEFAULT_CONFIRM_SAMPLES = 2
MAX_CONFIRM_SAMPLES = 5
DEFAULT_CONFIRM_WINDOW_MS = 2000
MAX_CONFIRM_WINDOW_MS = 5000

# Clear hold: leaving an alarm, a fault, comm loss or warm-up for normal needs the detector clear (a
# normal status and a reading below the low set point minus hysteresis) for this many samples in a row
# AND this long since its last bad evidence; a reset is refused until then. One good sample after a bad
# one proves nothing (an independent bench: a status flapping high alarm / normal let the gas back on).
# 10 s: as long as GB 16808 allows to confirm an alarm (10 s), half the 20 s in which it re-asserts an
# alarm after a manual reset; a status flapping faster never clears, a slower one is caught as unstable.
DEFAULT_CLEAR_HOLD_S = 10
MIN_CLEAR_HOLD_S = 5
MAX_CLEAR_HOLD_S = 120
DEFAULT_CLEAR_HOLD_SAMPLES = 5
MIN_CLEAR_HOLD_SAMPLES = 2
MAX_CLEAR_HOLD_SAMPLES = 20
# Relapses: a detector that goes from clear back to alarm, fault or warm-up this many times within the
# window is unstable (a loose sensor, a failing board, wind on a contact): it counts as a fault (fault
# relay, fault trip, reset refused) until a whole window passes without a relapse. 5 in 5 min catches
# any flapping period up to 75 s, beyond the clear hold; a real leak that comes and goes that often
# needs a person, not another reset.
RELAPSE_LIMIT = 5
RELAPSE_WINDOW_S = 300
# Link health: a detector whose newest good sample is older than the link budget (the longest gap that
# still confirms a leak inside ALARM_LATENCY_BUDGET_MS) is comm lost; one with at least half of its
# last LINK_WINDOW_POLLS polls failed (timeouts, CRC errors, exceptions) has a degraded link, a fault,
# until at most a quarter of them fail.
LINK_WINDOW_POLLS = 16

# What a detector measures (its measurand). Combustible gas is kept in %LEL; the toxic gases of a kitchen
# in ppm, never converted to %LEL (a CO or CO2 concentration has no explosive limit that means anything at
# these levels). CJJ/T 146-2011: a kitchen system is a gas detector, a CO detector, a controller, a shutoff
# valve and the exhaust; IGEM/UP/19 (with BS 6173): CO2 monitoring interlocked with the gas.
MEASURAND_COMBUSTIBLE = "combustible"
MEASURAND_CO = "co"
MEASURAND_CO2 = "co2"
MEASURANDS = (MEASURAND_COMBUSTIBLE, MEASURAND_CO, MEASURAND_CO2)
TOXIC_MEASURANDS = (MEASURAND_CO, MEASURAND_CO2)
# The unit each measurand's concentrations are kept in, as hundredths (profile_schema.UNITS).
MEASURAND_UNIT = {MEASURAND_COMBUSTIBLE: "pct_lel", MEASURAND_CO: "ppm", MEASURAND_CO2: "ppm"}

# CO2 (ppm). IGEM/UP/19 (second-hand: REFERENCE.md): isolate the gas at 2800 ppm in new kitchens, 5000 ppm in
# existing ones; below 2800 normal, 2800-5000 at risk, above 5000 immediately dangerous; no overrides. The
# default isolation is the stricter new-kitchen level; no setting may isolate above 5000 ppm (also the 8-hour
# workplace limit of EH40/2005). The warning (fan and sounder) at 2000 ppm is a gaslatch choice, not from a
# standard: where occupants start to report headaches (unverified: general ventilation guidance), below the
# isolation level so that the kitchen is warned before the gas goes off.
DEFAULT_CO2_LOW_ALARM_PPM = 2000
DEFAULT_CO2_HIGH_ALARM_PPM = 2800
MAX_CO2_HIGH_ALARM_PPM = 5000
# Hysteresis: about the accuracy of an NDIR CO2 sensor at the isolation level (Senseair S8: +-40 ppm +-3 % of
# the reading, unverified), so a reading hovering at a set point does not chatter. A gaslatch choice.
DEFAULT_CO2_HYSTERESIS_PPM = 200
MAX_CO2_HYSTERESIS_PPM = 500

# CO (ppm). EH40/2005 (HSE, 2018 revision): workplace exposure limits 20 ppm over 8 h and 100 ppm over 15 min.
# The alarm (fan and sounder) at the 8-hour limit, the trip at the 15-minute limit. GBZ 2.1-2019 (unverified:
# secondary copies) puts China's limits lower in mg/m3: 20 mg/m3 over 8 h (about 17 ppm) and 30 mg/m3 over
# 15 min (about 26 ppm); a site that must meet them sets low_alarm_ppm 15 and high_alarm_ppm 25. No trip above
# 300 ppm: EN 50291-1's fastest alarm class (within 3 min at 300 ppm; unverified, secondary copies).
DEFAULT_CO_LOW_ALARM_PPM = 20
DEFAULT_CO_HIGH_ALARM_PPM = 100
MAX_CO_HIGH_ALARM_PPM = 300
# Electrochemical CO cells are read to about 1 ppm; 5 ppm keeps noise near a set point from chattering.
DEFAULT_CO_HYSTERESIS_PPM = 5
MAX_CO_HYSTERESIS_PPM = 50

# Per measurand: (low, high, hysteresis) defaults and the cap of the high (trip) level, in the measurand's unit.
TOXIC_DEFAULTS = {
    MEASURAND_CO: (DEFAULT_CO_LOW_ALARM_PPM, DEFAULT_CO_HIGH_ALARM_PPM, DEFAULT_CO_HYSTERESIS_PPM),
    MEASURAND_CO2: (DEFAULT_CO2_LOW_ALARM_PPM, DEFAULT_CO2_HIGH_ALARM_PPM, DEFAULT_CO2_HYSTERESIS_PPM),
}
TOXIC_MAX_HIGH = {MEASURAND_CO: MAX_CO_HIGH_ALARM_PPM, MEASURAND_CO2: MAX_CO2_HIGH_ALARM_PPM}
TOXIC_MAX_HYSTERESIS = {MEASURAND_CO: MAX_CO_HYSTERESIS_PPM, MEASURAND_CO2: MAX_CO2_HYSTERESIS_PPM}
# A reading this far below zero means the sensor has drifted (a fault), in hundredths of the measurand's unit:
# -10 %LEL for combustible gas; for CO and CO2 a gaslatch choice of the same order as their hysteresis.
NEGATIVE_DRIFT_FAULT_CENTI = {MEASURAND_COMBUSTIBLE: -10 * CENTI, MEASURAND_CO: -10 * CENTI,
                              MEASURAND_CO2: -100 * CENTI}

# Lower explosive limits, %vol (REFERENCE.md: methane 5 %vol, propane 2.1 %vol).
LEL_PCT_VOL = {"methane": 5.0, "propane": 2.1, "lpg": 2.1}

# Comm loss and faults. GB 16808 / GB 50166 commissioning: open/short or lost detector -> fault
# shown within 100 s. A silent detector is comm lost after COMM_LOST; a fault or comm loss that
# persists for FAULT_TRIP more closes the valve. Their sum is capped at the 100 s budget.
DEFAULT_COMM_LOST_AFTER_S = 10
DEFAULT_FAULT_TRIP_AFTER_S = 30
MAX_FAULT_DECLARE_TOTAL_S = 100
# Warm-up: neither alarm nor fault, shown; a detector stuck in warm-up becomes a fault.
# GB 16808: normal monitoring after a 20 min warm-up is the outer limit.
DEFAULT_WARMUP_MAX_S = 300
MAX_WARMUP_MAX_S = 1200

# Modbus polling: vendor advice for the generic module is >= 500 ms between polls of one
# address and up to 3 retries (REFERENCE.md).
DEFAULT_POLL_INTERVAL_MS = 500
DEFAULT_RESPONSE_TIMEOUT_MS = 300
DEFAULT_RETRIES = 2
MAX_RETRIES = 3

# Outputs. Fan: starts at low alarm, non-latching with minimum run-on (REFERENCE.md behaviour 2).
DEFAULT_FAN_RUN_ON_S = 300
# BS 6173: airflow must be proven; a fan that does not prove within the grace closes the gas.
DEFAULT_FAN_PROVING_GRACE_S = 10
# Once proven, airflow must be lost this long without a break before the gas closes. Wind gusts make a
# differential-pressure switch chatter for well under a second; engineers wire out a switch that trips
# on them, which is worse than any delay. 3 s passes the gusts; the cap keeps a dead fan's response in the
# order of the 10 s gas alarm budget (GB 16808); IGEM/UP/19 asks for the gas to close on fan failure.
DEFAULT_FAN_LOSS_CONFIRM_S = 3
MAX_FAN_LOSS_CONFIRM_S = 10
# The no-air check at power-on: a fan still running down after a restart keeps its switch made; a
# large kitchen extract impeller takes 10-60 s to stop. Made after this long with the fan off: bridged.
DEFAULT_FAN_RUNDOWN_S = 60
MAX_FAN_RUNDOWN_S = 300
# Silence is time-limited (Macurco: 5 min alarm); a new alarm re-sounds (GB 16808).
DEFAULT_SILENCE_S = 300
MAX_SILENCE_S = 900
# Valve: pulse-type valves take e.g. a 24 V, 1 A, 0.5 s pulse (REFERENCE.md behaviour 1).
DEFAULT_VALVE_PULSE_MS = 500
DEFAULT_VALVE_TRAVEL_S = 5
MAX_VALVE_TRAVEL_S = 60
# GB 16808 (unverified): alarm within 10 s of the detector signal. The config validator checks that
# each bus, at its scan period and number of detectors, can confirm a high alarm inside this budget.
ALARM_LATENCY_BUDGET_MS = 10000
# Linkage output within 3 s of its condition (GB 16808 / GB 50166 commissioning limit).
LINKAGE_BUDGET_MS = 3000

# Maintenance inhibit of one detector for bump tests: always time-limited (REFERENCE.md
# behaviour 7; Merlin: 4 h service mode is the longest seen; we cap far lower).
DEFAULT_INHIBIT_MAX_MIN = 30
HARD_INHIBIT_MAX_MIN = 30

# Two-detector confirmation (GB 16808-2025 option): a lone high alarm still trips after this.
DEFAULT_TWO_DETECTOR_TIMEOUT_S = 30
MAX_TWO_DETECTOR_TIMEOUT_S = 60

# Scan loop.
DEFAULT_SCAN_PERIOD_MS = 100
MIN_SCAN_PERIOD_MS = 5
MAX_SCAN_PERIOD_MS = 500

# Lifecycle reminders (lifecycle.py). CJJ/T 146-2011 (second-hand, REFERENCE.md): detectors in commercial
# kitchens are replaced after 3 years, shutoff valves after 10.
DETECTOR_LIFE_YEARS = 3
VALVE_LIFE_YEARS = 10
# Calibration / bump test interval when the config names none: JJG 693-2011 (combustible gas detector
# verification) caps the verification period at 1 year; detector makers ask for a check every 3-6 months
# (to be verified per model). 180 days is the conservative end of that.
DEFAULT_CALIBRATION_INTERVAL_DAYS = 180
MIN_CALIBRATION_INTERVAL_DAYS = 7
MAX_CALIBRATION_INTERVAL_DAYS = 365
# Reminders start this many days ahead, so a replacement can be ordered and booked.
DEFAULT_MAINTENANCE_NOTICE_DAYS = 30
MAX_MAINTENANCE_NOTICE_DAYS = 180

# Daily check (每日检查): confirmed at the panel by this local time on each check day, else a missed-check event.
DEFAULT_DAILY_CHECK_DUE_BY = "11:00"

# Gas pressure proving after a local reset (proving.py). Merlin 2000C runs a 20 s start-up test (REFERENCE.md);
# the check and fill times are this project's choice, to be verified against a commercial panel's manual.
DEFAULT_PROVING_CHECK_S = 10
DEFAULT_PROVING_FILL_S = 5
DEFAULT_PROVING_WATCH_S = 20
MAX_PROVING_PHASE_S = 120
# A 4-20 mA pressure transmitter downstream of the valve: 0-10 kPa covers low-pressure natural gas (2.0 kPa in
# China, 2.1 kPa / 21 mbar in the UK) and LPG (2.8-3.0 kPa). Pressure counts as present above 0.5 kPa, filled at
# 1.5 kPa; a drop of more than 0.25 kPa (2.5 mbar) in the watch fails (IGEM/UP/1B allows no perceptible drop on a
# new installation's tightness test: to be verified for this short a test).
DEFAULT_PROVING_RANGE_KPA = 10
DEFAULT_PROVING_LOW_KPA = 0.5
DEFAULT_PROVING_FILL_KPA = 1.5
DEFAULT_PROVING_MAX_DROP_KPA = 0.25
