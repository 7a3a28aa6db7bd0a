"""`gaslatch panel`: serve the kitchen panel until stopped (needs the `panel` extra: Starlette, uvicorn, Jinja2)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from gaslatch.core.config import ConfigError
from gaslatch.unit.command_error import EXIT_USAGE


def _socket_of(args: argparse.Namespace) -> tuple[str, str]:
    """The control socket and its group: --socket, or the unit's configuration."""
    from gaslatch.core.config_schema import DEFAULT_CONTROL_SOCKET
    from gaslatch.unit.unit_config import load_unit_config

    if args.socket:
        return args.socket, args.group or "gaslatch"
    try:
        cfg, _ = load_unit_config(args.config_path)
    except ConfigError as err:
        from gaslatch.problem_text import problem_lines
        from gaslatch.translation import ngettext

        count = len(err.problems)
        print(ngettext("configuration has %(n)d problem; the panel will not start:",
                       "configuration has %(n)d problems; the panel will not start:", count) % {"n": count},
              problem_lines(err.problems), sep="\n", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    control = cfg.get("control") or {}
    return control.get("socket", DEFAULT_CONTROL_SOCKET), control.get("group", "gaslatch")


def panel(args: argparse.Namespace) -> int:
    """Serves the panel until stopped."""
    import uvicorn

    from gaslatch.panel import pins as P
    from gaslatch.panel.app import PanelSettings, create_app
    from gaslatch.panel.status_feed import StatusFeed

    socket_path, group = _socket_of(args)
    os.makedirs(args.state_dir, mode=0o700, exist_ok=True)
    settings = PanelSettings(socket_path, group, P.PinFile(args.pins),
                             P.Lockout(os.path.join(args.state_dir, "lockout.json"), time.time),
                             None if args.socket else args.config_path, record_path=args.record)
    feed = StatusFeed(socket_path, group).start()
    host, _, port = args.listen.rpartition(":")
    try:
        uvicorn.run(create_app(settings, feed), host=host, port=int(port), log_level="warning",
                    server_header=False, limit_concurrency=50, timeout_keep_alive=5, lifespan="off")
    finally:
        feed.stop()
    return 0
