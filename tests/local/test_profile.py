"""The fast profile of the mirror: every recipe trains in a moment, and still learns what it is shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from personalize_kit.local import Mirror
from personalize_kit.recipes import RecipeInputError

UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"


def test_the_fast_profile_sets_the_recipes_options_and_explicit_options_win(tmp_path: Path) -> None:
    fast = Mirror(tmp_path, profile="fast").settings.recipe_options
    assert fast["aws-user-personalization"] == {"training": "closed-form"}
    both = Mirror(tmp_path, profile="fast", recipe_options={"aws-user-personalization": {"seed": 3}})
    assert both.settings.recipe_options["aws-user-personalization"] == {"training": "closed-form", "seed": 3}
    assert Mirror(tmp_path).settings.recipe_options == {}
    with pytest.raises(RecipeInputError, match="unknown recipe profile 'quick'; use one of faithful, fast"):
        Mirror(tmp_path, profile="quick")


CHILD = """
import sys, boto3
from conftest import TERMINAL, interactions_csv, items_csv, import_data, make_bucket, make_group, wait_for
from personalize_kit.local import mock_personalize
with mock_personalize(sys.argv[1], pace="instant"):
    s3 = boto3.client("s3", region_name="us-east-1")
    make_bucket(s3)
    s3.put_object(Bucket="mirror-data", Key="interactions.csv", Body=interactions_csv().encode())
    s3.put_object(Bucket="mirror-data", Key="items.csv", Body=items_csv().encode())
    personalize = boto3.client("personalize", region_name="us-east-1")
    arns = make_group(personalize)
    import_data(personalize, arns)
    solution = personalize.create_solution(name="up", datasetGroupArn=arns["group"], recipeArn=sys.argv[2])
    version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    done = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
                    TERMINAL, timeout=120)
    print(done["status"], "tensorflow" in sys.modules)
"""


def test_a_user_personalization_version_trains_without_tensorflow_under_the_fast_profile(tmp_path: Path) -> None:
    env = {**os.environ, "PERSONALIZE_KIT_PROFILE": "fast", "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "state"), UP_ARN], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ACTIVE", "False"]  # trained, and TensorFlow never imported
