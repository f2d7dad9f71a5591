"""Hand-over between pipeline threads: newest-wins for live sources, blocking for files."""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The channel was closed and is empty."""


class Channel(Generic[T]):
    """A small bounded buffer between threads.

    ``newest_wins=True``: ``put`` never blocks; when full, the oldest item is
    discarded and counted in ``dropped`` (a live camera cannot wait, and an old
    frame is worth less than a new one). ``newest_wins=False``: ``put`` blocks
    until there is room, so a file is decoded no faster than it is consumed.
    Either way, memory and latency stay bounded by ``capacity``.
    """

    def __init__(self, capacity: int, *, newest_wins: bool) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.newest_wins = newest_wins
        self.dropped = 0
        # How often ``get`` found the channel empty and waited: a reader that never waits is the
        # bottleneck (see segview.pipeline.picture_pacing).
        self.waits = 0
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def put(self, item: T) -> bool:
        """Returns False if the channel is closed (the item is discarded)."""
        with self._lock:
            if self.newest_wins:
                if self._closed:
                    return False
                if len(self._items) >= self.capacity:
                    self._items.popleft()
                    self.dropped += 1
            else:
                while len(self._items) >= self.capacity and not self._closed:
                    self._not_full.wait()
                if self._closed:
                    return False
            self._items.append(item)
            self._not_empty.notify()
            return True

    def get(self, timeout: float | None = None) -> T:
        """The oldest item; raises Closed once closed and drained, TimeoutError after ``timeout``."""
        with self._lock:
            if not self._items and not self._closed:
                self.waits += 1
                self._not_empty.wait_for(lambda: self._items or self._closed, timeout)
            if self._items:
                item = self._items.popleft()
                self._not_full.notify()
                return item
            if self._closed:
                raise Closed
            raise TimeoutError

    def close(self, *, discard: bool = False) -> None:
        """No more puts; readers drain what is left (or nothing, with ``discard``)."""
        with self._lock:
            self._closed = True
            if discard:
                self._items.clear()
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
