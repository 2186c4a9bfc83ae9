"""Traces carry the run id and the key: the X-Ray annotations the runbook's filter expressions select on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from hydration.observability import ANNOTATION_MAX_CHARS, annotate_run, traced_key


@dataclass
class Subsegment:
    name: str
    annotations: dict[str, Any] = field(default_factory=dict)

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


@dataclass
class Recorder:
    """The X-Ray recorder as the tracer's provider: subsegments opened, annotations on the segment."""

    subsegments: list[Subsegment] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)
    open: int = 0

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[Subsegment]:
        subsegment = Subsegment(name)
        self.subsegments.append(subsegment)
        self.open += 1
        try:
            yield subsegment
        finally:
            self.open -= 1


@dataclass
class FakeTracer:
    provider: Recorder = field(default_factory=Recorder)
    disabled: bool = False

    def put_annotation(self, key: str, value: Any) -> None:
        if not self.disabled:
            self.provider.annotations[key] = value


def test_a_run_annotates_the_invocations_trace() -> None:
    tracer = FakeTracer()
    annotate_run("20240501T060000Z-a1b2c3", on=tracer)
    assert tracer.provider.annotations == {"run_id": "20240501T060000Z-a1b2c3"}


def test_each_key_copy_is_a_subsegment_annotated_with_its_run_and_key() -> None:
    tracer = FakeTracer()
    seen_open = []
    with traced_key("r-1", "data/a.parquet", on=tracer):
        seen_open.append(tracer.provider.open)
    assert seen_open == [1]  # the copy ran inside the subsegment
    assert tracer.provider.open == 0
    [subsegment] = tracer.provider.subsegments
    assert (subsegment.name, subsegment.annotations) == ("## copy", {"run_id": "r-1", "key": "data/a.parquet"})


def test_a_long_key_is_cut_to_what_xray_keeps() -> None:
    tracer = FakeTracer()
    with traced_key("r-1", "k" * 1024, on=tracer):
        pass
    assert tracer.provider.subsegments[0].annotations["key"] == "k" * ANNOTATION_MAX_CHARS


def test_a_failed_copy_still_closes_its_subsegment() -> None:
    tracer = FakeTracer()
    with pytest.raises(RuntimeError), traced_key("r-1", "data/a", on=tracer):
        raise RuntimeError("copy failed")
    assert tracer.provider.open == 0


def test_with_tracing_disabled_nothing_is_opened() -> None:
    tracer = FakeTracer(disabled=True)
    with traced_key("r-1", "data/a", on=tracer):
        pass
    annotate_run("r-1", on=tracer)
    assert tracer.provider.subsegments == []
    assert tracer.provider.annotations == {}
