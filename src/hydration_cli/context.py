"""What the click context carries: seams for tests (the function invoker, the clock, sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hydration_cli.deployment import InvokerFactory


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppConfig:
    invoker_factory: InvokerFactory | None = None  # None: real Lambda invokes
    clock: Callable[[], datetime] = field(default=_now)
    sleep: Callable[[float], None] = field(default=time.sleep)
    debug: bool = False
