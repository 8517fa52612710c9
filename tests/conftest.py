"""Fixtures shared by every test: fake AWS credentials (never a real account) and a state directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Tests assert behaviour, never timings: no per-example deadline (a loaded machine is not a failure), and the
# same examples on every run.
settings.register_profile("personalize_kit", deadline=None, derandomize=True)
settings.load_profile("personalize_kit")


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no config or credentials file is read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """An empty state directory for the local mirror."""
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def answers_match_their_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer of the in-process mirror is checked against its operation's output shape in the botocore
    model (required members, types, enums, lengths) before the client parses it: any test that calls an
    operation checks its answer."""
    from botocore.validate import ParamValidator

    from personalize_kit.local import mirror

    shaped = mirror.shape_output

    def checked(shape: Any, value: Any) -> Any:
        out = shaped(shape, value)
        if shape is not None:
            report = ParamValidator().validate(out, shape)
            if report.has_errors():
                raise AssertionError(f"the answer does not match {shape.name}: {report.generate_report()}")
        return out

    monkeypatch.setattr(mirror, "shape_output", checked)
