"""Fault injection: the ways a real Gumroad (or the network to it) misbehaves.

Counters for the "every Nth request" faults start at the last `reset()`, so a test
that calls `sandbox.faults.configure(rate_limit_every=3)` knows that its own third
request is the first 429.
"""

import threading
from dataclasses import dataclass, field, fields

# One decision per API request; the first of drop, truncate, rate_limit and
# server_error that matches wins, while slow and latency only add a delay.


@dataclass
class Faults:
    rate_limit_every: int = 0  # every Nth API request answers 429 "Retry later"
    rate_limit_burst: int = 1  # ...and so do the K-1 requests after it
    server_error_every: int = 0
    server_error_status: int = 503
    slow_every: int = 0  # every Nth request sleeps slow_seconds before answering
    slow_seconds: float = 0.0
    drop_every: int = 0  # close the connection without any response
    truncate_every: int = 0  # declare Content-Length, send half the body, close
    latency_seconds: float = 0.0  # added to every API request
    query_timeout_days: int = 0  # GET /sales spanning more days answers 400
    _seen: int = field(default=0, repr=False)
    _burst_left: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    SETTINGS = (
        "rate_limit_every",
        "rate_limit_burst",
        "server_error_every",
        "server_error_status",
        "slow_every",
        "slow_seconds",
        "drop_every",
        "truncate_every",
        "latency_seconds",
        "query_timeout_days",
    )

    def reset(self):
        """Turn every fault off and restart the request counter."""
        with self._lock:
            for spec in fields(self):
                if spec.name in self.SETTINGS:
                    setattr(self, spec.name, spec.default)
            self._seen = 0
            self._burst_left = 0

    def configure(self, **settings):
        """reset() and then apply `settings` (names as the attributes)."""
        self.reset()
        self.update(**settings)
        return self

    def update(self, **settings):
        unknown = set(settings) - set(self.SETTINGS)
        if unknown:
            raise ValueError(f"Unknown fault settings: {sorted(unknown)}")
        with self._lock:
            for name, value in settings.items():
                kind = float if name.endswith("seconds") else int
                setattr(self, name, kind(value))

    def settings(self):
        return {name: getattr(self, name) for name in self.SETTINGS}

    def decide(self):
        """Count one API request; return (action or None, latency s, slow s)."""
        with self._lock:
            self._seen += 1
            number = self._seen
            slow = self.slow_seconds if _hits(number, self.slow_every) else 0.0
            latency = self.latency_seconds
            if _hits(number, self.drop_every):
                return "drop", latency, slow
            if _hits(number, self.truncate_every):
                return "truncate", latency, slow
            if _hits(number, self.rate_limit_every):
                self._burst_left = max(self.rate_limit_burst, 1)
            if self._burst_left > 0:
                self._burst_left -= 1
                return "rate_limit", latency, slow
            if _hits(number, self.server_error_every):
                return "server_error", latency, slow
            return None, latency, slow


def _hits(number, every):
    return every > 0 and number % every == 0
