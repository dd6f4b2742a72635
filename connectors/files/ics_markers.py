"""A compact set of 64-bit series markers: the one per-UID state an ICS read keeps.

Finding a series whose VEVENTs are not adjacent (*scattered*) needs to know,
for every block, whether its series was already seen: that is inherent per-UID
state. A Python ``set`` of ``hash((calendar, uid))`` ints costs ~70 to 100 bytes
a series (a 32-byte int object plus a 16-byte table slot at 30 to 60 % fill),
which made a 1M-event calendar peak at 234 MB (issue 10, item 8). Here a marker
is 8 bytes in an open-addressing table of ``array('Q')`` kept at most half
full: 16 to 32 bytes a series, with no object per series.

A marker collision (two series with one 64-bit hash) only sends a series through
the reader's second pass, which reads it again whole: records stay the same.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

_MASK = (1 << 64) - 1
_EMPTY = 0


def marker(value: object) -> int:
    """A non-zero unsigned 64-bit marker for a hashable value (0 marks a free slot)."""
    return (hash(value) & _MASK) or 1


class MarkerSet:
    """Unsigned 64-bit markers (non-zero) in linear-probing open addressing."""

    __slots__ = ("_slots", "_mask", "_size")

    def __init__(self, capacity: int = 1024) -> None:
        size = 1024
        while size < 2 * capacity:
            size *= 2
        self._slots = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, value: int) -> bool:
        slots, mask = self._slots, self._mask
        index = _spread(value) & mask
        while True:
            found = slots[index]
            if found == value:
                return True
            if found == _EMPTY:
                return False
            index = (index + 1) & mask

    def add(self, value: int) -> None:
        """Insert ``value`` (a :func:`marker`), growing the table past half full."""
        if value == _EMPTY:
            raise ValueError("0 is not a marker")
        if self._insert(self._slots, self._mask, value):
            self._size += 1
            if 2 * self._size > len(self._slots):
                self._grow()

    def __iter__(self) -> Iterator[int]:
        return (value for value in self._slots if value != _EMPTY)

    @staticmethod
    def _insert(slots: array[int], mask: int, value: int) -> bool:
        index = _spread(value) & mask
        while True:
            found = slots[index]
            if found == value:
                return False
            if found == _EMPTY:
                slots[index] = value
                return True
            index = (index + 1) & mask

    def _grow(self) -> None:
        old = self._slots
        slots = array("Q", bytes(16 * len(old)))
        mask = len(slots) - 1
        for value in old:
            if value != _EMPTY:
                self._insert(slots, mask, value)
        self._slots, self._mask = slots, mask


def _spread(value: int) -> int:
    # Markers are already hashes; mixing in the high bits keeps probing even when
    # the low bits of str hashes cluster.
    return value ^ (value >> 29)
