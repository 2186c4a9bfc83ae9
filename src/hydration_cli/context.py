"""What the click context carries: the global options, and seams for tests (the function invoker, the clock,
sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hydration_cli.deployment import DEFAULT_STACK, Deployment, InvokerFactory


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppConfig:
    invoker_factory: InvokerFactory | None = None  # None: real Lambda invokes
    clock: Callable[[], datetime] = field(default=_now)
    sleep: Callable[[float], None] = field(default=time.sleep)
    debug: bool = False
    profile: str | None = None
    region: str | None = None
    stack: str = DEFAULT_STACK
    output: str = "table"
    query: Any = None  # a compiled JMESPath expression (--query)
    _deployment: Deployment | None = field(default=None, repr=False)

    def override(self, **given: Any) -> None:
        """Options given after the command win over those given before it (and over the environment)."""
        for name, value in given.items():
            if value is not None and value is not False:
                setattr(self, name, value)

    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = Deployment(self.stack, self.region, self.profile, invoker_factory=self.invoker_factory)
        return self._deployment
