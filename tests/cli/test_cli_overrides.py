"""Flags override the project file the same way for every command (--source, --recipe, --name together)."""

from __future__ import annotations

import argparse

from personalize_kit.cli._common import load


def test_flags_override_the_project_file_together(tmp_path):
    project_file = tmp_path / "project.yaml"
    project_file.write_text(
        "name: films\nsolutions:\n  - recipe: sims\n    hyperparameters: {min_cointeraction_count: 2}\n"
    )
    args = argparse.Namespace(
        project=str(project_file),
        backend="local",
        state_dir=str(tmp_path / "state"),
        name="renamed",
        recipe="all",
        source="synthetic",
    )
    project, backend = load(args)
    assert project.name == "renamed" and project.data.source == "synthetic"
    assert [s.recipe for s in project.solutions] == [
        "aws-user-personalization",
        "aws-sims",
        "aws-personalized-ranking",
        "aws-popularity-count",
    ]
    assert project.solutions[1].hyperparameters == {"min_cointeraction_count": "2"}  # kept from the file
    assert backend.kind == "local" and backend.bucket == "renamed-data"

    plain = argparse.Namespace(project=str(project_file), backend="local", state_dir=str(tmp_path / "state"))
    assert load(plain)[0].name == "films"
