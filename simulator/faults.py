"""Fault injection: the transient failures a connector must survive.

Why this shape: the connectors must retry timeouts, resets, 429 and 5xx, treat a truncated body as
transient, and deduplicate records of a live, shifting pagination. Each kind reproduces one of
those, and the decisions are reproducible: request n draws from ``random.Random(f"{seed}:{n}")``
(n counted under a lock), so a run with the same seed and the same request order sees the same
faults.

Kinds:

- ``5xx``: status 500, 502 or 503 with a JSON error body.
- ``429``: status 429 with ``Retry-After: <retry_after>``.
- ``cut``: status 200, ``Content-Length`` of the full body, only part of the body sent, then the
  connection is closed.
- ``slow``: ``slow_seconds`` of delay, then the normal answer.
- ``dup``: a shifted page, as in a live system where records move between pages (details in
  :mod:`simulator.server` and the README).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "FaultDecision", "FaultInjector", "parse_kinds"]

#: Every fault kind, in the order the CLI documents them.
FAULT_KINDS: tuple[str, ...] = ("5xx", "429", "cut", "slow", "dup")


def parse_kinds(kinds: str | Iterable[str]) -> tuple[str, ...]:
    """Normalize ``"5xx,429"`` or an iterable of kinds; raise ``ValueError`` naming unknown kinds."""
    items = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds)]
    items = [k for k in items if k]
    unknown = sorted(set(items) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}")
    # Keep the documented order and drop repeats, so the uniform pick does not depend on spelling.
    return tuple(k for k in FAULT_KINDS if k in items)


@dataclass(frozen=True)
class FaultDecision:
    """The fault chosen for one request, with a private RNG for its details (shift size, cut point...)."""

    kind: str
    rng: random.Random
    request_number: int


class FaultInjector:
    """Decides, per eligible request, whether and which fault to inject. Thread-safe."""

    def __init__(
        self,
        rate: float = 0.0,
        kinds: str | Iterable[str] = FAULT_KINDS,
        *,
        seed: int = 1,
        slow_seconds: float = 2.0,
        retry_after: int = 1,
    ) -> None:
        self._lock = threading.Lock()
        self._counter = 0
        self.seed = seed
        self.slow_seconds = float(slow_seconds)
        self.retry_after = int(retry_after)
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        self.rate = 0.0
        self.kinds: tuple[str, ...] = ()
        self.set(rate, kinds)

    def set(self, rate: float, kinds: str | Iterable[str] | None = None) -> None:
        """Change the rate (0..1) and optionally the enabled kinds, at runtime."""
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        parsed = self.kinds if kinds is None else parse_kinds(kinds)
        if rate > 0 and not parsed:
            raise ValueError("a positive fault rate needs at least one fault kind")
        with self._lock:
            self.rate = rate
            self.kinds = parsed

    def decide(self) -> FaultDecision | None:
        """Draw for one request (already authenticated and validated); None means answer normally."""
        with self._lock:
            self._counter += 1
            number = self._counter
            rate, kinds = self.rate, self.kinds
        if rate <= 0 or not kinds:
            return None
        rng = random.Random(f"{self.seed}:{number}")
        if rng.random() >= rate:
            return None
        return FaultDecision(kinds[int(rng.random() * len(kinds))], rng, number)
