"""Where a key space goes on, found with one-key listings (`StartAfter`, `MaxKeys=1`), a few at once.

From a page's first and last keys, steps of growing size beyond it (x1, x8, x64, ...: `keyspace.extrapolate`)
are probed side by side; each answers with the first key after it. The farthest key found, and the first
step that found nothing, bound where the key space ends; a second round of probes, evenly between the two,
narrows it. So two round trips estimate the end of a flat key space of millions of keys. A coordinator cuts
a flat prefix evenly up to there; a worker hands the upper half of what its shard has left on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hydration.keyspace import extrapolate, fraction

# A shard is worth a worker's start only with about two pages to list: fewer and the invocation, its reads
# of the ledger and the manifest and its books cost more than the listing they spread (a run over 2,000 keys
# cut into 16 shards took 4x as long as in one). The first cut and the boundaries kept for the next run give
# no shard less; a shard splits while it runs only with more than that left (`ranges.SPLIT_PAGES_LEFT`).
MIN_PAGES_PER_SHARD = 2
GROWTH = 8  # each step goes 8 times as far as the one before
STEPS = 6  # about 8^5 pages beyond the first step
GRID = 8  # the second round: 7 points evenly between the farthest key found and the first empty step

Probe = Callable[[Sequence[str]], list[str | None]]  # the first key after each point (None: nothing after it)


@dataclass
class Reach:
    key: str | None  # the farthest key found beyond the page (None: nothing was found)
    probes: int
    beyond: str | None = None  # the nearest point past `key` after which the probes found nothing (None: unknown)

    def end(self, prefix: str) -> str | None:
        """Where the key space is estimated to end: half way from the farthest key found to the nearest point
        past it with nothing after it (the key itself when there is no such point)."""
        if self.key is None or self.beyond is None:
            return self.key
        return fraction(self.key, self.beyond, 1, 2, prefix) or self.key


def reach(first: str, last: str, upto: str | None, prefix: str, probe: Probe) -> Reach:
    """The farthest key (at most `upto`) found beyond the page `first`..`last`, in two rounds of probes."""
    steps: list[str] = []
    factor = 1
    for _ in range(STEPS):
        point = extrapolate(first, last, factor, prefix)
        if point is None or not worthy(point) or (upto is not None and point >= upto) or point in steps:
            break
        steps.append(point)
        factor *= GROWTH
    found, beyond = _farthest(steps, probe(steps) if steps else [], upto)
    probes = len(steps)
    if found is None:
        return Reach(None, probes)
    grid = [p for i in range(1, GRID) if (p := fraction(found, beyond, i, GRID, prefix)) is not None and worthy(p)]
    grid = sorted(set(grid))
    refined, past = _farthest(grid, probe(grid) if grid else [], upto)
    key = max(found, refined) if refined is not None else found
    return Reach(key, probes + len(grid), past if past is not None and past > key else beyond)


def _farthest(points: list[str], keys: list[str | None], upto: str | None) -> tuple[str | None, str | None]:
    """The farthest key the probes found within the range, and the first point beyond which they found none."""
    found: str | None = None
    for point, key in zip(points, keys, strict=True):
        if key is None or (upto is not None and key > upto):
            return found, point
        found = key if found is None or key > found else found
    return found, upto


def cut_points(start: str, end: str, parts: int, prefix: str) -> list[str]:
    """`parts - 1` points evenly from `start` to `end` (both keys that exist): every part but the last
    ends at one of them."""
    points = [fraction(start, end, i, parts, prefix) for i in range(1, parts)]
    return sorted({point for point in points if point is not None and worthy(point)})


def worthy(point: str) -> bool:
    """No key range worth cutting starts at a string with control characters."""
    return all(char >= " " for char in point)
