"""JSON over HTTP with the rules every connector follows (docs/sources.md, "Handling rules"), and bounds.

Why tenacity around requests rather than urllib3's Retry alone: a page whose body is cut or is not
valid JSON is transient too, and urllib3 only sees status codes. Transient: timeouts, connection
resets, 429 (waiting what ``Retry-After`` says), 5xx, broken bodies. Permanent: 400 and 401, which
fail at once with a message that names the system and what to fix.

Why the session comes from outside: the Airflow glue builds it with the http provider's
``HttpHook.get_conn()``, so a connection's Extra (headers, proxies, ``verify``, ``cert``) means what
Airflow documents; this module adds what no provider does for us:

- **redirects**: never followed automatically. A redirect within the same origin (scheme, host,
  port) is followed a few times; one to another origin is a permanent error naming both URLs,
  because following it would send the token or API key to a host it was not given to.
- **bounds**: a deadline for each whole response (a server dripping one byte a second is not held
  by a per-read timeout), a maximum decompressed body size (a 1 MB gzip bomb is never inflated in
  memory beyond it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger(__name__)

MAX_SAME_ORIGIN_REDIRECTS = 5
_CHUNK = 64 * 1024
_ERROR_BODY_BYTES = 4096  # how much of an error reply is read to quote it


class SourceError(RuntimeError):
    """A source system refused or kept failing; the message names the system and what to do.

    ``retryable`` tells the orchestrator whether trying the task again later may help (the system
    was down) or not (a wrong token, a bad request, a reply that breaks the contract or a limit).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class TransientSourceError(Exception):
    """One attempt failed in a way that a later attempt may not; carries the server's Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff bounds, request timeout, passes over a shifting list."""

    max_attempts: int = 8
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    timeout_seconds: float = 30.0
    max_passes: int = 5


@dataclass(frozen=True)
class Limits:
    """How much one extraction may cost, whatever the source does; each names its setting in errors.

    The defaults hold a province reporting as one unit (a million dossiers, 1,000 a page, a few
    passes) with room to spare, and stop a source that never ends long before memory or time run out.
    """

    response_deadline_seconds: float = 120.0  # one whole response: connect, headers and body
    max_response_bytes: int = 32 * 1024 * 1024  # one body, after decompression
    max_pages: int = 10_000  # requests of one extraction (all passes)
    max_records: int = 2_000_000  # distinct records of one extraction

    SETTINGS: ClassVar[dict[str, str]] = {
        "response_deadline_seconds": "extraction.response_deadline_seconds",
        "max_response_bytes": "extraction.max_response_bytes",
        "max_pages": "extraction.max_pages",
        "max_records": "extraction.max_records",
    }

    def exceeded(self, system: str, name: str, what: str) -> SourceError:
        """A permanent error naming the system, the limit and the setting that raises it."""
        return SourceError(
            f"{system}: {what}, more than the limit of {getattr(self, name):,} ({self.SETTINGS[name]} in "
            "include/config/pipeline.yaml). If the source really is this large, raise the setting; otherwise "
            "report the behaviour to the system's operator.")


