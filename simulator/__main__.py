"""Command line: ``python -m simulator --host 127.0.0.1 --port 8089 [options]``.

Prints exactly one line ``simulator listening on http://HOST:PORT`` (flushed) once the socket
accepts connections, so a wrapper script or a test can wait for it; then one log line per request
on stderr. Stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Sequence
from datetime import date
from types import FrameType

from simulator.corrupt import KINDS, parse_spec
from simulator.faults import FAULT_KINDS, parse_kinds
from simulator.server import DEFAULT_HOTLINE_KEY, DEFAULT_ONE_STOP_TOKEN, make_server


def _kinds(value: str) -> tuple[str, ...]:
    try:
        return parse_kinds(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _corrupt(value: str) -> str:
    try:
        parse_spec(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})=(.+)$")


def _units(value: str) -> tuple[date | None, str]:
    """``PATH`` or ``YYYY-MM-DD=PATH`` (the units in force from that day on)."""
    match = _DATED.match(value)
    if match is None:
        return None, value
    try:
        return date.fromisoformat(match.group(1)), match.group(2)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a valid date: {match.group(1)!r}") from None


def units_options(values: Sequence[tuple[date | None, str]]) -> tuple[str | None, list[tuple[date | None, str]] | None]:
    """``(units_path, timeline)`` for the ``--units`` given: none = the default timeline, one undated = that file."""
    if not values:
        return None, None
    if len(values) == 1 and values[0][0] is None:
        return values[0][1], None
    return None, list(values)


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return rate


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options, documented in ``simulator/README.md``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Simulator of the one-stop dossier system and the hotline 1022 system (see docs/sources.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port; 0 picks a free one (default 8089)")
    parser.add_argument(
        "--units", action="append", type=_units, default=[], metavar="[YYYY-MM-DD=]PATH",
        help="units JSON; repeat with a valid-from date for a timeline, e.g. --units A.json --units 2025-07-01=B.json "
             "(default: include/reference/units-dong-thap-2023.json, then from 2025-07-01 units-dong-thap-2025.json)",
    )
    parser.add_argument("--one-stop-token", default=DEFAULT_ONE_STOP_TOKEN, help="bearer token of the dossier API")
    parser.add_argument("--hotline-key", default=DEFAULT_HOTLINE_KEY, help="X-API-Key of the feedback API")
    parser.add_argument("--fault-rate", type=_rate, default=0.0, help="probability of a fault per API request (0..1)")
    parser.add_argument(
        "--faults", type=_kinds, default=FAULT_KINDS,
        help=f"enabled kinds, comma-separated (default {','.join(FAULT_KINDS)})",
    )
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a 'slow' fault (default 2)")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of a 429 fault (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault draws (data never depends on it)")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    parser.add_argument(
        "--corrupt", action="append", type=_corrupt, default=[], metavar="DISTRICT:KIND[*N],...",
        help="serve broken records for a district (repeatable), e.g. 872:no_due_date,bad_status*200; "
             f"kinds: {', '.join(KINDS)}",
    )
    parser.add_argument(
        "--scale", type=int, default=1, metavar="N",
        help="serve every window's records N times as distinct records, for load tests (default 1)",
    )
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM leaves ``serve_forever`` through an exception, so the socket is closed in ``finally``."""
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground until interrupted."""
    args = build_parser().parse_args(argv)
    units_path, timeline = units_options(args.units)
    try:
        server = make_server(
            args.host, args.port, units_path=units_path, timeline=timeline, one_stop_token=args.one_stop_token,
            hotline_key=args.hotline_key, fault_rate=args.fault_rate, faults=args.faults,
            slow_seconds=args.slow_seconds, retry_after=args.retry_after, seed=args.seed, quiet=args.quiet,
            corrupt=args.corrupt, scale=args.scale,
        )
    except (OSError, ValueError) as exc:
        print(f"simulator: cannot start: {exc}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    signal.signal(signal.SIGTERM, _terminate)
    print(f"simulator listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
