"""Networks built once per process and lent out, instead of once per encode job.

A CRF encode runs several jobs in one process (the rate fit's probe encodes, then the encode), a batch or the
bench many more, and each built its face and people networks afresh: reading the model and the first forward
pass at a new size cost 25-30 ms per network and job, about as much as the whole face analysis of a
5-second QCIF clip. A network object is not safe to run from two threads at once, so each is lent to one
user at a time: a second concurrent user (another job on another thread) gets a copy of its own, which is
kept for the next one. The same model at the same input gives the same output, so lending changes no map.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

_lock = threading.Lock()
_free: dict[Hashable, list[Any]] = {}
built: dict[Hashable, int] = {}  # how many networks were built per key (for tests and reports)


@contextlib.contextmanager
def lend(key: Hashable, build: Callable[[], Any]) -> Iterator[Any]:
    """A network for `key` for the length of the block: a free one built earlier by `build`, else a new one.
    It goes back to the pool afterwards (not when `build` or the block raises: a half-used network is dropped)."""
    with _lock:
        free = _free.setdefault(key, [])
        net = free.pop() if free else None
    if net is None:
        net = build()
        with _lock:
            built[key] = built.get(key, 0) + 1
    yield net
    with _lock:
        _free[key].append(net)


def clear() -> None:
    """Forget every pooled network (tests)."""
    with _lock:
        _free.clear()
        built.clear()
