"""How the DLQ commands' results look: tables for people, text records (hydration_cli.render)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.ops.dlq import DlqPeek, RedriveReport
from hydration_cli.ops.invocations import InvocationMessage, InvocationPeek, InvocationRedrive

# --------------------------------------------------------------------------- transfer DLQ views


def _queue_line(name: str, visible: int, in_flight: int, shown: int) -> str:
    if not visible and not in_flight:
        return f"the {name} is empty"
    busy = " (being looked at: try again in a minute)" if in_flight and not visible else ""
    return f"{name}: {visible:,} visible, {in_flight:,} in flight; showing {shown}{busy}"


@render.table_view.register
def _peek_table(result: DlqPeek) -> RenderableType:
    head = _queue_line("transfer DLQ", result.visible, result.in_flight, len(result.messages))
    if not result.messages:
        return head
    rows: list[Sequence[object]] = []
    for m in result.messages:
        age = humanize.human_duration(m.age_seconds)
        if not m.valid:
            rows.append((f"(not a transfer message: {m.problem})", "-", "-", "-", "-", m.receive_count, age))
        for o in m.objects:
            f = o.failure
            rows.append(
                (
                    o.key,
                    m.run_id or "-",
                    (f.error_code if f else None) or "-",
                    ((f.error_message if f else None) or "-")[:60],
                    "-" if f is None or f.attempts is None else f.attempts,
                    m.receive_count,
                    age,
                )
            )
    return Lines(head, render.grid(("KEY", "RUN", "ERROR", "MESSAGE", "ATTEMPTS", "RECEIVES", "AGE"), rows))


@render.text_rows.register
def _peek_text(result: DlqPeek) -> Iterable[Sequence[object]]:
    for m in result.messages:
        if not m.valid:
            yield ("INVALID", m.message_id, m.receive_count, m.sent_at, m.problem)
        for o in m.objects:
            f = o.failure
            yield (
                "OBJECT",
                o.key,
                m.run_id,
                f.error_code if f else None,
                f.attempts if f else None,
                m.receive_count,
                m.sent_at,
                m.message_id,
                f.error_message if f else None,
            )


@render.table_view.register
def _redrive_table(report: RedriveReport) -> RenderableType:
    task = report.move_task
    if report.mode == "all":
        if task is None:
            return "the transfer DLQ is empty: nothing to redrive"
        if report.dry_run:
            return f"dry run: {task.to_move:,} message(s) would move to the transfer queue"
        done = f"move task {task.task_handle}: {task.status}, {task.moved:,}/{task.to_move or '?'} moved"
        return done + (f"\nfailure: {task.failure_reason}" if task.failure_reason else "")
    verb = "would send back" if report.dry_run else "sent back"
    lines = [f"{verb} {len(report.selected)} message(s) to the transfer queue:"]
    lines += [f"  {o.key}  (run {m.run_id})" for m in report.selected for o in m.objects]
    if report.split:
        lines.append(f"{report.split} message(s) held other keys too: those stay in the DLQ")
    if report.left:
        lines.append(f"{report.left} other message(s) left in the DLQ")
    lines += [f"left alone, not a transfer message: {m.message_id}: {m.problem}" for m in report.invalid]
    return "\n".join(lines)


@render.text_rows.register
def _redrive_text(report: RedriveReport) -> Iterable[Sequence[object]]:
    for m in report.selected:
        for o in m.objects:
            yield ("REDRIVE", o.key, m.run_id, m.message_id)
    for m in report.invalid:
        yield ("INVALID", m.message_id, m.problem)
    for key in report.missing_keys:
        yield ("MISSING", key)
    if report.move_task is not None:
        t = report.move_task
        yield ("MOVETASK", t.task_handle, t.status, t.moved, t.to_move, t.failure_reason)
    yield ("LEFT", report.left)


# --------------------------------------------------------------------------- invocation DLQ views


def _function(m: InvocationMessage) -> str:
    return f"{m.function} ({m.function_from})" if m.function else "?"


def _payload(m: InvocationMessage) -> str:
    return json.dumps(m.payload, ensure_ascii=False, separators=(",", ":"))


@render.table_view.register
def _invocation_peek_table(result: InvocationPeek) -> RenderableType:
    head = _queue_line("invocation DLQ", result.visible, result.in_flight, len(result.messages))
    if not result.messages:
        return head
    rows = [
        (
            m.message_id,
            _function(m),
            _payload(m),
            m.error_code or "-",
            (m.error_message or m.problem or "-")[:80],
            m.request_id or "-",
            m.receive_count,
            humanize.human_duration(m.age_seconds),
        )
        for m in result.messages
    ]
    headers = ("MESSAGE", "FUNCTION", "EVENT", "ERROR", "ERROR MESSAGE", "REQUEST", "RECEIVES", "AGE")
    return Lines(head, render.grid(headers, rows))


def _invocation_record(kind: str, m: InvocationMessage) -> tuple[object, ...]:
    return (
        kind,
        m.message_id,
        m.function,
        _payload(m),
        m.error_code,
        m.request_id,
        m.receive_count,
        m.sent_at,
        m.error_message or m.problem,
    )


@render.text_rows.register
def _invocation_peek_text(result: InvocationPeek) -> Iterable[Sequence[object]]:
    return [_invocation_record("EVENT", m) for m in result.messages]


@render.table_view.register
def _invocation_redrive_table(report: InvocationRedrive) -> str:
    verb = "would invoke again" if report.dry_run else "invoked again"
    lines = [f"{verb} {len(report.replayed)} event(s):"]
    lines += [f"  {m.message_id}  {_function(m)}  {_payload(m)}" for m in report.replayed]
    for m in report.unknown:
        why = m.problem or "its function cannot be told: --function planner|finalizer names it"
        lines.append(f"left in the DLQ: {m.message_id}  {_payload(m)}: {why}")
    if report.missing_ids:
        lines.append(f"not in the invocation DLQ: {', '.join(report.missing_ids)}")
    if report.left:
        lines.append(f"{report.left} other message(s) left in the DLQ")
    return "\n".join(lines)


@render.text_rows.register
def _invocation_redrive_text(report: InvocationRedrive) -> Iterable[Sequence[object]]:
    yield from (_invocation_record("REPLAYED", m) for m in report.replayed)
    yield from (_invocation_record("UNKNOWN", m) for m in report.unknown)
    yield from (("MISSING", message_id) for message_id in report.missing_ids)
    yield ("LEFT", report.left)
