"""A campaign scored through GetRecommendations equals the same model scored directly, on the same split."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from personalize_kit.data.schemas import interactions_schema
from personalize_kit.data.synthetic import SyntheticConfig, generate
from personalize_kit.local import mirror_session
from personalize_kit.metrics import evaluate_recommender, holdout_split
from personalize_kit.recipes.popularity import PopularityCount
from personalize_kit.sdk import (
    ensure_campaign,
    ensure_dataset,
    ensure_dataset_group,
    ensure_event_tracker,
    ensure_import_job,
    ensure_schema,
    ensure_solution,
    ensure_solution_version,
    evaluate_campaign,
    send_inputs,
)
from personalize_kit.sdk.backend import grant_personalize

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


def test_campaign_metrics_match_the_model_on_the_same_split(tmp_path):
    raw = generate(SyntheticConfig(n_interactions=6000, seed=2))
    ratings = pa.concat_tables(list(raw.ratings())).to_pandas()
    interactions = pd.DataFrame(
        {
            "USER_ID": ratings.user_id,
            "ITEM_ID": ratings.item_id,
            "TIMESTAMP": ratings.timestamp,
            "EVENT_TYPE": "watch",
            "EVENT_VALUE": ratings.rating,
        }
    )
    split = holdout_split(interactions, seed=1)
    training = split.training_data(include_test_input=True)
    path = tmp_path / "interactions.csv"
    training.to_csv(path, index=False)

    session = mirror_session(tmp_path / "state")
    session.client("s3").create_bucket(Bucket="eval")
    session.client("s3").upload_file(str(path), "eval", "interactions.csv")
    role = grant_personalize(session, "eval", role_name="r")
    group = ensure_dataset_group("eval", session=session)
    schema = ensure_schema("eval-interactions", interactions_schema(), session=session)
    dataset = ensure_dataset(group.arn, "INTERACTIONS", schema.arn, session=session)
    ensure_import_job(dataset.arn, "s3://eval/interactions.csv", role, name="eval-1", session=session)
    solution = ensure_solution(group.arn, "eval-popularity", POPULARITY, session=session)
    version = ensure_solution_version(solution.arn, session=session)
    campaign = ensure_campaign("eval-popularity", version.arn, session=session)

    catalogue = training["ITEM_ID"].nunique()
    served = evaluate_campaign(campaign.arn, split, catalogue_size=catalogue, session=session)
    model = PopularityCount().fit(training)
    direct = evaluate_recommender(
        lambda user, n: [i for i, _ in model.recommend(user_id=user, n=n)], split, catalogue_size=catalogue
    )
    assert served == direct
    assert served["precision_at_25"] > 0  # popularity finds some of the truth: the comparison is not of zeros

    tracker = ensure_event_tracker(group.arn, "eval-events", session=session).description["trackingId"]
    assert send_inputs(split, tracker, session=session) == len(split.test_input)
    again = evaluate_campaign(campaign.arn, split, catalogue_size=catalogue, session=session, tracking_id=tracker)
    assert set(again) == set(direct)
