"""Where the mirror keeps its state, and how it reads and writes it safely.

Layout of a state directory::

    state.json                         every resource (keyed by ARN), its tags and internal bookkeeping
    .lock                              fcntl lock taken around every read-modify-write of state.json
    data/<dataset-group>/<TYPE>.parquet   imported (and PutItems/PutUsers) rows of each dataset
    events/<dataset-group>.jsonl       events recorded with PutEvents
    models/<solution>/<version-id>/    trained models (model.npz + model.json) and metrics.json

Every file is written to a temporary name and moved into place with :func:`os.replace`, so a reader never
sees half a file; two processes on one directory serialise their updates with :func:`fcntl.flock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

#: Environment variable naming the state directory when no argument is given.
STATE_DIR_ENV = "PERSONALIZE_KIT_HOME"
#: State directory used when neither argument nor environment variable is set (relative to the cwd).
DEFAULT_STATE_DIR = ".personalize_kit"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"


def resolve_state_dir(state_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the state directory: the argument, else ``$PERSONALIZE_KIT_HOME``, else ``./.personalize_kit``.

    >>> resolve_state_dir("/tmp/mirror")
    PosixPath('/tmp/mirror')
    """
    chosen = state_dir if state_dir is not None else os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().absolute()


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` atomically."""
    payload = json.dumps(value, indent=1, sort_keys=True).encode()
    atomic_write(path, lambda fh: fh.write(payload))


class StateStore:
    """The resources of one state directory, with a process- and thread-safe read-modify-write.

    >>> store = StateStore("/tmp/doctest-mirror")
    >>> with store.transaction() as state:
    ...     state["resources"]["arn:x"] = {"kind": "demo"}
    >>> store.read()["resources"]["arn:x"]["kind"]
    'demo'
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_state_dir(state_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.RLock()
        self._local = threading.local()

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    def path(self, *parts: str) -> Path:
        """A path inside the state directory."""
        return self.root.joinpath(*parts)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock (re-entrant within a thread, exclusive across processes)."""
        with self._thread_lock:
            depth = getattr(self._local, "depth", 0)
            if depth:
                self._local.depth = depth + 1
                try:
                    yield
                finally:
                    self._local.depth -= 1
                return
            with open(self.root / LOCK_FILE, "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                self._local.depth = 1
                try:
                    yield
                finally:
                    self._local.depth = 0
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        """The current state (a fresh copy; changes to it are not saved)."""
        try:
            state = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            state = {}
        state.setdefault("version", 1)
        state.setdefault("resources", {})
        return state

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock, read, let the caller change the state, and write it back atomically (unless it raises)."""
        with self.lock():
            state = self.read()
            yield state
            atomic_write_json(self.state_file, state)
