from __future__ import annotations

import pytest

from personalize_kit.exceptions import ProjectFileError
from personalize_kit.sdk.project import load_project, parse_project


def test_zero_config_defaults():
    project = parse_project(None)
    assert project.name == "personalize-kit"
    assert [s.recipe for s in project.solutions] == ["aws-user-personalization"]
    assert project.solution_name(project.solutions[0]) == "personalize-kit-user-personalization"
    assert project.data.source == "default" and project.data.event_mapping == "watch:3"
    assert project.tracker_name == "personalize-kit-events"


def test_a_full_file(tmp_path):
    path = tmp_path / "project.yaml"
    path.write_text(
        """
name: movielens
data: {source: synthetic, interactions: 5000, event_mapping: "love:4.5-5,watch:3"}
aws: {stack: Staging}
solutions:
  - recipe: user-personalization
    hyperparameters: {hidden_dimension: 64, recency_mask: true}
    campaign: {min_provisioned_tps: 2, exploration_weight: 0.5, exploration_item_age_cut_off: 10}
  - recipe: arn:aws:personalize:::recipe/aws-sims
    campaign: false
filters:
  - {name: unwatched, expression: 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'}
tags: {team: recs}
"""
    )
    project = load_project(path)
    up, sims = project.solutions
    assert up.hyperparameters == {"hidden_dimension": "64", "recency_mask": "true"}
    assert up.campaign.campaign_config() == {
        "itemExplorationConfig": {"explorationWeight": "0.5", "explorationItemAgeCutOff": "10"}
    }
    assert sims.recipe == "aws-sims" and sims.campaign is None
    assert project.aws.stack == "Staging" and project.tags == {"team": "recs"}
    assert project.schema_name("INTERACTIONS") == "movielens-interactions"


def test_schema_names_and_realtime_features():
    project = parse_project({"name": "m", "schemas": {"interactions": "m-int-v2"}, "data": {"realtime_features": True}})
    assert project.schema_name("INTERACTIONS") == "m-int-v2" and project.schema_name("ITEMS") == "m-items"
    assert project.data.realtime_features is True


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"nmae": "x"}, "unknown key(s): nmae (did you mean name?)"),
        ({"name": "bad name!"}, "name: 'bad name!' is not a valid Personalize name"),
        ({"solutions": [{"recipe": "hrnn"}]}, "solutions[0].recipe: unknown recipe 'hrnn'"),
        ({"solutions": [{}]}, "solutions[0].recipe is required"),
        (
            {"solutions": [{"recipe": "sims", "campaign": {"min_provisioned_tps": 0}}]},
            "solutions[0].campaign.min_provisioned_tps must be at least 1",
        ),
        (
            {"solutions": [{"recipe": "sims", "campaign": {"exploration_weight": 2}}]},
            "solutions[0].campaign.exploration_weight must be in [0, 1]",
        ),
        ({"solutions": [{"recipe": "sims"}, {"recipe": "sims"}]}, "solutions[1]: the name"),
        ({"solutions": [{"recipe": "sims", "training_mode": "PARTIAL"}]}, "solutions[0].training_mode must be FULL"),
        ({"data": {"interactions": "many"}}, "data.interactions must be int"),
        ({"data": {"event_mapping": "watch"}}, "data.event_mapping: event mapping rule 'watch'"),
        (
            {"filters": [{"name": "f", "expression": 'EXCLUDE ItemID WHER Items.GENRES IN ("x")'}]},
            "filters[0].expression: ",
        ),
        (
            {"batch_inference": [{"solution": "nope", "input": "users.jsonl"}]},
            "batch_inference[0].solution must name one of the solutions",
        ),
        ({"tags": {"a": [1]}}, "tags.a must be a plain value"),
        ({"schemas": {"ratings": "x"}}, "unknown key(s): schemas.ratings"),
        ({"schemas": {"items": "bad name"}}, "schemas.items: 'bad name' is not a valid Personalize name"),
        ({"data": {"realtime_features": "yes"}}, "data.realtime_features must be bool"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_errors_point_at_the_key(raw, message):
    with pytest.raises(ProjectFileError) as err:
        parse_project(raw)
    assert message in str(err.value)


def test_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsolutions: [\n")
    with pytest.raises(ProjectFileError, match=r"p.yaml is not valid YAML at line 3"):
        load_project(path)
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "missing.yaml")
    path.write_text('{"name": "x", "extra": 1}')
    json_path = tmp_path / "p.json"
    json_path.write_text('{"name": "x", "extra": 1}')
    with pytest.raises(ProjectFileError, match=r"p.json: unknown key\(s\): extra"):
        load_project(json_path)


def test_every_recipe_a_campaign_serves_has_a_short_name_and_segmentation_recipes_are_refused() -> None:
    from personalize_kit.recipes import RECIPES
    from personalize_kit.sdk.project import CAMPAIGN_RECIPE_TYPES, RECIPE_ALIASES, recipe_name

    served = {info.name for info in RECIPES.values() if info.recipe_type in CAMPAIGN_RECIPE_TYPES}
    assert served == {recipe_name(info.name) for info in RECIPES.values() if info.name in served}
    assert {recipe_name(short) for short in RECIPE_ALIASES} <= served
    assert recipe_name("trending-now") == "aws-trending-now"
    with pytest.raises(ValueError, match=r"aws-item-affinity \(USER_SEGMENTATION\) is not deployed as a campaign"):
        recipe_name("aws-item-affinity")
