"""``cleanup`` against the local mirror: dependency order, a dry run that deletes nothing, schemas shared
with another dataset group kept, a running training stopped first, and deletions waited for until gone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from personalize_kit.sdk import _clients, make_backend, parse_project, run_pipeline
from personalize_kit.sdk._clients import client
from personalize_kit.sdk.cleanup import cleanup, plan_cleanup

FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'
ORDER = [
    "campaign",
    "filter",
    "event_tracker",
    "solution",
    "dataset",
    "dataset",
    "dataset",
    "dataset_group",
    "schema",
    "schema",
    "schema",
]


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """The pipeline's resources for dataset group ``demo`` (Popularity-Count, a filter, the event tracker)."""
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    monkeypatch.setenv("PERSONALIZE_KIT_PACE", "instant")  # states at once: SlowDeletes plays the deletes' states
    project = parse_project(
        {
            "name": "demo",
            "data": {"source": "synthetic", "interactions": 3000, "out": str(tmp_path / "out")},
            "solutions": [{"recipe": "popularity-count"}],
            "filters": [{"name": "unwatched", "expression": FILTER}],
        }
    )
    backend = make_backend("local", project, state_dir=tmp_path / "state")
    run_pipeline(project, backend, samples=False)
    return backend


def inventory(personalize: Any) -> dict[str, list[str]]:
    """Every resource of the account, by kind."""
    solutions = personalize.list_solutions()["solutions"]
    return {
        "dataset_groups": [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]],
        "datasets": sorted(d["datasetArn"] for d in personalize.list_datasets()["datasets"]),
        "schemas": sorted(s["name"] for s in personalize.list_schemas()["schemas"]),
        "solutions": [s["name"] for s in solutions],
        "versions": [
            v["solutionVersionArn"]
            for s in solutions
            for v in personalize.list_solution_versions(solutionArn=s["solutionArn"])["solutionVersions"]
        ],
        "campaigns": [c["name"] for c in personalize.list_campaigns()["campaigns"]],
        "filters": [f["name"] for f in personalize.list_filters()["Filters"]],
        "trackers": [t["name"] for t in personalize.list_event_trackers()["eventTrackers"]],
    }


def test_a_dry_run_lists_in_dependency_order_and_deletes_nothing(deployed):
    personalize = client("personalize", deployed.session)
    before = inventory(personalize)
    rows = cleanup("demo", session=deployed.session)
    assert [kind for kind, _, _ in rows] == ORDER
    assert {action for _, _, action in rows} == {"delete"}
    arns = [arn for _, arn, _ in rows]
    assert arns[0].endswith(":campaign/demo-popularity-count") and arns[7].endswith(":dataset-group/demo")
    assert sorted(a.rsplit("/", 1)[1] for a in arns[-3:]) == ["demo-interactions", "demo-items", "demo-users"]
    assert inventory(personalize) == before
    assert before["dataset_groups"] == ["demo"] and len(before["datasets"]) == 3 and before["campaigns"]
    assert rows == plan_cleanup("demo", session=deployed.session)


class SlowDeletes:
    """Makes the mirror's deletions look like the service's: after a Delete, the resource's Describe answers
    DELETE PENDING, then DELETE IN_PROGRESS, and only then ResourceNotFound (the mirror's own answer).
    Records the Delete calls in order."""

    STATES = ("DELETE PENDING", "DELETE IN_PROGRESS")

    def __init__(self, session: Any) -> None:
        self.deletes: list[tuple[str, str]] = []
        self.describes: list[tuple[str, str]] = []
        self.pending: dict[str, list[str]] = {}
        session.events.register("before-call.personalize", self)
        _clients.forget(session)  # clients built before this handler was registered do not have it

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params.get("body") or b"{}")
        arn = next((v for k, v in body.items() if k.endswith("Arn")), None)
        if model.name.startswith("Delete"):
            self.deletes.append((model.name, arn))
            if model.name != "DeleteSchema":
                self.pending[arn] = list(self.STATES)
        elif model.name.startswith("Describe") and arn in self.pending:
            self.describes.append((model.name, arn))
            if self.pending[arn]:
                key = next(iter(model.output_shape.members))
                parsed = {key: {"status": self.pending[arn].pop(0)}, "ResponseMetadata": {"HTTPStatusCode": 200}}
                return AWSResponse("https://personalize.local/", 200, {}, None), parsed
        return None


