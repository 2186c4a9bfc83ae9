"""The key space a run lists, cut into ranges that planner workers list side by side.

S3 lists keys in UTF-8 binary order, and `StartAfter` resumes a listing strictly after any string. UTF-8
preserves code point order, so Python's `str` comparison is S3's order: every comparison here is plain `<`.

A range is `(after, upto]` within a prefix: the keys `k` with `k.startswith(prefix)`, `after < k` and
`k <= upto` (`after` None: from the prefix's first key; `upto` None: to its last). The lower bound is
exclusive because it is what `StartAfter` takes (a listing of the range starts with `StartAfter=after`, and
a checkpoint is the last key listed, so a resumed range is again `(position, upto]`); the upper bound is
inclusive so that cutting a range at any string `m` gives `(after, m]` and `(m, upto]`: no key in two
ranges, none in none, whatever `m` is, and whether or not `m` itself is a key (a boundary that is a key
belongs to the range below it). Where the boundaries fall decides only how evenly the work spreads.

Split points come, in order, from the previous run's boundaries (kept: that run found where the key
space is dense), from delimiter discovery (common prefixes), and from probing (a one-key listing after a
string says whether anything lies above it): `extrapolate` takes growing steps beyond a page's keys to find
where the key space ends, `fraction` and `midpoint` give strings evenly between two others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_CODE_POINT = 0x10FFFF
ASCII_CEILING = 0x80  # above every ASCII character: the end of a key space of ASCII keys
MAX_KEY_CHARS = 1024  # a key is at most 1024 bytes, so at most 1024 characters


@dataclass(frozen=True)
class KeyRange:
    """The keys `k` under `prefix` with `after < k <= upto` (None: unbounded on that side)."""

    prefix: str = ""
    after: str | None = None
    upto: str | None = None

    def holds(self, key: str) -> bool:
        return (
            key.startswith(self.prefix)
            and (self.after is None or key > self.after)
            and (self.upto is None or key <= self.upto)
        )

    def beyond(self, key: str) -> bool:
        """The key sorts after this range (a listing of it can stop there)."""
        return self.upto is not None and key > self.upto

    def cut(self, at: str) -> tuple[KeyRange, KeyRange]:
        """`(after, at]` and `(at, upto]`; `at` must lie strictly inside the range's bounds."""
        if not self.inside(at):
            raise ValueError(f"cannot cut {self} at {at!r}: not strictly inside it")
        return KeyRange(self.prefix, self.after, at), KeyRange(self.prefix, at, self.upto)

    def inside(self, point: str) -> bool:
        """`point` lies strictly between the range's bounds (a cut there leaves two ranges)."""
        return (self.after is None or point > self.after) and (self.upto is None or point < self.upto)


