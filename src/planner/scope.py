"""What a run selects, decided at its start from the sync marker and the configuration in force.

The marker records the scope it was made for (`TRANSFER_PREFIXES`, minimal, and `DESTINATION_PREFIX`: the
`scope` of its JSON line). A run compares it with the configured scope:
- the same scope: an incremental run selects from the marker minus the lookback, as always;
- wider prefixes (a prefix, or part of one, the marker did not cover): the new part is selected in full
  (every key) and the part the marker covered stays incremental: `since` is None and `bounds` give the old
  part its bound (listing code reads a key's bound with `RunRecord.since_for`);
- narrower prefixes: incremental within them; the marker the run writes records the narrower scope, so keys
  outside it are no longer followed (nor are their failure-ledger entries re-enqueued or held against the
  marker), and widening again later selects that part in full;
- another destination prefix: every key in scope is selected (a full pass), and manifest entries written
  for the old destination hold nothing (`previous_destination`: entries that record no destination were
  written for it), so every key is copied to the new destination; objects under the old one stay there.
A marker written before scopes were recorded is taken as made for the configured scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from hydration.marker import Marker
from hydration.models import Bound, PlannerRequest, RunKind, Scope
from hydration.models.runs import bound_for
from hydration.observability import logger
from hydration.selection import lower_bound, minimal_prefixes
from hydration.settings import PlannerSettings


@dataclass(frozen=True)
class Selection:
    """A run's selection: the default bound, the parts with their own, what it covers."""

    scope: Scope  # the configured scope: recorded on the run and in the marker it writes
    prefixes: list[str]  # what the run lists: the scope's prefixes, or the requested one
    since: datetime | None = None
    bounds: list[Bound] = field(default_factory=list)
    previous_destination: str | None = None

    def since_for(self, key: str) -> datetime | None:
        return bound_for(key, self.since, self.bounds)


def configured(settings: PlannerSettings) -> Scope:
    return Scope(prefixes=minimal_prefixes(settings.transfer_prefixes), destination_prefix=settings.destination_prefix)


def marker_scope(marker: Marker | None) -> Scope | None:
    """The scope a marker was made for; None if it records none (written before scopes were recorded)."""
    recorded = marker.detail.get("scope") if marker is not None else None
    if not isinstance(recorded, dict):
        return None
    try:
        return Scope.model_validate(recorded)
    except ValidationError:
        logger.warning("the sync marker's scope is unreadable; taken as the configured one", scope=recorded)
        return None


def select(request: PlannerRequest, settings: PlannerSettings, marker: Marker | None) -> Selection:
    scope = configured(settings)
    made_for = marker_scope(marker) or scope
    previous = made_for.destination_prefix if made_for.destination_prefix != scope.destination_prefix else None
    prefixes = [request.prefix] if request.prefix else scope.prefixes
    selection = Selection(scope=scope, prefixes=prefixes, previous_destination=previous)
    match request.kind:
        case RunKind.SINCE:
            return Selection(scope=scope, prefixes=prefixes, since=request.since, previous_destination=previous)
        case RunKind.INCREMENTAL:
            if marker is None:
                logger.info("no sync marker: this run is a full transfer")
                return selection
            bound = lower_bound(marker.synced_to, timedelta(seconds=settings.lookback_seconds))
            return _incremental(scope, made_for, bound, previous)
        case _:
            return selection


def _incremental(scope: Scope, made_for: Scope, bound: datetime | None, previous: str | None) -> Selection:
    if previous is not None:
        logger.warning(
            "DestinationPrefixChanged: every key in scope is selected and copied to the new destination",
            marker_destination=previous,
            destination=scope.destination_prefix,
        )
        return Selection(scope=scope, prefixes=scope.prefixes, previous_destination=previous)
    covered = [p for p in scope.prefixes if any(p.startswith(old) for old in made_for.prefixes)]
    if len(covered) == len(scope.prefixes):
        return Selection(scope=scope, prefixes=scope.prefixes, since=bound)
    new = [p for p in scope.prefixes if p not in covered]
    inside = [old for old in made_for.prefixes if any(old.startswith(p) for p in new)]
    logger.warning(
        "TransferPrefixesWidened: the part the marker did not cover is selected in full",
        marker_prefixes=made_for.prefixes,
        prefixes=scope.prefixes,
        incremental=covered + inside,
    )
    bounds = [Bound(prefix=p, since=bound) for p in covered + inside]
    return Selection(scope=scope, prefixes=scope.prefixes, since=None, bounds=bounds)
