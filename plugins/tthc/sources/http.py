"""JSON over HTTP with the retry rules every connector follows (sources.md, "Handling rules").

Why tenacity around requests rather than urllib3's Retry alone: a page whose body is cut or is not
valid JSON is transient too, and urllib3 only sees status codes. Transient: timeouts, connection
resets, 429 (waiting what ``Retry-After`` says), 5xx, broken bodies. Permanent: 400 and 401, which
fail at once with a message that names the system and what to fix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source system refused or kept failing; the message names the system and what to do.

    ``retryable`` tells the orchestrator whether trying the task again later may help (the system
    was down) or not (a wrong token, a bad request, a reply that breaks the contract).
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


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff rather than guess


class JsonClient:
    """GET JSON from one source system with auth headers, timeouts and retries."""

    def __init__(self, system: str, base_url: str, headers: dict[str, str], policy: RetryPolicy,
                 session: requests.Session | None = None, fix_auth: str = "") -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.policy = policy
        self.session = session or requests.Session()
        self.fix_auth = fix_auth  # what to tell the operator on 401, e.g. which connection to fix
        self.attempts_failed = 0  # transient failures seen, for the run summary
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
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, params=params, headers=self.headers, timeout=self.policy.timeout_seconds)
            status = response.status_code
            if status == 401:
                raise SourceError(f"{self.system}: 401 Unauthorized at {url}. {self.fix_auth}")
            if status == 400:
                raise SourceError(f"{self.system}: 400 Bad Request for {url} {params}: {_error_text(response)}")
            wait = _retry_after(response.headers.get("Retry-After"))
            if status == 429:
                raise TransientSourceError("429 Too Many Requests", wait)
            if status >= 500:
                raise TransientSourceError(f"{status} {response.reason}", wait)
            if status != 200:
                detail = _error_text(response)
                raise SourceError(f"{self.system}: unexpected HTTP {status} for {url} {params}: {detail}")
            body = response.json()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientSourceError(f"{type(exc).__name__}: {exc}") from exc
        except requests.JSONDecodeError as exc:
            raise TransientSourceError(f"page is not valid JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise TransientSourceError(f"page is JSON but not an object ({type(body).__name__})")
        return body


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])[:300]
    except ValueError:
        pass
    return response.text[:300]