def partition(prefix: str, points: Iterable[str]) -> list[KeyRange]:
    """The prefix's key space cut at `points` (those under the prefix, deduplicated, in order): consecutive
    ranges, the first from the prefix's start, the last to its end."""
    cuts = sorted({point for point in points if point.startswith(prefix) and point != prefix})
    bounds: list[str | None] = [None, *cuts, None]
    return [KeyRange(prefix, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def ceiling(low: str, prefix: str) -> str:
    """A string above every key under `prefix` that sorts after `low`, as close as is useful: for ASCII keys,
    the prefix followed by the first character above ASCII (a midpoint then falls among ASCII characters);
    otherwise the prefix followed by the last code point."""
    tail = low[len(prefix) :] if low.startswith(prefix) else ""
    if all(ord(char) < ASCII_CEILING for char in tail):
        return prefix + chr(ASCII_CEILING)
    return prefix + chr(MAX_CODE_POINT) * 2


def midpoint(low: str | None, high: str | None, prefix: str = "") -> str | None:
    """A string `m` with `low < m < high` in S3's order, half way in the alphabet they use; `low` None is
    the prefix's start, `high` None its end (`ceiling`). None only when nothing lies between them (`high`
    is `low` plus a NUL character) or they are out of order."""
    return fraction(low, high, 1, 2, prefix)


def fraction(low: str | None, high: str | None, part: int, whole: int, prefix: str = "") -> str | None:
    """The string `part/whole` of the way from `low` to `high` (0 < part < whole), strictly between them
    (None: nothing lies between them)."""
    lo = low if low is not None else prefix
    hi = high if high is not None else ceiling(lo, prefix)
    if not lo < hi:
        return None
    width = max(len(lo), len(hi)) + 1
    for extra in range(3):  # more digits when the two are adjacent at this precision
        radix = _radix([lo, hi], width + extra)
        start = _number(lo, radix)
        point = start + (_number(hi, radix) - start) * part // whole
        candidate = _string(point, radix)
        if lo < candidate < hi and len(candidate) <= MAX_KEY_CHARS:
            return candidate
    successor = lo + "\x00"  # the string right after `lo`: between the two unless it is `high` itself
    return successor if successor < hi and len(successor) <= MAX_KEY_CHARS else None


def extrapolate(first: str, last: str, factor: int, prefix: str = "") -> str | None:
    """Where keys would reach if they went on `factor` times as far beyond `last` as they went from `first`
    to `last` (two keys of a page): `last + factor x (last - first)` in the alphabet they are written in;
    None past the prefix's end. A search for the end of a key space takes steps of growing factors."""
    if not first < last:
        return None
    top = ceiling(last, prefix)
    radix = _radix([first, last, top], max(len(first), len(last), len(top)) + 1)
    start, end = _number(first, radix), _number(last, radix)
    reach = end + (end - start) * factor
    if reach >= _number(top, radix):
        return None
    candidate = _string(reach, radix)
    return candidate if last < candidate < top else None


def widths(first: str, last: str, far: str, prefix: str = "") -> float:
    """How many times the stretch `first`..`last` (a page's keys) fits into `first`..`far` (the farthest key
    probes found), in the alphabet they are written in: about how many pages a key space of the page's
    density holds up to `far` (1.0 when `far` is `last`; at least 1.0)."""
    if not first < last or not last < far:
        return 1.0
    radix = _radix([first, last, far], max(len(first), len(last), len(far)) + 1)
    start = _number(first, radix)
    return max(1.0, (_number(far, radix) - start) / max(1, _number(last, radix) - start))


def shares(weights: list[float], total: int) -> list[int]:
    """`total` parts dealt in proportion to `weights`, at least one each (largest remainders first)."""
    if not weights:
        return []
    total = max(total, len(weights))
    if not sum(weights) > 0:  # no weights to go by: evenly
        weights = [1.0] * len(weights)
    whole = sum(weights)
    exact = [1 + (total - len(weights)) * weight / whole for weight in weights]
    dealt = [int(value) for value in exact]
    for i in sorted(range(len(exact)), key=lambda i: dealt[i] - exact[i])[: total - sum(dealt)]:
        dealt[i] += 1
    return dealt


RUNS = ("0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _radix(strings: list[str], digits: int) -> list[str]:
    """Each position's alphabet: the characters the strings have there, in order (with all the digits, or
    all the letters of a case, when one of them is there). A string is a number in these mixed radixes
    (each character its rank + 1, the end of the string 0, so that "a" < "a\x00" as in S3's order), and
    the numbers' order is the strings'. Keys of digits are cut among digits: `k0999` and `k1999` halve to
    about `k1499`, not among every character between. Past the strings' ends, the last position's."""
    radix: list[str] = []
    for i in range(digits):
        chars = {text[i] for text in strings if i < len(text)} or set(radix[-1] if radix else "0")
        for run in RUNS:
            if chars & set(run):
                chars |= set(run)
        radix.append("".join(sorted(chars)))
    return radix


def _number(text: str, radix: list[str]) -> int:
    value = 0
    for i, alphabet in enumerate(radix):
        digit = alphabet.index(text[i]) + 1 if i < len(text) and text[i] in alphabet else 0
        value = value * (len(alphabet) + 1) + digit
    return value


def _string(value: int, radix: list[str]) -> str:
    digits: list[int] = []
    for alphabet in reversed(radix):
        value, digit = divmod(value, len(alphabet) + 1)
        digits.append(digit)
    chars: list[str] = []
    for alphabet, digit in zip(radix, reversed(digits), strict=True):
        if digit == 0:  # the end of the string: what follows is below a character's resolution
            break
        chars.append(alphabet[digit - 1])
    return "".join(chars)


def spread(points: list[str], wanted: int) -> list[str]:
    """At most `wanted` of the sorted `points`, evenly spaced (all of them if there are no more)."""
    ordered = sorted(set(points))
    if wanted <= 0:
        return []
    if len(ordered) <= wanted:
        return ordered
    step = len(ordered) / (wanted + 1)
    return sorted({ordered[min(len(ordered) - 1, int(step * (i + 1)))] for i in range(wanted)})
