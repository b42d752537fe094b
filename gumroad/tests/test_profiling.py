"""The bench's phase profile: off unless collected, exclusive times per phase."""

from gumroad import profiling


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_phases_are_not_measured_unless_collected():
    with profiling.phase("parse"):
        pass
    with profiling.collect() as profile:
        pass
    assert profile.seconds == {}
    assert profiling._collector is None


def test_nested_phases_count_exclusive_seconds_and_calls():
    clock = FakeClock()
    with profiling.collect(profiling.Profile(clock=clock)) as profile:
        with profiling.phase("book"):
            clock.now += 1.0
            with profiling.phase("post"):
                clock.now += 2.0
            clock.now += 0.5
        with profiling.phase("post"):
            clock.now += 3.0
    assert profile.seconds == {"book": 1.5, "post": 5.0}
    assert profile.calls == {"book": 1, "post": 2}
    assert profile.total() == 6.5
    assert [row[0] for row in profile.rows()] == ["post", "book"]
    assert profiling._collector is None


def test_a_failing_phase_is_still_counted():
    clock = FakeClock()
    with profiling.collect(profiling.Profile(clock=clock)) as profile:
        try:
            with profiling.phase("fetch"):
                clock.now += 1.0
                raise RuntimeError("Gumroad is down")
        except RuntimeError:
            pass
    assert profile.seconds == {"fetch": 1.0}
