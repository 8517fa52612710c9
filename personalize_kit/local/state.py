"""Where the mirror keeps its state: the state directory, its database, atomic file writes.

Layout of a state directory::

    mirror.db                              resources and event streams (see :mod:`personalize_kit.local.db`)
    data/<dataset-group>/<TYPE>.parquet    imported rows of each dataset
    models/<solution>/<version-id>/        trained models (model.npz + model.json) and metrics.json

Files are written to a temporary name and moved into place with :func:`os.replace`, so a reader never
sees half a file. A state directory of the previous layout (``state.json`` and ``events/*.jsonl``) is
migrated into the database the first time it is opened, once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from personalize_kit.exceptions import StateError
from personalize_kit.local.db import Database
from personalize_kit.local.migrate import migrate

#: Environment variable naming the state directory when no argument is given.
STATE_DIR_ENV = "PERSONALIZE_KIT_HOME"
#: State directory used when neither argument nor environment variable is set (relative to the cwd).
DEFAULT_STATE_DIR = ".personalize_kit"


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


class StateDir:
    """One state directory: its paths and its database.

    >>> state = StateDir("/tmp/doctest-mirror-state")
    >>> state.path("models").name, state.db.path.name
    ('models', 'mirror.db')
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_state_dir(state_dir)
        _check_directory(self.root)
        self.db = Database(self.root)
        migrate(self)

    def path(self, *parts: str) -> Path:
        """A path inside the state directory."""
        return self.root.joinpath(*parts)


def _check_directory(root: Path) -> None:
    """Make the state directory, or say in one line why it cannot be used."""
    if root.exists() and not root.is_dir():
        raise StateError(f"state directory {root} is a file, not a directory: give --state-dir a directory path")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"state directory {root} cannot be created ({exc.strerror}): use another --state-dir") from exc
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        raise StateError(f"state directory {root} is not readable and writable by this user: fix its permissions")


__all__ = ["STATE_DIR_ENV", "StateDir", "atomic_write", "atomic_write_json", "resolve_state_dir"]
