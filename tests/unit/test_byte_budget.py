"""Stream mode's memory: the ByteBudget bounds the bytes held at once and reuses part buffers."""

from __future__ import annotations

import threading

from hydration.aws.transfer.memory import ByteBudget
from hydration.parts import MIB


def test_parts_of_one_size_reuse_one_buffer_each_instead_of_allocating_anew() -> None:
    budget = ByteBudget(64 * MIB)
    seen = set()
    for _ in range(10):
        with budget.held(16 * MIB) as buffer:
            assert len(buffer) == 16 * MIB
            seen.add(id(buffer.obj))
    assert len(seen) == 1


def test_the_bytes_held_never_exceed_the_budget_kept_buffers_included() -> None:
    budget = ByteBudget(40 * MIB)
    peak = 0
    lock = threading.Lock()
    live: dict[int, int] = {}

    def part(size: int) -> None:
        nonlocal peak
        with budget.held(size) as buffer:
            with lock:
                live[id(buffer.obj)] = len(buffer.obj)
                peak = max(peak, sum(live.values()))
            buffer[0:1] = b"x"
            with lock:
                del live[id(buffer.obj)]

    threads = [threading.Thread(target=part, args=(size,)) for size in [16 * MIB, 8 * MIB, 16 * MIB, 24 * MIB] * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert peak <= 40 * MIB
    assert budget._used <= budget.limit  # what is kept for reuse is counted too


def test_a_request_larger_than_the_budget_takes_all_of_it() -> None:
    budget = ByteBudget(8 * MIB)
    with budget.held(20 * MIB) as buffer:
        assert len(buffer) == 20 * MIB
    with budget.held(8 * MIB) as again:  # and gives it back
        assert len(again) == 8 * MIB
