"""Asynchronous invocations survive a function's configuration update, as on AWS.

When a function's configuration changes (UpdateFunctionConfiguration: the tests change environments as a stack
update would), LocalStack 2026.3.0 starts a new event manager on the same internal event queue and stops the
old one (``LambdaEventManager.stop_for_update``). The old poller may have received events in its last long
poll; stopping shuts its invoker pool down with ``cancel_futures=True``, so those events are dropped, in flight
on the internal queue under a visibility timeout of the function's timeout + 60 s: an ``Invoke`` with
``InvocationType=Event`` answered 202 runs only a quarter of an hour later (the planner's timeout), not at once
as on AWS. This lets the pool finish what it was given: each event is handled by a ``lambda.Invoke`` of the
function, which the current version serves.
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    from localstack.services.lambda_.invocation.event_manager import Poller

    if getattr(Poller.stop, "s3h_patched", False):
        return

    @functools.wraps(Poller.stop)
    def stop(self: Any) -> None:
        self._shutdown_event.set()
        self.invoker_pool.shutdown(cancel_futures=False, wait=False)  # events received: handled, not dropped

    stop.s3h_patched = True  # type: ignore[attr-defined]
    Poller.stop = stop  # type: ignore[method-assign]
