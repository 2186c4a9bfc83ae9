"""The books' promise, as a property: whatever the interleaving of planner worker invocations (checkpointed,
killed between two of their transactions, their shard taken over once its lease ran out, handed on, split),
of deliveries (duplicated, split into one-key messages, settled in any grouping and order, some lost and swept
by the finalizer), each selected key is opened once in the run's books and counted once when it settles, and
the books balance once every key has an outcome."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import planner.enqueue
from finalizer.service import _sweep_unsettled
from hydration.models import Outcome, PlannerRequest, RunStatus, Settlement
from tests.fakes import FakeLedger, FakeListingS3, FakeManifest, FakeRuns
from tests.unit.planning import BASE, Planning, failure
from tests.unit.planning import settings as planner_settings

OUTCOMES = [Outcome.TRANSFERRED, Outcome.SKIPPED, Outcome.VANISHED, Outcome.FAILED]


class Killed(BaseException):
    """The planner's process dies (nothing in it may catch this)."""


def _deliveries(bodies: list[str]) -> list[Settlement]:
    """What the copier settles for each message: its objects, in their sheet's slots."""
    found = []
    for body in bodies:
        message = json.loads(body)
        for obj in message["objects"]:
            found.append(Settlement(obj["key"], Outcome.TRANSFERRED, 1, sheet=message["sheet"], slot=obj["slot"]))
    return found


@settings(max_examples=80)
@given(
    keys=st.sets(st.text(alphabet="ab/ ü+%", min_size=1, max_size=5), min_size=1, max_size=40),
    failed=st.sets(st.text(alphabet="abc", min_size=1, max_size=3), max_size=5),
    page_size=st.integers(min_value=1, max_value=6),
    pages_per_invocation=st.integers(min_value=0, max_value=3),
    keys_per_message=st.integers(min_value=1, max_value=4),
    actions=st.integers(min_value=1, max_value=6),
    beat=st.booleans(),
    kills=st.lists(st.integers(min_value=0, max_value=6), max_size=3),
    data=st.data(),
)
def test_each_key_is_opened_once_and_counted_once_whatever_the_interleaving(
    keys: set[str],
    failed: set[str],
    page_size: int,
    pages_per_invocation: int,
    keys_per_message: int,
    actions: int,
    beat: bool,
    kills: list[int],
    data: st.DataObject,
) -> None:
    """Transactions are cut small (`actions` sheets and claims each, instead of 97) and, with `beat`, at every
    page too (a heartbeat), so that kills land between any two of them."""
    limit, planner.enqueue.MAX_ACTIONS = planner.enqueue.MAX_ACTIONS, actions
    try:
        _interleave(keys, failed, page_size, pages_per_invocation, keys_per_message, beat, kills, data)
    finally:
        planner.enqueue.MAX_ACTIONS = limit


def _interleave(
    keys: set[str],
    failed: set[str],
    page_size: int,
    pages_per_invocation: int,
    keys_per_message: int,
    beat: bool,
    kills: list[int],
    data: st.DataObject,
) -> None:
    listing = {key: (1, f'"{i}"', BASE + timedelta(seconds=i)) for i, key in enumerate(sorted(keys))}
    ledger = FakeLedger([failure(key) for key in failed])
    config = planner_settings(
        list_page_size=page_size,
        keys_per_message=keys_per_message,
        planner_shards=data.draw(st.sampled_from([1, 2, 4])),
        shard_split_pages=1,
        heartbeat_seconds=1e-9 if beat else 3600,
    )
    world = Planning(FakeListingS3(listing), config, ledger=ledger, manifest=FakeManifest(ledger=ledger))
    runs, sqs, books = world.runs, world.sqs, world.runs.books

    # The planner workers: invocations that a kill may stop between two of their transactions; a killed
    # worker's shard message comes back, and the next worker takes the shard over once its lease ran out
    def kill() -> None:
        raise Killed

    run_id = "run-0"
    world.start(PlannerRequest(full=True), run_id=run_id)
    invocation = 0
    while world.shard_queue.messages:
        message = world.shard_queue.messages[0]
        if invocation < len(kills):
            books.open_faults = [lambda: None] * kills[invocation] + [kill]
        try:
            world.work_one(0, pages_per_invocation)
        except Killed:
            world.shard_queue.messages.append(message)
            world.now += timedelta(seconds=config.shard_lease_seconds + 1)
        finally:
            books.open_faults = []
        invocation += 1
        assert invocation < 1000, "the planner queue does not drain"
    run = runs.get(run_id)
    assert run.status is RunStatus.DRAINING
    expected = sorted(set(listing) | failed)
    assert sorted(books.tasks(run_id)) == expected
    assert all(len(tasks) == 1 for tasks in books.tasks(run_id).values())  # each key opened once
    assert run.keys_enqueued == len(expected)
    assert run.ledger_keys_enqueued == len(failed)

    # The copier: every message delivered once or more, some split into one-key messages, settled in any
    # grouping and order, with any outcome; some messages lost (the finalizer sweeps their keys)
    deliveries = _deliveries(sqs.bodies)
    assert Counter(s.key for s in deliveries) == Counter(expected)  # each sent once
    lost = data.draw(st.sets(st.sampled_from(deliveries), max_size=3)) if deliveries else set()
    delivered = [s for s in deliveries if s not in lost]
    again = data.draw(st.lists(st.sampled_from(delivered), max_size=10)) if delivered else []
    stream = data.draw(st.permutations(delivered + again))
    outcome = {s.key: data.draw(st.sampled_from(OUTCOMES)) for s in delivered}
    counted: list[str] = []
    while stream:
        size = data.draw(st.integers(min_value=1, max_value=len(stream)))
        batch, stream = stream[:size], stream[size:]
        settled = books.settle(run_id, [s._replace(outcome=outcome[s.key]) for s in batch])
        counted += [s.key for s in settled]
    assert Counter(counted) == Counter({s.key for s in delivered})  # each key counted once
    swept, complete = _sweep_unsettled(run, _finalizer(runs, ledger))
    assert (swept, complete) == (len(lost), True)
    run = runs.get(run_id)
    assert run.balanced
    assert run.keys_settled == run.keys_enqueued == len(expected)
    assert run.objects_failed == sum(1 for s in delivered if outcome[s.key] is Outcome.FAILED) + len(lost)
    assert sorted(k for k in books.tasks(run_id) if ledger.get(k) is not None and ledger.get(k).run_id == run_id) == (
        sorted(s.key for s in lost)
    )


def _finalizer(runs: FakeRuns, ledger: FakeLedger) -> object:
    from finalizer.service import FinalizerDeps
    from hydration.closing import Closing
    from hydration.models import QueueDepth
    from hydration.settings import FinalizerSettings
    from tests.fakes import FakeEvents, FakeMarker

    return FinalizerDeps(
        settings=FinalizerSettings(
            consumer_bucket="consumer",
            runs_table="r",
            books_table="b",
            failures_table="f",
            manifest_table="m",
            transfer_queue_url="q",
        ),
        runs=runs,
        books=runs.books,
        lookup=FakeManifest(ledger=ledger).lookup,
        closing=Closing(runs=runs, ledger=ledger, marker=FakeMarker(), events=FakeEvents()),
        queue_depth=lambda: QueueDepth(visible=0, in_flight=0, delayed=0),
        clock=lambda: BASE,
    )
