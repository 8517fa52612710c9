"""The pipeline with a domain (``domain:`` in the project file, ``pipeline --domain``) against the local mirror:
a domain dataset group with one recommender per use case, each ACTIVE and answering; idempotent; bad project
values are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from personalize_kit.domains import use_cases
from personalize_kit.exceptions import ProjectFileError
from personalize_kit.sdk import cleanup, make_backend, parse_project, plan, run_pipeline
from personalize_kit.sdk._clients import client


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    monkeypatch.setenv("PERSONALIZE_KIT_PROFILE", "fast")  # the user-personalization use cases train in seconds
    monkeypatch.setenv("PERSONALIZE_KIT_PACE", "instant")
    return tmp_path


def raw_project(tmp_path, **extra):
    data = {"source": "synthetic", "interactions": 4000, "out": str(tmp_path / "out")}
    return {"name": "vod", "data": data, "domain": "video-on-demand", **extra}


def test_video_on_demand_makes_every_recommender_and_a_second_run_nothing(env):
    project = parse_project(raw_project(env))
    backend = make_backend("local", project, state_dir=env / "state")
    first = run_pipeline(project, backend)
    assert [m.use_case.name for m in first.recommenders] == [c.name for c in use_cases("VIDEO_ON_DEMAND")]
    personalize = client("personalize", backend.session)
    group = personalize.describe_dataset_group(datasetGroupArn=first.outcomes[0].arn)["datasetGroup"]
    assert group["domain"] == "VIDEO_ON_DEMAND"
    for made in first.recommenders:
        described = personalize.describe_recommender(recommenderArn=made.outcome.arn)["recommender"]
        assert described["status"] == "ACTIVE", described.get("failureReason")
        assert made.samples and len(made.samples[0][1]) == 5, made.use_case.name  # each one answers
    schemas = [o for o in first.outcomes if o.kind == "schema"]
    assert {personalize.describe_schema(schemaArn=o.arn)["schema"]["domain"] for o in schemas} == {"VIDEO_ON_DEMAND"}
    assert not first.solutions

    second = run_pipeline(project, backend)
    assert second.created == []
    assert {o.action for o in second.outcomes} == {"adopted"}
    rows = plan(project, backend)
    recommender_rows = [row for row in rows if row[0] == "recommender"]
    assert [name for _, name, _ in recommender_rows] == [m.outcome.name for m in first.recommenders]
    assert {verdict for _, _, verdict in recommender_rows} == {"adopt: exists already"}

    done = cleanup("vod", session=backend.session, dry_run=False)
    assert {arn for kind, arn, _ in done if kind == "recommender"} == {m.outcome.arn for m in first.recommenders}
    assert personalize.list_recommenders()["recommenders"] == []
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_plan_of_a_new_domain_project_shows_the_recommenders_to_create(env):
    raw = raw_project(env, recommenders=[{"use_case": "most-popular", "name": "popular"}, "because-you-watched-x"])
    project = parse_project(raw)
    rows = plan(project, make_backend("local", project, state_dir=env / "state"))
    assert [r for r in rows if r[0] == "recommender"] == [
        ("recommender", "popular", "create: aws-vod-most-popular"),
        ("recommender", "vod-because-you-watched-x", "create: aws-vod-because-you-watched-x"),
    ]


def test_e_commerce_imports_view_and_purchase_events_and_skips_items_without_price(env):
    project = parse_project(
        {**raw_project(env), "name": "shop", "domain": "e-commerce", "recommenders": ["popular-items-by-views"]}
    )
    assert project.data.event_mapping == "Purchase:4,View:1"
    result = run_pipeline(project, make_backend("local", project, state_dir=env / "state"))
    assert [o.name for o in result.outcomes if o.kind == "dataset"] == ["shop-interactions", "shop-users"]
    assert result.recommenders[0].samples


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"domain": "retail"}, "domain: unknown domain 'retail'; use one of video-on-demand, e-commerce"),
        ({"recommenders": ["best-sellers"]}, "recommenders[0].use_case: 'best-sellers' is not a use case of"),
        ({"recommenders": [{"use_case": "most-popular", "size": 1}]}, "unknown key(s): recommenders[0].size"),
        ({"solutions": [{"recipe": "sims"}]}, "solutions: a domain project makes recommenders, not solutions"),
        ({"domain": None, "recommenders": ["most-popular"]}, "recommenders need a domain"),
    ],
)
def test_bad_domain_values_are_one_line_naming_the_field(env, extra, message):
    with pytest.raises(ProjectFileError) as exc:
        parse_project({**raw_project(env), **extra})
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_cli_pipeline_domain_flag(env, tmp_path):
    command = [sys.executable, "-m", "personalize_kit", "pipeline", "--domain", "video-on-demand", "--name", "cli-vod"]
    project = tmp_path / "p.yaml"
    project.write_text(f"data: {{source: synthetic, interactions: 4000, out: {tmp_path / 'out'}}}\n")
    flags = ["--project", str(project), "--state-dir", str(tmp_path / "state")]
    done = subprocess.run(command + flags, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "sample recommendations from recommender cli-vod-most-popular" in done.stdout
    assert done.stdout.count("sample recommendations from recommender") == len(use_cases("VIDEO_ON_DEMAND"))
    again = subprocess.run(command + flags, capture_output=True, text=True, timeout=600)
    assert "nothing changed" in again.stdout
    both = subprocess.run(command + ["--recipe", "sims"], capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
