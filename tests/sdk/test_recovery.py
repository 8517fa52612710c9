"""Recovery: a pipeline killed at any step finishes when run again, with the inventory of a clean run and no
duplicates; failed resources are replaced and reported; runs racing on one state directory adopt each other's
resources. Each pipeline runs in its own process (SIGKILL is the test), on a small synthetic data set with
Popularity-Count, the quickest recipe."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from personalize_kit.sdk import make_backend, parse_project
from personalize_kit.sdk._clients import client

FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from personalize_kit.sdk import make_backend, parse_project, run_pipeline
    from personalize_kit.sdk.resources import Options
    raw, state, kill_kind, kill_match = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    project = parse_project(json.loads(raw))
    def progress(kind, arn, status):
        # the step's resource exists and is being waited for: the process dies here
        if kind == kill_kind and kill_match in arn:
            os.kill(os.getpid(), signal.SIGKILL)
    # jobs run inside the process that creates them: it dies as the job starts running
    from personalize_kit.local.resources import Resource
    update = Resource.update
    def dying_update(self, **attrs):
        update(self, **attrs)
        running = attrs.get("status") in ("CREATE IN_PROGRESS", "IN PROGRESS")
        if running and self.kind.name == kill_kind and kill_match in self.arn:
            os.kill(os.getpid(), signal.SIGKILL)
    Resource.update = dying_update
    result = run_pipeline(project, make_backend("local", project, state_dir=state), samples=False,
                          options=Options(progress=progress))
    print("REPLACED " + json.dumps(result.replaced), flush=True)
    print("FINISHED", flush=True)
    """
)


def project_raw(tmp: Path) -> dict:
    users = tmp / "users.jsonl"
    users.write_text('{"userId": "1"}\n{"userId": "2"}\n')
    return {
        "name": "demo",
        "data": {"source": "synthetic", "interactions": 3000, "out": str(tmp / "out")},
        "solutions": [{"recipe": "popularity-count"}],
        "filters": [{"name": "unwatched", "expression": FILTER}],
        "batch_inference": [{"solution": "demo-popularity-count", "input": str(users), "num_results": 3}],
    }


def child(tmp: Path, raw: dict, state: Path, kill_kind: str = "", kill_match: str = "") -> subprocess.Popen:
    env = {**os.environ, "PERSONALIZE_KIT_OFFLINE": "1"}
    argv = [sys.executable, "-c", CHILD, json.dumps(raw), str(state), kill_kind, kill_match]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


#: A job's later attempt is named NAME-2, NAME-3 ...: the inventory counts it as NAME.
ATTEMPT = re.compile(r"(-[0-9a-f]{12,16})-\d+$")
VERSION_IN_NAME = re.compile(r"-[0-9a-z]{8}(-[0-9a-f]{12})$")


def inventory(raw: dict, state: Path) -> tuple[Counter, list[tuple[str, str, str, str]]]:
    """(kind, name, status) of every resource, ACTIVE ones counted by name; and the failed ones."""
    project = parse_project(raw)
    session = make_backend("local", project, state_dir=state).session
    personalize = client("personalize", session)
    group = personalize.list_dataset_groups()["datasetGroups"][0]["datasetGroupArn"]
    rows: list[tuple[str, str, str, str]] = []

    def add(kind: str, items: list[dict], name_key: str = "name") -> None:
        for item in items:
            arn = item[f"{_camel(kind)}Arn"]
            detail = getattr(personalize, f"describe_{kind}")(**{f"{_camel(kind)}Arn": arn})[_camel(kind)]
            name = ATTEMPT.sub(r"\1", item[name_key])
            if kind == "batch_inference_job":  # named after the version, whose id differs between state dirs
                name = VERSION_IN_NAME.sub(r"\1", name)
            rows.append((kind, name, item["status"], detail.get("failureReason") or ""))

    add("dataset_group", personalize.list_dataset_groups()["datasetGroups"])
    add("dataset", personalize.list_datasets(datasetGroupArn=group)["datasets"])
    for dataset in personalize.list_datasets(datasetGroupArn=group)["datasets"]:
        jobs = personalize.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]
        add("dataset_import_job", jobs, "jobName")
    solutions = personalize.list_solutions(datasetGroupArn=group)["solutions"]
    add("solution", solutions)
    for solution in solutions:
        versions = personalize.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]
        add("solution_version", [{**v, "name": solution["name"]} for v in versions])
        add("campaign", personalize.list_campaigns(solutionArn=solution["solutionArn"])["campaigns"])
        for version in versions:
            jobs = personalize.list_batch_inference_jobs(solutionVersionArn=version["solutionVersionArn"])
            add("batch_inference_job", jobs["batchInferenceJobs"], "jobName")
    add("event_tracker", personalize.list_event_trackers(datasetGroupArn=group)["eventTrackers"])
    add("filter", personalize.list_filters(datasetGroupArn=group)["Filters"])
    active = Counter((kind, name) for kind, name, status, _ in rows if status == "ACTIVE")
    return active, [row for row in rows if row[2] != "ACTIVE"]


