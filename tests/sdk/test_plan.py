"""``plan`` is the pipeline run in plan mode: the same steps answer what they would do, and change nothing."""

from __future__ import annotations

import pytest

from personalize_kit.sdk import make_backend, parse_project, plan, run_pipeline
from personalize_kit.sdk._clients import client
from personalize_kit.sdk._ensure import PLAN_VERBS

FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'


def raw_project(tmp_path, seed: int = 0, **solution) -> dict:
    return {
        "name": "demo",
        "data": {"source": "synthetic", "interactions": 3000, "seed": seed, "out": str(tmp_path / "out")},
        "solutions": [{"recipe": "popularity-count", **solution}],
        "filters": [{"name": "unwatched", "expression": FILTER}],
    }


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    return tmp_path


def backend_for(tmp_path, raw):
    project = parse_project(raw)
    return project, make_backend("local", project, state_dir=tmp_path / "state")


def verbs(rows) -> list[tuple[str, str]]:
    return [(kind, verdict.split(":")[0]) for kind, _, verdict in rows]


def test_a_plan_on_nothing_creates_everything_and_changes_nothing(env):
    project, backend = backend_for(env, raw_project(env))
    rows = plan(project, backend)
    assert verbs(rows) == [
        ("dataset group", "create"),
        *[("schema", "create"), ("dataset", "create"), ("dataset import job", "create")] * 3,
        ("solution", "create"),
        ("solution version", "create"),
        ("campaign", "create"),
        ("event tracker", "create"),
        ("filter", "create"),
    ]
    personalize = client("personalize", backend.session)
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    assert personalize.list_schemas()["schemas"] == []


def test_the_plan_is_what_the_run_then_does(env):
    raw = raw_project(env)
    run_pipeline(*backend_for(env, raw), samples=False)
    changed = raw_project(env, seed=1)  # new data: imported again, trained again
    project, backend = backend_for(env, changed)
    rows = plan(project, backend)
    verdicts = dict(((kind, name), verdict) for kind, name, verdict in rows)
    assert verdicts[("solution version", "demo-popularity-count")].startswith("create")
    assert verdicts[("campaign", "demo-popularity-count")] == (
        "update: to the new version if its metrics are not worse"
    )
    result = run_pipeline(project, backend, samples=False)
    applied = [(o.kind.replace("_", " "), o.name, o.action) for o in result.outcomes]
    # every step did what the plan said, except the campaign, whose update waits for the new metrics
    for (kind, name, verdict), (kind2, name2, action) in zip(rows, applied, strict=True):
        assert (kind, name) == (kind2, name2)
        if kind != "campaign":
            assert PLAN_VERBS[action] == verdict.split(":")[0], (kind, name, verdict, action)
    assert [v for _, _, v in plan(project, backend) if not v.startswith(("adopt", "keep"))] == []


def test_a_solution_with_other_hyperparameters_is_a_conflict_in_the_plan(env):
    raw = raw_project(env, recipe="sims")
    run_pipeline(*backend_for(env, raw), samples=False)
    changed = raw_project(env, recipe="sims", hyperparameters={"popularity_discount_factor": 0.1})
    rows = plan(*backend_for(env, changed))
    [conflict] = [(kind, name, verdict) for kind, name, verdict in rows if verdict.startswith("conflict")]
    assert conflict[:2] == ("solution", "demo-sims")
    assert conflict[2].startswith("conflict: solution demo-sims exists with other settings (popularity_discount_factor")
