"""The fast profile: every recipe trains without TensorFlow and still learns what the data plainly shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planted import N_GENRES, PER_GENRE, events, item, planted_data, top

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes import PROFILES, RECIPES, profile_options, recipe_class
from personalize_kit.recipes.personalized_ranking import PersonalizedRankingV2
from personalize_kit.recipes.sequence import cooccurrence
from personalize_kit.recipes.user_personalization import UserPersonalization

REPO = Path(__file__).resolve().parents[2]
FAST = profile_options("fast")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return planted_data()


@pytest.fixture(scope="module")
def model(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> UserPersonalization:
    return UserPersonalization(**FAST["aws-user-personalization"]).fit(*data)


def test_profiles_are_data_and_the_faithful_one_changes_nothing() -> None:
    assert set(PROFILES) == {"faithful", "fast"}
    assert profile_options("faithful") == {}
    assert set(FAST) <= {info.name for info in RECIPES.values()}
    FAST["aws-sims"] = {"changed": True}
    assert "aws-sims" not in profile_options("fast")  # a copy each time


def test_an_unknown_profile_is_refused_with_the_choices() -> None:
    with pytest.raises(RecipeInputError, match="unknown recipe profile 'quick'; use one of faithful, fast"):
        profile_options("quick")


def test_the_planted_successor_comes_first_after_its_item(model: UserPersonalization) -> None:
    assert top(model.recommend(user_id="new-user", recent_events=events("g0i0")), 1) == ["g0i1"]
    assert top(model.recommend(user_id="new-user", recent_events=events("g2i4", "g2i5")), 1) == ["g2i6"]


def test_a_known_user_gets_the_successor_of_its_last_item(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    for user in ("u1", "u6"):
        last = interactions[interactions["USER_ID"] == user].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
        genre, k = int(last[1]), int(last[3:])
        assert top(model.recommend(user_id=user), 1) == [item(genre, (k + 1) % PER_GENRE)]


def test_the_newest_genre_wins(model: UserPersonalization) -> None:
    recent = events("g1i3", "g1i7", "g3i2", "g3i5", "g3i8")
    assert all(name.startswith("g3") for name in top(model.recommend(user_id="someone", recent_events=recent), 5))


def test_a_user_without_history_gets_the_popular_items(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    counts = data[0]["ITEM_ID"].value_counts()
    assert top(model.recommend(user_id="nobody"), 1) == [counts.index[counts == counts.max()].sort_values()[0]]


def test_ranking_puts_the_successor_first(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    ranking = PersonalizedRankingV2(**FAST["aws-personalized-ranking-v2"]).fit(*data)
    candidates = [item(g, k) for g in range(N_GENRES) for k in (0, 5)] + [item(1, 6)]
    assert top(ranking.rank("new-user", candidates, recent_events=events("g1i5")), 1) == ["g1i6"]


def test_a_fast_model_saves_loads_and_updates(model: UserPersonalization, tmp_path: Path) -> None:
    loaded = UserPersonalization.load(model.save(tmp_path / "fast"))
    assert loaded.recommend(user_id="u3") == model.recommend(user_id="u3")
    late = pd.DataFrame({"USER_ID": ["late"], "ITEM_ID": ["g2i2"], "TIMESTAMP": [2_000_000_000]})
    assert top(model.update(late).recommend(user_id="late"), 1) == ["g2i3"]


def test_an_unknown_training_is_refused() -> None:
    with pytest.raises(RecipeInputError, match="training must be one of keras, closed-form, not 'gpu'"):
        UserPersonalization(training="gpu")


def test_every_recipe_trains_under_the_fast_profile_without_tensorflow() -> None:
    script = (
        "import sys\n"
        "sys.path.insert(0, 'tests/recipes')\n"
        "from planted import planted_data\n"
        "from personalize_kit.recipes import RECIPES, profile_options, recipe_class\n"
        "interactions, items, users = planted_data()\n"
        "options = profile_options('fast')\n"
        "import pandas as pd\n"
        "for arn, info in RECIPES.items():\n"
        "    cls = recipe_class(arn)\n"  # a recipe of actions trains on an Actions dataset too
        "    extra = {'actions': pd.DataFrame({'ACTION_ID': ['a1']})} if cls.uses_actions else {}\n"
        "    text = {'DESCRIPTION': 'items of ' + items['GENRES'].str.replace('|', ' ')} if cls.needs_items else {}\n"
        "    model = cls(**options.get(info.name, {})).fit(interactions, items.assign(**text), users, **extra)\n"
        "    assert model.catalogue.size > 0, info.name\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "False False"
    assert all(recipe_class(arn) for arn in RECIPES)


def test_the_cooccurrence_term_adds_what_goes_with_the_users_items(
    data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    interactions, items, users = data
    pairs = pd.DataFrame(
        {"USER_ID": [f"pair{k}" for k in range(12) for _ in range(2)], "ITEM_ID": ["g3i9", "g0i0"] * 12,
         "TIMESTAMP": [1_599_000_000 + k for k in range(24)]}
    )  # fmt: skip
    frame = pd.concat([interactions, pairs], ignore_index=True)
    model = UserPersonalization(**FAST["aws-user-personalization"], cooccurrence_weight=5.0).fit(frame, items, users)
    plain = UserPersonalization(**FAST["aws-user-personalization"]).fit(frame, items, users)
    recent = events("g0i0")
    code = model._item_index
    term = cooccurrence.scores(model._arrays, np.array([code["g0i0"]]), model.catalogue.size, 0.8)
    assert 0 < term[code["g3i9"]] < term.max() == 1.0  # seen with g0i0 by the pair users, less than its genre
    assert all(term[code[item(1, k)]] == 0 for k in range(PER_GENRE))  # never seen with g0i0
    diff = np.log(model.scores("x", recent)) - np.log(plain.scores("x", recent))
    assert np.allclose(diff - diff.mean(), 5.0 * (term - term.mean()), atol=1e-4)
    loaded = UserPersonalization.load(model.save(tmp_path / "cooc"))
    assert loaded.recommend(user_id="x", recent_events=recent) == model.recommend(user_id="x", recent_events=recent)
    late = pd.DataFrame({"USER_ID": ["late"], "ITEM_ID": ["brand-new"], "TIMESTAMP": [2_000_000_000]})
    assert len(model.update(late).recommend(user_id="late", n=3)) == 3  # new items have no neighbours yet


def test_the_cooccurrence_scores_follow_their_definition() -> None:
    rng = np.random.default_rng(5)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 25, 400)
    order = np.lexsort((items, users))
    arrays = cooccurrence.neighbours(users[order], items[order], 25, k=25)
    seen = np.zeros((30, 25))
    seen[users, items] = 1.0
    counts = seen.sum(axis=0)
    cosine = seen.T @ seen / np.sqrt(np.outer(np.maximum(counts, 1), np.maximum(counts, 1)))
    np.fill_diagonal(cosine, 0.0)
    recent = np.array([3, 7, -1, 3, 12])  # newest last: 12 (k=0), 3 (k=1; its older k=3 does not count), 7 (k=2)
    expected = 0.8**0 * cosine[12] + 0.8**1 * cosine[3] + 0.8**2 * cosine[7]
    assert np.allclose(cooccurrence.scores(arrays, recent, 25, 0.8), expected / expected.max(), atol=1e-5)