def test_cleanup_deletes_in_order_and_waits_until_each_resource_is_gone(deployed):
    slow = SlowDeletes(deployed.session)
    sleeps: list[float] = []
    said: list[str] = []
    rows = cleanup("demo", session=deployed.session, dry_run=False, say=said.append, sleep=sleeps.append)

    assert [kind for kind, _, _ in rows] == ORDER
    assert {action for _, _, action in rows} == {"deleted"}
    assert [name for name, _ in slow.deletes] == [
        "DeleteCampaign",
        "DeleteFilter",
        "DeleteEventTracker",
        "DeleteSolution",
        "DeleteDataset",
        "DeleteDataset",
        "DeleteDataset",
        "DeleteDatasetGroup",
        "DeleteSchema",
        "DeleteSchema",
        "DeleteSchema",
    ]
    # every resource with a state was polled through DELETE PENDING and DELETE IN_PROGRESS until not found
    waited = [arn for _, arn in slow.deletes if not arn.split(":")[-1].startswith("schema/")]
    assert all(slow.describes.count((f"Describe{n[6:]}", a)) == 3 for n, a in slow.deletes if a in waited)
    assert len(sleeps) == 2 * len(waited) and sleeps[:2] == pytest.approx([0.2, 0.32])
    assert len(said) == len(rows)

    personalize = client("personalize", deployed.session)
    assert inventory(personalize) == {k: [] for k in inventory(personalize)}
    assert cleanup("demo", session=deployed.session) == []


def test_a_schema_another_group_uses_is_kept_and_that_group_untouched(deployed):
    personalize = client("personalize", deployed.session)
    schema = next(s["schemaArn"] for s in personalize.list_schemas()["schemas"] if s["name"] == "demo-interactions")
    other = personalize.create_dataset_group(name="other")["datasetGroupArn"]
    personalize.create_dataset(
        name="other-interactions", schemaArn=schema, datasetGroupArn=other, datasetType="INTERACTIONS"
    )
    plan = cleanup("demo", session=deployed.session)
    kept = [(arn, action) for kind, arn, action in plan if action.startswith("keep")]
    assert kept == [(schema, f"keep: used by {other.replace(':dataset-group/', ':dataset/')}/INTERACTIONS")]

    rows = cleanup("demo", session=deployed.session, dry_run=False)
    assert [action for _, arn, action in rows if arn == schema] == [kept[0][1]]
    left = inventory(personalize)
    assert left["dataset_groups"] == ["other"] and left["schemas"] == ["demo-interactions"]
    assert left["datasets"] == [other.replace(":dataset-group/", ":dataset/") + "/INTERACTIONS"]


def test_a_training_in_progress_is_stopped_before_its_solution_is_deleted(deployed, monkeypatch):
    personalize = client("personalize", deployed.session)
    solution = personalize.list_solutions()["solutions"][0]["solutionArn"]
    campaign = personalize.list_campaigns()["campaigns"][0]["campaignArn"]
    personalize.delete_campaign(campaignArn=campaign)
    monkeypatch.setenv("PERSONALIZE_KIT_TRAINING_SECONDS", "60")
    from personalize_kit.local import mirror_session

    slow_session = mirror_session(deployed.state_dir)
    running = client("personalize", slow_session).create_solution_version(solutionArn=solution)["solutionVersionArn"]
    plan = cleanup("demo", session=slow_session)
    assert ("solution", solution, "stop training, then delete") in plan
    assert not any(kind == "campaign" for kind, _, _ in plan)

    said: list[str] = []
    rows = cleanup("demo", session=slow_session, dry_run=False, say=said.append, timeout=30)
    assert ("solution", solution, "deleted") in rows
    assert f"stopping  solution version {running.rsplit('/', 1)[1]}" in said
    assert inventory(personalize)["versions"] == []