@dataclass
class Extract:
    """The records of one unit, source and window (no personal data), and what it took to get them.

    The records are columns (``table``), not dicts: a unit of a million dossiers must fit a task's memory.

    ``rejected`` lists the records set aside for a field of the wrong JSON type: id, field, expected
    and received type, never the value. ``notes`` are warnings for the run summary. ``passes`` counts
    full re-reads of a live listing (always 1 for a cursor listing).
    """

    table: Any  # pyarrow Table of the landing schema, one row per record, sorted by id (RecordSet.table)
    requests: int
    repeats: int
    transient_failures: int
    notes: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    passes: int = 1

    @property
    def count(self) -> int:
        """How many records were kept."""
        return int(self.table.num_rows)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records as dicts, sorted by id: for small listings and tests (the pipeline lands ``table``)."""
        return list(self.table.to_pylist())


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit: what a credential is bound to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff rather than guess


@dataclass
class _Reply:
    url: str
    status: int
    reason: str
    headers: Any
    body: bytes


class JsonClient:
    """GET JSON objects from one source system: auth headers, retries, redirects kept home, bounded replies."""

    def __init__(self, system: str, base_url: str, headers: dict[str, str], policy: RetryPolicy,
                 session: requests.Session | None = None, conn_id: str = "", secret_name: str = "secret",
                 limits: Limits | None = None) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.policy = policy
        self.limits = limits or Limits()
        self.session = session or requests.Session()
        self.conn_id = conn_id
        # what to tell the operator on 401, e.g. which connection to fix
        self.fix_auth = f"Check the {secret_name} in the password of Airflow connection '{conn_id}'." if conn_id else ""
        self.attempts_failed = 0  # transient failures seen, for the run summary
        self.requests = 0  # answers received (every attempt), for the bounds
        self._backoff = wait_exponential_jitter(
            initial=policy.backoff_initial_seconds, max=policy.backoff_max_seconds,
            jitter=policy.backoff_initial_seconds,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientSourceError) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.backoff_max_seconds)
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        self.attempts_failed += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: attempt %d failed (%s); retrying", self.system, state.attempt_number, exc)

    def get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One GET returning a JSON object, retried while transient; SourceError once it cannot succeed."""
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientSourceError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params)
        except TransientSourceError as exc:
            raise SourceError(
                f"{self.system}: GET {path} {params} still failing after {self.policy.max_attempts} attempts "
                f"(last: {exc}). The system may be down; the task will be retried, or rerun it later.",
                retryable=True,
            ) from exc

    def _get_once(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        url = requests.Request("GET", f"{self.base_url}{path}", params=params).prepare().url or ""
        home = origin(url)
        for _ in range(MAX_SAME_ORIGIN_REDIRECTS + 1):
            reply = self._exchange(url)
            if reply.status not in (301, 302, 303, 307, 308):
                return self._json(reply, params)
            target = urljoin(url, reply.headers.get("Location") or "")
            if origin(target) != home:
                raise SourceError(
                    f"{self.system}: {url} answered {reply.status} redirecting to {target}, another origin. "
                    f"Redirects away from the configured system are never followed (its credentials would go "
                    f"with them). Check Host, Schema and Port of Airflow connection '{self.conn_id}' (the address "
                    "the system really answers at), or report the redirect to the system's operator.")
            url = target
        raise SourceError(f"{self.system}: more than {MAX_SAME_ORIGIN_REDIRECTS} redirects from {path}; "
                          "report this to the system's operator")

    def _exchange(self, url: str) -> _Reply:
        """One request and its whole body, within the response deadline (the work runs in a daemon thread).

        Why a thread: requests' timeout bounds each socket read, not the response; a server that sends
        one byte a second never trips it. The reader stops at the deadline; a thread still blocked in a
        read then ends with its socket's own timeout, and never keeps the process alive.
        """
        box: dict[str, Any] = {}
        stop = threading.Event()
        deadline = self.limits.response_deadline_seconds

        def work() -> None:
            try:
                box["reply"] = self._read(url, stop, time.monotonic() + deadline)
            except BaseException as exc:  # handed to the caller's thread as is
                box["error"] = exc

        worker = threading.Thread(target=work, name=f"tthc-http-{self.requests}", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            stop.set()
            raise TransientSourceError(f"no complete reply from {url} within {deadline:g} s "
                                       f"({Limits.SETTINGS['response_deadline_seconds']})")
        if "error" in box:
            raise box["error"]
        self.requests += 1
        return box["reply"]

    def _read(self, url: str, stop: threading.Event, deadline: float) -> _Reply:
        timeout = min(self.policy.timeout_seconds, self.limits.response_deadline_seconds)
        try:
            # verify is passed again per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on
            # many Linux hosts) override a session's CA bundle, which would silently ignore the connection's Extra.
            response = self.session.get(url, headers=self.headers, timeout=timeout, stream=True,
                                        allow_redirects=False, verify=self.session.verify)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientSourceError(f"{type(exc).__name__}: {exc}") from exc
        try:
            limit = self.limits.max_response_bytes if response.status_code == 200 else _ERROR_BODY_BYTES
            declared = response.headers.get("Content-Length")
            if response.status_code == 200 and declared and declared.isdigit() and int(declared) > limit:
                raise self.limits.exceeded(self.system, "max_response_bytes",
                                           f"{url} announces a body of {int(declared):,} bytes")
            body = bytearray()
            while not stop.is_set():
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                body += chunk
                if len(body) > limit:
                    if response.status_code != 200:
                        break  # enough of an error body to quote it
                    raise self.limits.exceeded(self.system, "max_response_bytes",
                                               f"the body from {url} grows beyond {limit:,} bytes (decompressed)")
                if time.monotonic() > deadline:
                    break  # the caller has given up already
            return _Reply(url, response.status_code, response.reason or "", response.headers, bytes(body))
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise TransientSourceError(f"broken reply ({type(exc).__name__}: {exc})") from exc
        finally:
            response.close()

    def _json(self, reply: _Reply, params: dict[str, Any]) -> dict[str, Any]:
        status, url = reply.status, reply.url
        if status == 401:
            raise SourceError(f"{self.system}: 401 Unauthorized at {url}. {self.fix_auth}".rstrip())
        if status == 400:
            raise SourceError(f"{self.system}: 400 Bad Request for {url}: {_error_text(reply.body)}")
        wait = _retry_after(reply.headers.get("Retry-After"))
        if status == 429:
            raise TransientSourceError("429 Too Many Requests", wait)
        if status >= 500:
            raise TransientSourceError(f"{status} {reply.reason}", wait)
        if status != 200:
            raise SourceError(f"{self.system}: unexpected HTTP {status} for {url}: {_error_text(reply.body)}")
        try:
            body = json.loads(reply.body)
        except ValueError as exc:  # a cut or garbled page: the next attempt may be whole
            raise TransientSourceError(f"page is not valid JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise TransientSourceError(f"page is JSON but not an object ({type(body).__name__})")
        return body


def _error_text(body: bytes) -> str:
    """The ``error`` of a JSON error body, or the start of the body; never more than 300 characters."""
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "error" in parsed:
            return str(parsed["error"])[:300]
    except ValueError:
        pass
    return text[:300]