def _replaced(out: str) -> list:
    return json.loads(next(line for line in out.splitlines() if line.startswith("REPLACED "))[len("REPLACED ") :])


def _camel(kind: str) -> str:
    head, *rest = kind.split("_")
    return head + "".join(word.title() for word in rest)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Counter:
    """The inventory of one uninterrupted run."""
    tmp = tmp_path_factory.mktemp("clean")
    raw = project_raw(tmp)
    code, out, err = finish(child(tmp, raw, tmp / "state"))
    assert code == 0 and "FINISHED" in out, err
    active, failed = inventory(raw, tmp / "state")
    assert failed == [] and set(active.values()) == {1}
    return active


#: Where each run is killed: (kind, a part of the ARN); jobs and trainings die while running, and are left
#: CREATE FAILED; the other steps die while their resource is being waited for.
STEPS = {
    "import interactions": ("dataset_import_job", "-interactions-"),
    "import items": ("dataset_import_job", "-items-"),
    "import users": ("dataset_import_job", "-users-"),
    "training": ("solution_version", "solution/"),
    "campaign": ("campaign", "campaign/"),
    "event tracker": ("event_tracker", "event-tracker/"),
    "filter": ("filter", "filter/"),
    "batch job": ("batch_inference_job", "batch-inference-job/"),
}
LEFT_FAILED = ("dataset_import_job", "solution_version", "batch_inference_job")


@pytest.mark.slow
@pytest.mark.parametrize("step", list(STEPS), ids=list(STEPS))
def test_a_pipeline_killed_at_any_step_finishes_with_a_clean_runs_inventory(step, tmp_path, clean):
    raw, state = project_raw(tmp_path), tmp_path / "state"
    code, out, _ = finish(child(tmp_path, raw, state, *STEPS[step]))
    assert code == -signal.SIGKILL and "FINISHED" not in out

    code, out, err = finish(child(tmp_path, raw, state))
    assert code == 0 and "FINISHED" in out, err
    replaced = _replaced(out)

    active, failed = inventory(raw, state)
    assert active == clean  # every resource once, ACTIVE, as after a clean run: no duplicates
    # what the kill left failed (a job whose process died) was replaced, reported, and kept as history
    assert [reason for _, _, _, reason in failed] == [reason for _, _, reason in replaced]
    assert all(status == "CREATE FAILED" for _, _, status, _ in failed)
    if STEPS[step][0] in LEFT_FAILED:  # the kill hit the running job or training, which the rerun replaced
        assert [kind for kind, _, _, _ in failed] == [STEPS[step][0]]
        assert "ended before" in replaced[0][2]

    code, out, err = finish(child(tmp_path, raw, state))  # and a third run has nothing left to do
    assert code == 0, err
    assert _replaced(out) == []


@pytest.mark.slow
def test_three_runs_racing_on_a_fresh_state_directory_adopt_each_others_resources(tmp_path, clean):
    raw, state = project_raw(tmp_path), tmp_path / "state"
    runs = [child(tmp_path, raw, state) for _ in range(3)]
    results = [finish(run) for run in runs]
    assert [code for code, _, _ in results] == [0, 0, 0], [err[-500:] for _, _, err in results]
    active, failed = inventory(raw, state)
    assert failed == []
    # named resources exist once; solution versions have no name, so racing runs may each have trained one
    named = Counter({key: n for key, n in active.items() if key[0] != "solution_version"})
    assert named == Counter({key: n for key, n in clean.items() if key[0] != "solution_version"})
    assert 1 <= active[("solution_version", "demo-popularity-count")] <= 3
