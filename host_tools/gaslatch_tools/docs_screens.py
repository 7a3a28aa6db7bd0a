"""Terminal captures for docs/commissioning.md: `commission scan` and `live` on an emulated bus, in tmux.

`python -m gaslatch_tools.docs_screens` runs the real commands in a real terminal (tmux), captures the
screen as a person sees it and renders it to docs/images/*.png, so the pictures never drift from the
program.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gaslatch_tools.bench.emulated_bus import EmulatedBus  # noqa: E402
from gaslatch_tools.bench.emulated_detector import EmulatedDetector  # noqa: E402
from gaslatch_tools.bench.gas_model import GasModel  # noqa: E402

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
COLUMNS, ROWS = 110, 30
SESSION = "gaslatch-docs"


def render(text: str, path: Path, title: str) -> None:
    """A terminal screen (plain text) as a dark PNG in a monospace font."""
    lines = text.rstrip("\n").split("\n")
    width = max(len(line) for line in lines) if lines else 80
    height_in = len(lines) * 0.16 + 0.6
    fig = plt.figure(figsize=(width * 0.075 + 0.4, height_in), dpi=110)
    fig.patch.set_facecolor("#1e1e1e")
    fig.text(0.01, 1 - 0.08 / height_in, title, color="#9cdcfe", family="DejaVu Sans Mono", fontsize=8, va="top")
    fig.text(0.01, 1 - 0.36 / height_in, "\n".join(lines), color="#d4d4d4", family="DejaVu Sans Mono",
             fontsize=8, va="top", linespacing=1.25)
    fig.savefig(path, facecolor=fig.get_facecolor())
    plt.close(fig)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture_until(marker: str, timeout_s: float) -> str:
    """The screen once it shows marker (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", SESSION)
        if marker in screen:
            return screen
        time.sleep(0.2)  # polling a screen a person is watching
    return screen


def _clean(screen: str, work: str, link: str) -> str:
    """The screen with the bench's temporary paths shown as they would be on site."""
    return screen.replace(link, "/dev/ttyUSB0").replace(work + "/", "").replace(work, ".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaslatch_tools.docs_screens", description=__doc__)
    parser.add_argument("--out", type=Path, default=IMAGES)
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed: apt-get install tmux", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="gl-docs-")
    link = os.path.join(work, "ttyUSB0")
    bus = EmulatedBus(link, 9600)
    gas = GasModel(3.2).noise(0.2, seed=3)
    bus.add(EmulatedDetector("cn-generic", 1, gas))
    bus.add(EmulatedDetector("cn-generic", 2, GasModel(0.4)))
    bus.add(EmulatedDetector("sensepoint-xcl", 5, GasModel(12.5)))
    bus.start()
    gaslatch = os.path.join(os.path.dirname(sys.executable), "gaslatch")
    try:
        tmux("new-session", "-d", "-s", SESSION, "-x", str(COLUMNS), "-y", str(ROWS))
        tmux("send-keys", "-t", SESSION, "cd %s; PS1='$ '" % work, "Enter")
        tmux("send-keys", "-t", SESSION, "clear; %s commission scan --port %s --addresses 1-8"
             % (gaslatch, link), "Enter")
        scan = capture_until("health", 60)
        render(_clean(scan, work, link),
               args.out / "commission-scan.png", "$ gaslatch commission scan --port /dev/ttyUSB0 --addresses 1-8")
        tmux("send-keys", "-t", SESSION, "clear; %s commission live --port %s --addresses 1,2,5 --seconds 6"
             % (gaslatch, link), "Enter")
        time.sleep(4)  # let the live table fill a few refreshes, as a person would watch it
        live = tmux("capture-pane", "-p", "-t", SESSION)
        render(_clean(live, work, link),
               args.out / "commission-live.png", "$ gaslatch commission live --port /dev/ttyUSB0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        bus.close()
        shutil.rmtree(work, ignore_errors=True)
    print("wrote %s and %s" % (args.out / "commission-scan.png", args.out / "commission-live.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
