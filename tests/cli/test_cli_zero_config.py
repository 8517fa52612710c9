"""The README's main job: `python -m personalize_kit pipeline` with no configuration, run twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_zero_config_pipeline_runs_then_changes_nothing(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PERSONALIZE_KIT_HOME"}
    env.update(
        PERSONALIZE_KIT_OFFLINE="1",
        PERSONALIZE_KIT_CACHE=str(tmp_path / "cache"),
        PERSONALIZE_KIT_MOVIELENS_DIR=str(tmp_path / "no-movielens"),
    )

    def pipeline() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "personalize_kit", "pipeline", "--recipe", "user-personalization"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    first = pipeline()
    assert first.returncode == 0, first.stderr[-3000:]
    assert "notice: MovieLens ml-latest-small is not available" in first.stderr
    assert first.stdout.startswith("14 resource(s) created or updated")
    assert "normalized_discounted_cumulative_gain_at_10" in first.stdout
    samples = [line for line in first.stdout.splitlines() if line.startswith("  user ")]
    assert len(samples) == 3 and all(len(line.split(": ", 1)[1].split(", ")) == 5 for line in samples)
    assert (tmp_path / ".personalize_kit").is_dir() and (tmp_path / "out" / "interaction.csv").is_file()

    second = pipeline()
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.startswith("nothing changed: every resource was already in place")
    assert " created " not in second.stderr
