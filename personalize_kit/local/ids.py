"""Identifiers the mirror hands out on every call (request ids, recommendation ids), made without a syscall.

``uuid.uuid4()`` reads ``os.urandom``, a system call that lets other threads take the interpreter: on a
busy server each request would wait for it to come back once per id. These ids need to be unique, not
secret, so they come from the ``random`` module's generator (seeded from the system once per process,
and again in a child after ``fork``, so two processes never hand out the same sequence).

>>> import uuid
>>> uuid.UUID(new_uuid()).version
4
>>> new_uuid() != new_uuid()
True
"""

from __future__ import annotations

import random

#: The bits of a random (version 4, RFC 4122 variant) UUID: everything but the version and variant fields.
_RANDOM_BITS = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> str:
    """A random UUID (version 4) in its usual text form, as ``str(uuid.uuid4())`` writes it."""
    value = f"{(random.getrandbits(128) & _RANDOM_BITS) | _VERSION_4:032x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


__all__ = ["new_uuid"]
