"""Seconds spent per phase of an import, for the bench.

Production code marks its phases with `phase("name")`; nothing is measured unless a
caller explicitly collects (`with collect() as profile:`), so a server pays one global
lookup per phase. Times are exclusive: a phase entered inside another pauses the
outer one, so the phases add up to the time spent inside them.
"""

import threading
import time
from contextlib import contextmanager

_collector = None


class Profile:
    """Seconds and calls per phase name, measured per thread."""

    def __init__(self, clock=time.perf_counter):
        self.seconds = {}
        self.calls = {}
        self._clock = clock
        self._stacks = {}  # thread id -> [[name, started], ...]
        self._lock = threading.Lock()

    def _add(self, name, seconds):
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def phase(self, name):
        stack = self._stacks.setdefault(threading.get_ident(), [])
        now = self._clock()
        if stack:
            outer = stack[-1]
            self._add(outer[0], now - outer[1])
        frame = [name, now]
        stack.append(frame)
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        try:
            yield
        finally:
            now = self._clock()
            self._add(name, now - frame[1])
            stack.pop()
            if stack:
                stack[-1][1] = now

    def total(self):
        return sum(self.seconds.values())

    def rows(self):
        """(name, seconds, calls), slowest first."""
        return sorted(
            (
                (name, seconds, self.calls.get(name, 0))
                for name, seconds in self.seconds.items()
            ),
            key=lambda row: -row[1],
        )


@contextmanager
def phase(name):
    """Count the time of the block under `name` when a profile is being collected."""
    collector = _collector
    if collector is None:
        yield
        return
    with collector.phase(name):
        yield


@contextmanager
def collect(profile=None):
    """Collect the phases of everything run inside the block into a Profile."""
    global _collector
    previous = _collector
    _collector = profile if profile is not None else Profile()
    try:
        yield _collector
    finally:
        _collector = previous
