"""Which CPUs the mirror's threads run on: a served mirror's request threads on one, its work on all.

Every step of answering a request (HTTP parsing, the mirror's Python, encoding the answer) needs Python's
GIL, so a process's request threads can use one core's worth of CPU however many cores it has. Spread
over several cores they use it worse: the GIL and the objects it guards move between the cores' caches at
every hand-off. On this project's 2-core machine, answering the same requests from 4 threads cost twice
the CPU per request of 1 thread unless the threads shared one CPU, where they cost the same as 1 (the
server benchmark, ``scripts/results/server.md``, shows what that gives over HTTP). So the server keeps its
I/O loop and its worker threads on one CPU (:func:`one`).

Linux threads start on the CPUs of the thread that starts them. The mirror's work threads (trainings,
jobs), started from request threads, run TensorFlow, pandas and SQLite work that does use several cores,
so they take back every CPU of the process while they run (:func:`every`).

Both are context managers that change only the calling thread and put its CPUs back when the block ends;
where a process cannot choose its CPUs (not Linux, one CPU, a refusal) they do nothing. :func:`give_way` lets
the threads waiting for the CPU go first: the server's requests take turns with it, and writes let reads run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: The process's CPUs as they were before a thread was kept to one (None: no thread was).
_EVERY: frozenset[int] | None = None


def _settable() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


@contextlib.contextmanager
def _on(cpus: frozenset[int]) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:  # a container's or a scheduler's refusal: run where we are
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, before)


@contextlib.contextmanager
def one() -> Iterator[int | None]:
    """Keep the calling thread, and the threads it starts meanwhile, on one of the process's CPUs; yield it,
    or None when the process has one CPU or cannot choose.

    The CPU is the same for every call of a process and picked by its process id, so that several servers on
    one machine (a CI runner's parallel jobs) spread over its CPUs instead of sharing the first.
    """
    global _EVERY
    if not _settable():
        yield None
        return
    if _EVERY is None:
        _EVERY = frozenset(os.sched_getaffinity(0))
    if len(_EVERY) < 2:
        yield None
        return
    cpu = sorted(_EVERY)[os.getpid() % len(_EVERY)]
    with _on(frozenset({cpu})):
        yield cpu


@contextlib.contextmanager
def every() -> Iterator[None]:
    """Let the calling thread use every CPU of the process (as it was before :func:`one`) in the block."""
    if _EVERY is None or not _settable():
        yield
        return
    with _on(_EVERY):
        yield


def give_way() -> None:
    """Let the threads waiting for the CPU run first (``os.sched_yield``, which also releases the GIL): one
    system call where none waits, nothing where the system has no such call."""
    if hasattr(os, "sched_yield"):
        os.sched_yield()


__all__ = ["every", "give_way", "one"]
