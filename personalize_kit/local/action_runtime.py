"""The runtime's Next-Best-Action operation (service id ``personalize-runtime``): GetActionRecommendations.

A campaign of a PERSONALIZED_ACTIONS solution version answers with the actions of the Actions dataset as it
is now (actions sent with PutActions included, expired ones left out), each with the user's propensity to
take it; the user's action interactions and item events sent since training are read at every call, so an
action taken within its repeat frequency disappears from the user's list at once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from personalize_kit.local import actions, runtime
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.recipes import RECIPES
from personalize_kit.recipes.next_best_action import rank_actions

#: numResults: the default and the most the service returns.
DEFAULT_NUM_RESULTS = 5
MAX_NUM_RESULTS = 100


def _checked(backend: PersonalizeBackend, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The campaign's solution version, and numResults, once the request is one the service answers."""
    resources = backend.read()
    campaign = runtime._campaign(resources, params)
    version = resources.find(campaign["solutionVersionArn"], "solution_version").attrs
    recipe = RECIPES[version["recipeArn"]]
    if recipe.recipe_type != "PERSONALIZED_ACTIONS":
        raise InvalidInputException(
            f"GetActionRecommendations needs a campaign of a PERSONALIZED_ACTIONS recipe (aws-next-best-action), "
            f"not {recipe.name}: use GetRecommendations."
        )
    if not params.get("userId"):
        raise InvalidInputException(f"userId is required for a campaign of recipe {recipe.name}.")
    n = int(params.get("numResults", DEFAULT_NUM_RESULTS))
    if n > MAX_NUM_RESULTS:
        raise InvalidInputException(f"numResults must be at most {MAX_NUM_RESULTS}: {n}.")
    if params.get("filterValues") and not params.get("filterArn"):
        raise InvalidInputException("filterValues needs a filterArn.")
    if params.get("filterArn"):
        record = runtime._filter(resources, params["filterArn"], version["datasetGroupArn"])
        raise InvalidInputException(
            f"Filter {record.arn} filters items ({record.attrs['filterExpression'][:80]}); GetActionRecommendations "
            "takes action filters (ActionID expressions), which the local mirror does not support yet."
        )
    return {**version, "solutionVersionArn": campaign["solutionVersionArn"]}, n


def get_action_recommendations(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    version, n = _checked(backend, params)
    group = version["datasetGroupArn"].split("/")[1]
    user = str(params["userId"])
    model = runtime.model_for(backend, version["solutionVersionArn"], version["recipeArn"])
    frame = actions.actions_now(backend, group)
    ranked = []
    if frame is not None and n > 0:
        ranked = rank_actions(
            model,  # type: ignore[arg-type]
            user,
            frame,
            actions.user_history(backend, group, user),
            now=time.time(),
            n=n,
            recent_events=runtime.recent_events(backend, group, user),
        )
    return {
        "actionList": [{"actionId": action, "score": score} for action, score in ranked],
        "recommendationId": f"RID-{uuid.uuid4()}",
    }


OPERATIONS: dict[str, Any] = {"GetActionRecommendations": get_action_recommendations}
