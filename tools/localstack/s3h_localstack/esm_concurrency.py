"""Concurrent poll loops for SQS event source mappings, as AWS runs them.

On AWS an SQS event source mapping starts with five concurrent pollers, each receiving a batch, invoking the
function and deleting what succeeded on its own, and scales up to ``ScalingConfig.MaximumConcurrency``.
LocalStack 2026.3.0 runs one loop per mapping: one batch at a time, one execution environment busy. This
gives an SQS mapping ``min(MaximumConcurrency, S3H_ESM_POLLERS)`` loops (``S3H_ESM_POLLERS``, default 5, is
read from the environment of the LocalStack process when a mapping's worker is created).

How: ``EsmWorkerFactory.get_esm_worker`` is wrapped. For an SQS mapping with more than one loop, the worker's
poller becomes a ``ConcurrentSqsPoller``: the worker's own loop (``EsmWorker.poller_loop``, unchanged) calls its
``poll_events``, which polls with the original ``SqsPoller`` and, on the first call, starts the other loops in
threads. ``SqsPoller`` keeps no per-batch state, but it shares its clients and processor, so every other loop
gets a poller of its own, built by the same factory (its own SQS and Lambda clients, processor and sender).
The other loops stop with the worker's shutdown event (set on disable, update, delete and LocalStack
shutdown); ``close()``, which the worker's loop calls when it ends and before it records the new state, waits
for them to finish their current batch. Other mappings (Kinesis, DynamoDB streams, ...) are left untouched.

How many poll loops of a mapping are still running: ``GET /_s3h/esm-loops`` -> ``{"loops": {uuid: n}}``. An
update of a mapping (``Enabled=False`` too) replaces its worker: the new one reports ``Disabled`` at once, while
the old one's loops finish their current receive (and batch) on their own; a test that must know no receive is
in progress (one that changes the queue's visibility timeout: a receive reads it when it starts) waits for 0.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from localstack import config
from localstack.services.lambda_.event_source_mapping.esm_worker import EsmWorker
from localstack.services.lambda_.event_source_mapping.esm_worker_factory import EsmWorkerFactory
from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException, Poller
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.utils.backoff import ExponentialBackoff

LOG = logging.getLogger(__name__)

DEFAULT_LOOPS = 5  # AWS: "Lambda begins by starting five concurrent batches" per SQS mapping
LOOPS_SETTING = "S3H_ESM_POLLERS"
JOIN_TIMEOUT_S = 930  # longer than the longest invocation (900 s) an in-flight batch can wait for


def loops_for(esm_config: Mapping[str, Any]) -> int:
    """How many concurrent poll loops an SQS mapping runs: min(MaximumConcurrency, S3H_ESM_POLLERS)."""
    loops = int(os.environ.get(LOOPS_SETTING) or DEFAULT_LOOPS)
    if loops < 1:
        raise ValueError(f"{LOOPS_SETTING} must be at least 1, not {loops}")
    maximum = (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return min(loops, int(maximum)) if maximum else loops


class ConcurrentSqsPoller(Poller):
    """The poller an SQS mapping's worker loop drives; runs ``loops - 1`` more loops beside it."""

    def __init__(
        self,
        primary: SqsPoller,
        new_poller: Callable[[], Poller],
        loops: int,
        shutdown: threading.Event,
        name: str,
        uuid: str = "",
    ) -> None:
        # Poller.__init__ is not called: it would build another SQS client; this poller only delegates.
        self.primary = primary
        self.source_arn = primary.source_arn
        self.aws_region = primary.aws_region
        self.source_parameters = primary.source_parameters
        self.filter_patterns = primary.filter_patterns
        self.processor = primary.processor
        self._new_poller = new_poller
        self._extra_loops = loops - 1
        self._shutdown = shutdown
        self._name = name
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._primary_running = False  # the worker's own loop, from its first poll until it closes this poller
        _POLLERS.setdefault(uuid, []).append(self)

    @property
    def loops(self) -> int:
        return self._extra_loops + 1

    def event_source(self) -> str:
        return self.primary.event_source()

    @property
    def running_loops(self) -> int:
        with self._lock:
            return int(self._primary_running) + sum(1 for thread in self._threads if thread.is_alive())

    def poll_events(self) -> None:
        self._primary_running = True
        self._start_other_loops()
        self.primary.poll_events()

    def close(self) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                LOG.warning("Poll loop %s of %s did not stop", thread.name, self.source_arn)
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
        self.primary.close()
        self._primary_running = False

    def _start_other_loops(self) -> None:
        with self._lock:
            if self._threads or self._shutdown.is_set():
                return
            for index in range(1, self._extra_loops + 1):
                thread = threading.Thread(
                    target=self._loop, args=(self._new_poller(),), name=f"{self._name}-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _loop(self, poller: Poller) -> None:
        """What ``EsmWorker.poller_loop`` does between its state changes: poll, invoke, delete; back off."""
        on_empty = ExponentialBackoff(
            initial_interval=1, max_interval=config.LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC
        )
        on_error = ExponentialBackoff(
            initial_interval=2, max_interval=config.LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC
        )
        try:
            while not self._shutdown.is_set():
                try:
                    poller.poll_events()
                except EmptyPollResultsException:
                    wait = on_empty.next_backoff()
                except Exception as exc:
                    LOG.error("Error while polling messages for event source %s: %s", self.source_arn, exc)
                    wait = on_error.next_backoff()
                else:
                    on_empty.reset()
                    on_error.reset()
                    wait = config.LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC
                self._shutdown.wait(wait)
        finally:
            poller.close()


_POLLERS: dict[str, list[ConcurrentSqsPoller]] = {}  # mapping uuid -> its pollers, the replaced ones included


def running_loops() -> dict[str, int]:
    """Per SQS mapping (uuid), how many of its poll loops are running (those of workers an update replaced too)."""
    counts: dict[str, int] = {}
    for uuid, pollers in list(_POLLERS.items()):
        counts[uuid] = sum(poller.running_loops for poller in pollers)
        _POLLERS[uuid] = [p for p in pollers if p.running_loops or p is pollers[-1]]  # keep the current one
    return counts


def _loops_endpoint(request: Any, **_: Any) -> Any:
    from localstack.http import Response

    return Response(json.dumps({"loops": running_loops()}), status=200, mimetype="application/json")


def async_pollers() -> dict[str, list[int]]:
    """Per function and qualifier (``name:$LATEST``), the threads of LocalStack's asynchronous-invocation poller
    alive now. A configuration update starts a new poller and stops the old one, which may still be inside its
    2-second receive: a message it receives then is dropped, invisible for the function's timeout + 60 s. So a
    test that invokes asynchronously right after an update waits until only the new poller is left."""
    pollers: dict[str, list[int]] = {}
    for thread in threading.enumerate():
        if thread.name.startswith("lambda-poller-") and thread.is_alive() and thread.ident is not None:
            function = thread.name.removeprefix("lambda-poller-").rsplit("-functhread", 1)[0]
            pollers.setdefault(function, []).append(thread.ident)
    return pollers


def _pollers_endpoint(request: Any, **_: Any) -> Any:
    from localstack.http import Response

    return Response(json.dumps({"pollers": async_pollers()}), status=200, mimetype="application/json")


def install() -> None:
    """Wraps ``EsmWorkerFactory.get_esm_worker`` and adds ``/_s3h/esm-loops`` and ``/_s3h/lambda-pollers``
    (idempotent)."""
    original = EsmWorkerFactory.get_esm_worker
    if getattr(original, "s3h_patched", False):
        return

    @functools.wraps(original)
    def get_esm_worker(self: EsmWorkerFactory) -> EsmWorker:
        worker = original(self)
        if type(worker.poller) is not SqsPoller:
            return worker
        worker.poller = ConcurrentSqsPoller(  # one loop too: its loop is counted (running_loops)
            primary=worker.poller,
            new_poller=lambda: original(self).poller,
            loops=loops_for(self.esm_config),
            shutdown=worker._shutdown_event,  # set by stop(), delete() and stop_for_shutdown()
            name=f"event-source-mapping-poller-{worker.uuid}",
            uuid=worker.uuid,
        )
        return worker

    from localstack.services.edge import ROUTER

    ROUTER.add("/_s3h/esm-loops", endpoint=_loops_endpoint, methods=["GET"])
    ROUTER.add("/_s3h/lambda-pollers", endpoint=_pollers_endpoint, methods=["GET"])

    get_esm_worker.s3h_patched = True  # type: ignore[attr-defined]
    EsmWorkerFactory.get_esm_worker = get_esm_worker  # type: ignore[method-assign]
