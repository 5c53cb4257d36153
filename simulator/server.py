"""The HTTP server: serves ``docs/sources.md`` exactly, from :mod:`simulator.data`, with injected faults.

Why a stdlib ``ThreadingHTTPServer``: the simulator must start anywhere (CI, a developer laptop, the
Airflow container) without installing anything, and thread-per-request is enough for a handful of
connector workers. HTTP/1.1 keep-alive is on, as with real servers, so ``cut`` really leaves a
client with a truncated body.

Order of checks on every API request: route (404), authentication (401), parameters (400), and only
then fault injection, so that 400 and 401 stay deterministic whatever the fault rate.

Which units a request may name depends on its window: the server holds a :class:`simulator.data.Timeline`
(by default the 2023 districts, then from 2025-07-01 the 2025 communes and wards) and accepts a code
of a hierarchy in force on some day of the window (see ``simulator/README.md``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator import corrupt as corruption
from simulator import data, scale
from simulator.faults import FAULT_KINDS, FaultDecision, FaultInjector

__all__ = [
    "DEFAULT_HOTLINE_KEY",
    "DEFAULT_ONE_STOP_TOKEN",
    "DOSSIERS_PATH",
    "FEEDBACK_PATH",
    "SimulatorHandle",
    "SimulatorServer",
    "make_server",
    "start_in_thread",
]

DEFAULT_ONE_STOP_TOKEN = "sim-one-stop-token"
DEFAULT_HOTLINE_KEY = "sim-hotline-key"
DOSSIERS_PATH = "/api/v1/dossiers"
FEEDBACK_PATH = "/api/v2/feedback"
HEALTH_PATH = "/healthz"

DOSSIER_PAGE_SIZE_DEFAULT = 200
DOSSIER_PAGE_SIZE_MAX = 1000
FEEDBACK_LIMIT_DEFAULT = 100
FEEDBACK_LIMIT_MAX = 500
# Largest shift of a ``dup`` fault, in records, and largest overstatement of ``total``.
DUP_MAX_SHIFT = 5

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_RE = re.compile(r"^\d{1,9}$")
# Query parameters that may appear in the request log: none of them carries personal data.
_LOGGED_PARAMS = ("district", "active_from", "active_to", "page", "page_size", "received_from", "received_to", "limit")


class _HttpError(Exception):
    """An error answer: ``{"error": message}`` with the given status."""

    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = tuple(headers)


@dataclass
class _Config:
    timeline: data.Timeline
    one_stop_token: str
    hotline_key: str
    faults: FaultInjector
    quiet: bool = False
    log_lock: threading.Lock = field(default_factory=threading.Lock)
    # Opt-in broken records per district (simulator.corrupt); empty: the data as generated.
    corrupt: corruption.Spec = field(default_factory=dict)
    corrupt_lock: threading.Lock = field(default_factory=threading.Lock)
    corrupt_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)
    # Opt-in load: every window's records served this many times, as distinct records (simulator.scale).
    scale: int = 1
    scale_lock: threading.Lock = field(default_factory=threading.Lock)
    scale_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the simulator's configuration for its handlers."""

    daemon_threads = True
    allow_reuse_address = True
    # Do not wait for requests sleeping in a ``slow`` fault when the server is closed.
    block_on_close = False

    def __init__(self, address: tuple[str, int], config: _Config) -> None:
        self.config = config
        super().__init__(address, _Handler)

    def scaled(self, source: str, district: str, start: date, end: date,
               records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The window's records times the configured scale (cached per window: a client pages through it)."""
        config = self.config
        if config.scale == 1:
            return records
        grow = scale.scaled_dossiers if source == "dossiers" else scale.scaled_feedback
        # A few units paged at once; a province's scaled month is large, so few are kept.
        return _remembered(config.scale_cache, config.scale_lock, (source, district, start, end), 8,
                           lambda: grow(records, config.scale))

    def corrupted(self, source: str, hierarchy: data.Hierarchy, district: str, start: date, end: date,
                  records: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The window's records with the breakage asked for this district, or None when none is (cached)."""
        config = self.config
        kinds = config.corrupt.get(district)
        if not kinds:
            return None

        def break_them() -> list[dict[str, Any]]:
            others = [c.code for d in hierarchy.districts.values() if d.code != district for c in d.communes]
            if not others and not hierarchy.is_province(district):
                # Units reporting for themselves have no communes: another unit of the province is foreign.
                others = [code for code in hierarchy.districts if code != district]
            foreign = others[0] if others else "99999"
            apply = corruption.corrupt_dossiers if source == "dossiers" else corruption.corrupt_feedback
            return apply(records, kinds, start, end, foreign)[0]

        return _remembered(config.corrupt_cache, config.corrupt_lock, (source, district, start, end, kinds), 32,
                           break_them)


def _remembered(cache: dict[tuple[Any, ...], list[dict[str, Any]]], lock: threading.Lock, key: tuple[Any, ...],
                limit: int, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``cache[key]``, computed outside the lock when missing; the oldest entry goes when ``limit`` is reached."""
    with lock:
        found = cache.get(key)
    if found is None:
        found = compute()
        with lock:
            if len(cache) >= limit:
                cache.pop(next(iter(cache)))
            cache[key] = found
    return found


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tthc-simulator/0.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms per request.
    disable_nagle_algorithm = True
    server: SimulatorServer

    # ---- plumbing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._status = 0
        self._fault: str | None = None
        split = urlsplit(self.path)
        self._route = split.path
        self._query = split.query
        try:
            if split.path == HEALTH_PATH:
                self._send_json(200, {"status": "ok"})
            elif split.path == DOSSIERS_PATH:
                self._dossiers(self._parse_query(split.query))
            elif split.path == FEEDBACK_PATH:
                self._feedback(self._parse_query(split.query))
            else:
                raise _HttpError(404, f"no such resource {split.path}; see {DOSSIERS_PATH} and {FEEDBACK_PATH}")
        except _HttpError as exc:
            self._send_error_json(exc.status, exc.message, exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (typically its timeout during a ``slow`` fault): nothing to answer.
            self.close_connection = True
            self._status = self._status or 499
        except Exception:
            # Log only the exception chain's last frame and type: a full repr could hold record data.
            exc_type, _, tb = sys.exc_info()
            frame = traceback.extract_tb(tb)[-1] if tb else None
            where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
            self._log(f"internal error {exc_type.__name__ if exc_type else '?'} at {where}")
            self._send_error_json(500, "internal simulator error")
        finally:
            self._log_request_line()

    def _not_allowed(self) -> None:
        self._status = 0
        self._fault = None
        self._route = urlsplit(self.path).path
        self._query = ""
        # A body we do not read would corrupt the next request on this connection: close it.
        self.close_connection = True
        self._send_error_json(405, f"method {self.command} not allowed; only GET", (("Allow", "GET"),))
        self._log_request_line()

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_log_request_line` writes one line per request, with the fault kind."""

    def log_message(self, format: str, *args: Any) -> None:
        """Protocol-level errors (bad request lines...) still reach stderr, without the raw request."""
        self._log(f"{self.address_string()} {format % args}")

    def _log(self, line: str) -> None:
        config = self.server.config
        if config.quiet:
            return
        with config.log_lock:
            sys.stderr.write(f"simulator: {line}\n")
            sys.stderr.flush()

    def _log_request_line(self) -> None:
        params = dict(parse_qsl(self._query, keep_blank_values=True)) if self._query else {}
        shown = [f"{k}={params[k]}" for k in _LOGGED_PARAMS if k in params]
        if "cursor" in params:
            shown.append("cursor=…")
        fault = f" fault={self._fault}" if self._fault else ""
        self._log(f"{self.command} {self._route} {' '.join(shown)} -> {self._status}{fault}".replace("  ", " "))

    def _send_json(
        self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = (), cut: FaultDecision | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if cut is None:
            self.wfile.write(body)
            return
        # ``cut``: announce the full length, send a strict prefix, hang up. A strict prefix of a JSON
        # object is never valid JSON, and the client sees fewer bytes than Content-Length.
        point = 1 + int(cut.rng.random() * (len(body) - 1))
        self.wfile.write(body[:point])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error_json(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        try:
            self._send_json(status, {"error": message}, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- shared checks -------------------------------------------------------------------

    @staticmethod
    def _parse_query(query: str) -> dict[str, str]:
        params: dict[str, str] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False, errors="strict")
        except UnicodeDecodeError:
            raise _HttpError(400, "query string is not valid UTF-8") from None
        for key, value in pairs:
            if key in params:
                raise _HttpError(400, f"parameter {key!r} given more than once")
            params[key] = value
        return params

    @staticmethod
    def _district(params: dict[str, str]) -> str:
        value = params.get("district", "")
        if not value:
            raise _HttpError(400, "missing required parameter 'district' (GSO code of a reporting unit)")
        return value

    def _hierarchy(self, district: str, start: date, end: date) -> data.Hierarchy:
        """The hierarchy answering for ``district`` over the window; 400 saying why when there is none."""
        try:
            return self.server.config.timeline.resolve(district, start, end)
        except data.UnknownDistrictError as exc:
            raise _HttpError(400, exc.reason) from None

    @staticmethod
    def _date(params: dict[str, str], name: str) -> date:
        value = params.get(name, "")
        if not value:
            raise _HttpError(400, f"missing required parameter {name!r} (YYYY-MM-DD)")
        if not _DATE_RE.match(value):
            raise _HttpError(400, f"parameter {name!r} must be a date YYYY-MM-DD, got {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _HttpError(400, f"parameter {name!r} is not a valid date: {value!r}") from None

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int, maximum: int | None = None) -> int:
        if name not in params:
            return default
        value = params[name]
        if not _INT_RE.match(value) or int(value) < 1:
            raise _HttpError(400, f"parameter {name!r} must be an integer >= 1, got {value!r}")
        number = int(value)
        if maximum is not None and number > maximum:
            raise _HttpError(400, f"parameter {name!r} must be at most {maximum}, got {number}")
        return number

    @staticmethod
    def _window(params: dict[str, str], start: str, end: str) -> tuple[date, date]:
        first = _Handler._date(params, start)
        last = _Handler._date(params, end)
        if first >= last:
            raise _HttpError(400, f"{start!r} must be before {end!r} (half-open window [{start}, {end}))")
        return first, last

    def _fault_for_request(self) -> FaultDecision | None:
        """Draw the fault; answer 5xx/429 at once, sleep for ``slow``; return cut/dup to the caller."""
        config = self.server.config
        decision = config.faults.decide()
        if decision is None:
            return None
        self._fault = decision.kind
        if decision.kind == "5xx":
            status = (500, 502, 503)[int(decision.rng.random() * 3)]
            raise _HttpError(status, f"simulated transient failure ({status}); retry later")
        if decision.kind == "429":
            seconds = config.faults.retry_after
            raise _HttpError(429, f"too many requests; retry after {seconds} s", (("Retry-After", str(seconds)),))
        if decision.kind == "slow":
            time.sleep(config.faults.slow_seconds)
            return None
        return decision

    # ---- one-stop dossier system -----------------------------------------------------------

    def _dossiers(self, params: dict[str, str]) -> None:
        config = self.server.config
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            raise _HttpError(
                401, "missing bearer token: send 'Authorization: Bearer <token>'",
                (("WWW-Authenticate", 'Bearer realm="one-stop"'),),
            )
        if not hmac.compare_digest(token.strip().encode(), config.one_stop_token.encode()):
            raise _HttpError(401, "invalid bearer token", (("WWW-Authenticate", 'Bearer error="invalid_token"'),))

        district = self._district(params)
        active_from, active_to = self._window(params, "active_from", "active_to")
        hierarchy = self._hierarchy(district, active_from, active_to)
        page = self._int(params, "page", 1)
        page_size = self._int(params, "page_size", DOSSIER_PAGE_SIZE_DEFAULT, DOSSIER_PAGE_SIZE_MAX)

        fault = self._fault_for_request()
        records = self.server.scaled("dossiers", district, active_from, active_to,
                                     data.dossiers_in_window(district, active_from, active_to, hierarchy))
        total = len(records)
        broken = self.server.corrupted("dossiers", hierarchy, district, active_from, active_to, records)
        if broken is not None:
            # A served duplicate id is one dossier to the system: total counts ids, pages cover every row.
            records, total = broken, len({r["MaHoSo"] for r in broken})
        start = (page - 1) * page_size
        if fault is not None and fault.kind == "dup":
            start, total = _dup_dossier_page(fault, start, total)
        payload = {
            "page": page,
            "page_size": page_size,
            "total": total,
            "total_pages": math.ceil(max(total, len(records)) / page_size),
            "data": records[start:start + page_size],
        }
        self._send_json(200, payload, cut=fault if fault is not None and fault.kind == "cut" else None)

    # ---- hotline 1022 system ---------------------------------------------------------------

    def _feedback(self, params: dict[str, str]) -> None:
        config = self.server.config
        key = self.headers.get("X-API-Key", "")
        if not key.strip():
            raise _HttpError(401, "missing API key: send header 'X-API-Key: <key>'")
        if not hmac.compare_digest(key.strip().encode(), config.hotline_key.encode()):
            raise _HttpError(401, "invalid API key")

        district = self._district(params)
        received_from, received_to = self._window(params, "received_from", "received_to")
        hierarchy = self._hierarchy(district, received_from, received_to)
        limit = self._int(params, "limit", FEEDBACK_LIMIT_DEFAULT, FEEDBACK_LIMIT_MAX)
        checksum = _query_checksum(district, received_from, received_to)
        offset = _decode_cursor(params["cursor"], checksum) if "cursor" in params else 0

        fault = self._fault_for_request()
        items = self.server.scaled("feedback", district, received_from, received_to,
                                   data.feedback_in_window(district, received_from, received_to, hierarchy))
        items = self.server.corrupted("feedback", hierarchy, district, received_from, received_to, items) or items
        page = items[offset:offset + limit]
        consumed = offset + len(page)
        if fault is not None and fault.kind == "dup":
            page, consumed = _dup_feedback_page(fault, items, offset, limit)
        payload = {
            "items": page,
            "next_cursor": _encode_cursor(consumed, checksum) if consumed < len(items) else None,
        }
        self._send_json(200, payload, cut=fault if fault is not None and fault.kind == "cut" else None)


# ---- dup faults ---------------------------------------------------------------------------------


def _dup_dossier_page(fault: FaultDecision, start: int, total: int) -> tuple[int, int]:
    """Shift the page's first record by 1..5 and maybe overstate ``total`` by 1..5.

    Earlier (negative shift): the last records of the previous page repeat. Later (positive shift,
    always on page 1): a few records are skipped on this page. ``total`` is only ever overstated,
    never understated, so a client holding at least ``total`` unique ids of any answer has them all.
    """
    rng = fault.rng
    shift = 1 + int(rng.random() * DUP_MAX_SHIFT)
    if start > 0 and rng.random() < 0.5:
        start = max(0, start - shift)
    else:
        start += shift
    if rng.random() < 0.5:
        total += 1 + int(rng.random() * DUP_MAX_SHIFT)
    return start, total


def _dup_feedback_page(
    fault: FaultDecision, items: list[dict[str, Any]], offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Repeat 1..5 items of the previous page at the start of this one (never more than ``limit``).

    On the first page there is no previous page: its own first items are repeated instead. The next
    cursor always moves forward by at least one item and nothing is ever skipped.
    """
    shift = min(1 + int(fault.rng.random() * DUP_MAX_SHIFT), limit - 1)
    if shift <= 0:
        page = items[offset:offset + limit]
        return page, offset + len(page)
    if offset == 0:
        head = items[:limit - shift]
        return items[:shift] + head, len(head)
    start = max(0, offset - shift)
    page = items[start:start + limit]
    return page, start + len(page)


# ---- opaque cursors -----------------------------------------------------------------------------


def _query_checksum(district: str, received_from: date, received_to: date) -> str:
    """Binds a cursor to its query: a cursor replayed on another district or window is rejected."""
    text = f"{district}|{received_from.isoformat()}|{received_to.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_cursor(offset: int, checksum: str) -> str:
    raw = json.dumps({"o": offset, "q": checksum}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str, checksum: str) -> int:
    message = "invalid cursor: pass the next_cursor of the previous answer to the same query, or none to restart"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _HttpError(400, message) from None
    if not isinstance(decoded, dict) or decoded.get("q") != checksum:
        raise _HttpError(400, message)
    offset = decoded.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _HttpError(400, message)
    return offset


# ---- construction -------------------------------------------------------------------------------


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    units_path: str | Path | None = None,
    timeline: Sequence[tuple[date | None, str | Path]] | None = None,
    one_stop_token: str = DEFAULT_ONE_STOP_TOKEN,
    hotline_key: str = DEFAULT_HOTLINE_KEY,
    fault_rate: float = 0.0,
    faults: str | Iterable[str] = FAULT_KINDS,
    slow_seconds: float = 2.0,
    retry_after: int = 1,
    seed: int = 1,
    quiet: bool = False,
    corrupt: Any = None,
    scale: int = 1,
) -> SimulatorServer:
    """Bind (port 0 = a free port) and configure a server; the caller runs ``serve_forever``.

    Units: ``units_path`` serves one file for every window (as before the 2025 reform was modelled);
    ``timeline`` is ``(valid_from, units file)`` pairs, the first without a date; neither gives
    :data:`simulator.data.DEFAULT_TIMELINE` (the 2023 districts, then from 2025-07-01 the 2025 communes
    and wards). The files are loaded and checked here, so a bad path fails at start, not on first request.
    """
    if scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale}")
    if not one_stop_token or not hotline_key:
        raise ValueError("the one-stop token and the hotline key must not be empty")
    if units_path is not None and timeline is not None:
        raise ValueError("give either units_path (one file for every window) or timeline, not both")
    units = data.single(data.load_units(units_path)) if units_path is not None else data.load_timeline(timeline)
    injector = FaultInjector(fault_rate, faults, seed=seed, slow_seconds=slow_seconds, retry_after=retry_after)
    config = _Config(
        timeline=units,
        one_stop_token=one_stop_token,
        hotline_key=hotline_key,
        faults=injector,
        quiet=quiet,
        corrupt=corruption.parse_spec(corrupt),
        scale=scale,
    )
    return SimulatorServer((host, port), config)


def base_url_of(server: SimulatorServer) -> str:
    """The URL a local client uses: a wildcard bind address is reached through 127.0.0.1."""
    host, port = server.server_address[:2]
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


class SimulatorHandle:
    """A simulator running in a background thread; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(self, server: SimulatorServer, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread
        self.host, self.port = server.server_address[:2]
        self.base_url = base_url_of(server)
        self._stopped = False

    def set_faults(self, rate: float, kinds: str | Iterable[str] | None = None) -> None:
        """Change the fault rate and (if given) the enabled kinds while the server runs."""
        self.server.config.faults.set(rate, kinds)

    def set_corrupt(self, spec: Any) -> None:
        """Serve broken records (``simulator.corrupt`` spec) from now on; None or ``{}`` serves clean data again."""
        config = self.server.config
        parsed = corruption.parse_spec(spec)
        with config.corrupt_lock:
            config.corrupt = parsed
            config.corrupt_cache.clear()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorHandle({self.base_url})"


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    units_path: str | Path | None = None,
    timeline: Sequence[tuple[date | None, str | Path]] | None = None,
    one_stop_token: str = DEFAULT_ONE_STOP_TOKEN,
    hotline_key: str = DEFAULT_HOTLINE_KEY,
    fault_rate: float = 0.0,
    faults: str | Iterable[str] = FAULT_KINDS,
    slow_seconds: float = 2.0,
    retry_after: int = 1,
    seed: int = 1,
    quiet: bool = False,
    corrupt: Any = None,
    scale: int = 1,
) -> SimulatorHandle:
    """Start a simulator in a daemon thread and return once it accepts connections.

    For tests and local tools: ``with start_in_thread() as sim: requests.get(sim.base_url + ...)``.
    ``units_path`` / ``timeline`` as for :func:`make_server` (default: the 2023 units, then the 2025 ones).
    ``corrupt`` (off by default) serves broken records, e.g. ``{"872": ["no_due_date", "bad_status*200"]}``
    (see :mod:`simulator.corrupt`); ``scale`` serves every window's records that many times (:mod:`simulator.scale`).
    """
    server = make_server(
        host, port, units_path=units_path, timeline=timeline, one_stop_token=one_stop_token, hotline_key=hotline_key,
        fault_rate=fault_rate, faults=faults, slow_seconds=slow_seconds, retry_after=retry_after, seed=seed,
        quiet=quiet, corrupt=corrupt, scale=scale,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"simulator-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return SimulatorHandle(server, thread)
