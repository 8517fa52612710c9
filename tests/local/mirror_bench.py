"""The workloads of ``scripts/bench_mirror.py`` for the tests of the mirror's core (``scripts/`` is no package).

The tests drive the same writers, readers, killed bursts and export counts as the benchmark, at small scale,
so that what the benchmark measures is also what the tests prove.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_mirror.py"


def _load() -> ModuleType:
    if "bench_mirror" in sys.modules:
        return sys.modules["bench_mirror"]
    spec = importlib.util.spec_from_file_location("bench_mirror", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_mirror"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bench = _load()


@contextmanager
def fake_aws_env() -> Iterator[None]:
    """Fake credentials for fixtures wider than one test (the autouse fixture is per test)."""
    saved = {key: os.environ.get(key) for key in bench.FAKE_ENV}
    os.environ.update(bench.FAKE_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
