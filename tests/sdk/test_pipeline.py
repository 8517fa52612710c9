"""The pipeline against the local mirror: idempotent, resumable, honest about what cannot change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from personalize_kit.exceptions import ResourceConflictError
from personalize_kit.sdk import _clients, make_backend, parse_project, plan, run_pipeline
from personalize_kit.sdk._clients import client

FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'


def project_raw(tmp_path, **data):
    return {
        "name": "demo",
        "data": {"source": "synthetic", "interactions": 4000, "out": str(tmp_path / "out"), **data},
        "solutions": [{"recipe": "popularity-count"}],
        "filters": [{"name": "unwatched", "expression": FILTER}],
    }


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    return tmp_path


def run(tmp_path, raw, **kwargs):
    project = parse_project(raw)
    backend = make_backend("local", project, state_dir=tmp_path / "state")
    return run_pipeline(project, backend, **kwargs), backend


def names(backend, operation, key, **params):
    personalize = client("personalize", backend.session)
    return sorted(
        x.get("name") or x.get("jobName") or x["solutionVersionArn"]
        for x in getattr(personalize, operation)(**params)[key]
    )


def test_first_run_creates_everything_and_second_run_nothing(env):
    raw = project_raw(env)
    first, backend = run(env, raw)
    assert [o.kind for o in first.created] == [
        "dataset_group",
        *["schema", "dataset", "dataset_import_job"] * 3,  # interactions, items, users
        "solution",
        "solution_version",
        "campaign",
        "event_tracker",
        "filter",
    ]
    run_ = first.solutions[0]
    assert set(run_.metrics) >= {"coverage", "mean_reciprocal_rank_at_25", "precision_at_10"}
    assert run_.samples and all(len(items) == 5 for _, items in run_.samples)

    second, backend = run(env, raw)
    assert second.created == []
    assert {o.action for o in second.outcomes} == {"adopted"}
    assert second.solutions[0].version.arn == run_.version.arn
    rows = plan(parse_project(raw), backend)
    assert rows[-1] == ("filter", "unwatched", "adopt: exists already")
    assert {v.split(":")[0] for _, _, v in rows} == {"adopt"}
    assert [(kind, name) for kind, name, _ in rows] == [(o.kind.replace("_", " "), o.name) for o in second.outcomes]


def test_clients_are_built_once_per_backend_and_the_account_asked_once(env):
    raw = project_raw(env)
    run(env, raw)
    project = parse_project(raw)
    backend = make_backend("local", project, state_dir=env / "state")
    _clients.forget(backend.session)
    built: list[str] = []
    real = backend.session.client

    def counting(service, *args, **kwargs):
        built.append(service)
        return real(service, *args, **kwargs)

    backend.session.client = counting
    identity = []
    sts = _clients.client("sts", backend.session)
    sts.meta.events.register("before-call.sts.GetCallerIdentity", lambda **_: identity.append(1))
    result = run_pipeline(project, backend)
    assert result.created == []
    assert sorted(built) == sorted(set(built)) and "personalize" in built
    assert identity == [1]


def test_new_data_imports_and_retrains_and_updates_the_campaign_if_not_worse(env):
    first, _ = run(env, project_raw(env))
    second, backend = run(env, project_raw(env, seed=1))
    changed = [(o.kind, o.action) for o in second.created]
    assert ("dataset_import_job", "created") in changed
    assert ("solution_version", "created") in changed
    campaign = next(o for o in second.outcomes if o.kind == "campaign")
    new, old = second.solutions[0].metrics, first.solutions[0].metrics
    if all(new[m] >= old[m] for m in ("normalized_discounted_cumulative_gain_at_10", "mean_reciprocal_rank_at_25")):
        assert campaign.action == "updated"
        assert campaign.description["solutionVersionArn"] == second.solutions[0].version.arn
    else:
        assert campaign.action == "kept" and "worse" in campaign.detail
    forced, _ = run(env, project_raw(env, seed=1), force=True)
    deployed = client("personalize", backend.session).describe_campaign(campaignArn=forced.solutions[0].campaign.arn)[
        "campaign"
    ]
    assert deployed["solutionVersionArn"] == second.solutions[0].version.arn


def test_a_changed_schema_is_reported_not_papered_over(env):
    run(env, project_raw(env))
    with pytest.raises(
        ResourceConflictError, match="schema demo-interactions exists with other fields; schemas are immutable"
    ):
        run(env, project_raw(env, event_value="none"))


def test_a_changed_filter_expression_is_a_conflict(env):
    raw = project_raw(env)
    run(env, raw)
    raw["filters"][0]["expression"] = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    with pytest.raises(ResourceConflictError, match="filter unwatched exists with the expression"):
        run(env, raw)


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from personalize_kit.sdk import make_backend, parse_project, run_pipeline
    raw, state, kill_after = sys.argv[1], sys.argv[2], sys.argv[3]
    import json
    project = parse_project(json.loads(raw))
    def say(message):
        print(message, flush=True)
        if kill_after and message.strip().startswith("created") and kill_after in message:
            os.kill(os.getpid(), signal.SIGKILL)
    run_pipeline(project, make_backend("local", project, state_dir=state), say=say)
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("kill_after", ["dataset import job demo-items", "solution           demo", "campaign"])
def test_a_killed_run_finishes_when_started_again_without_duplicates(env, kill_after):
    raw = json.dumps(project_raw(env))
    state = str(env / "state")
    child_env = {**os.environ, "PERSONALIZE_KIT_OFFLINE": "1"}
    killed = subprocess.run(
        [sys.executable, "-c", CHILD, raw, state, kill_after], capture_output=True, text=True, env=child_env, cwd=env
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "FINISHED" not in killed.stdout
    resumed = subprocess.run(
        [sys.executable, "-c", CHILD, raw, state, ""], capture_output=True, text=True, env=child_env, cwd=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "FINISHED" in resumed.stdout

    project = parse_project(json.loads(raw))
    backend = make_backend("local", project, state_dir=state)
    group = "arn:aws:personalize:us-east-1:123456789012:dataset-group/demo"
    assert names(backend, "list_dataset_groups", "datasetGroups") == ["demo"]
    assert names(backend, "list_schemas", "schemas") == ["demo-interactions", "demo-items", "demo-users"]
    assert len(names(backend, "list_dataset_import_jobs", "datasetImportJobs")) == 3
    assert names(backend, "list_solutions", "solutions", datasetGroupArn=group) == ["demo-popularity-count"]
    assert names(backend, "list_campaigns", "campaigns") == ["demo-popularity-count"]
    assert names(backend, "list_event_trackers", "eventTrackers", datasetGroupArn=group) == ["demo-events"]
    assert names(backend, "list_filters", "Filters", datasetGroupArn=group) == ["unwatched"]
    again, _ = run(env, json.loads(raw))
    assert again.created == []


def test_batch_inference_entries_run_once_per_version_and_input(env):
    (env / "users.jsonl").write_text('{"userId": "1"}\n{"userId": "2"}\n')
    raw = project_raw(env)
    raw["batch_inference"] = [
        {"solution": "demo-popularity-count", "input": str(env / "users.jsonl"), "num_results": 3}
    ]
    first, backend = run(env, raw)
    job = next(o for o in first.outcomes if o.kind == "batch_inference_job")
    assert job.action == "created" and job.description["status"] == "ACTIVE"
    assert job.description["jobOutput"]["s3DataDestination"]["path"].startswith("s3://demo-data/batch-output/demo/")
    lines = [json.loads(line) for line in (env / "users.jsonl.out").read_text().splitlines()]
    assert [line["input"] for line in lines] == [{"userId": "1"}, {"userId": "2"}]
    assert all(len(line["output"]["recommendedItems"]) == 3 for line in lines)
    second, _ = run(env, raw)
    assert second.created == []
    assert next(o for o in second.outcomes if o.kind == "batch_inference_job").action == "adopted"


def test_a_new_schema_under_a_new_name_moves_the_dataset_and_retrains(env):
    first, _ = run(env, project_raw(env))
    raw = project_raw(env, event_value="none")
    raw["schemas"] = {"interactions": "demo-interactions-v2"}
    second, _ = run(env, raw)
    changed = {(o.kind, o.name): (o.action, o.detail) for o in second.created}
    assert changed[("schema", "demo-interactions-v2")][0] == "created"
    assert changed[("dataset", "demo-interactions")] == ("updated", "schema demo-interactions -> demo-interactions-v2")
    assert ("dataset_import_job", "created") in [(k, a) for (k, _), (a, _) in changed.items()]
    assert ("solution_version", "created") in [(k, a) for (k, _), (a, _) in changed.items()]
