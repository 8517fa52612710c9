"""User-Personalization learns planted patterns: successors, genres, new events, exploration, UPDATE."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planted import DAY, LATEST, N_GENRES, PER_GENRE, events, item, planted_data, top

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import check_hyperparameters
from personalize_kit.recipes.sequence import gru_run, windows
from personalize_kit.recipes.user_personalization import UserPersonalization

REPO = Path(__file__).resolve().parents[2]
HYPERPARAMETERS = {"hidden_dimension": "32", "bptt": "8"}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return planted_data()


@pytest.fixture(scope="module")
def model(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> UserPersonalization:
    interactions, items, users = data
    return UserPersonalization(max_epochs=40, learning_rate=1e-2, batch_size=16).fit(
        interactions, items, users, HYPERPARAMETERS
    )


def test_the_planted_successor_comes_first_after_its_item(model: UserPersonalization) -> None:
    assert top(model.recommend(user_id="new-user", recent_events=events("g0i0")), 1) == ["g0i1"]
    assert top(model.recommend(user_id="new-user", recent_events=events("g2i4", "g2i5")), 1) == ["g2i6"]


def test_a_known_user_gets_the_successor_of_its_last_item(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    last = interactions[interactions["USER_ID"] == "u5"].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
    genre, k = int(last[1]), int(last[3:])
    assert top(model.recommend(user_id="u5"), 1) == [item(genre, (k + 1) % PER_GENRE)]


def test_recent_events_of_one_genre_give_that_genre(model: UserPersonalization) -> None:
    recent = events("g3i7", "g3i2", "g3i5")
    assert all(name.startswith("g3") for name in top(model.recommend(user_id="someone", recent_events=recent), 5))


def test_user_metadata_guides_a_user_without_interactions(model: UserPersonalization) -> None:
    # the segment's genre (a quarter of the catalogue: by chance 4 of 5 would be 1.6%) fills the top 5 but one
    assert sum(name.startswith("g2") for name in top(model.recommend(user_id="meta-only"), 5)) >= 4


def test_recommendations_change_right_after_an_event(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    last = interactions[interactions["USER_ID"] == "u0"].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
    k = int(last[3:])
    before = top(model.recommend(user_id="u0", n=10))
    assert before[0] == item(0, (k + 1) % PER_GENRE)
    after = top(model.recommend(user_id="u0", n=10, recent_events=events(item(0, (k + 5) % PER_GENRE))))
    assert after != before
    assert after[0] == item(0, (k + 6) % PER_GENRE)


def test_events_without_timestamps_count_as_the_newest(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    last = interactions[interactions["USER_ID"] == "u0"].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
    event = item(0, (int(last[3:]) + 5) % PER_GENRE)
    untimed = model.recommend(user_id="u0", recent_events=pd.DataFrame({"ITEM_ID": [event]}))
    assert untimed == model.recommend(user_id="u0", recent_events=events(event))
    assert model.recommend(item_id=event) == model.recommend(user_id="anyone", recent_events=events(event))


def test_events_already_in_the_history_change_nothing(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    own = interactions[interactions["USER_ID"] == "u7"]
    assert model.recommend(user_id="u7", recent_events=own) == model.recommend(user_id="u7")


def test_an_unseen_user_with_events_gets_personal_recommendations(model: UserPersonalization) -> None:
    cold = top(model.recommend(user_id="stranger", n=10))
    personal = top(model.recommend(user_id="stranger", n=10, recent_events=events("g1i8")))
    assert personal != cold
    assert personal[0] == "g1i9"


def test_scores_are_a_softmax_over_the_catalogue(model: UserPersonalization) -> None:
    everything = model.recommend(user_id="u3", n=len(model.catalogue))
    assert len(everything) == len(model.catalogue) == N_GENRES * PER_GENRE + 1
    assert sum(score for _, score in everything) == pytest.approx(1.0, abs=1e-6)
    scores = model.scores("u3")
    position = {name: i for i, name in enumerate(model.catalogue.tolist())}
    for name, score in model.recommend(user_id="u3", n=5):
        assert score == pytest.approx(scores[position[name]], rel=1e-9)
    values = [score for _, score in everything]
    assert values == sorted(values, reverse=True)


def test_exclude_skips_items_without_renormalising(model: UserPersonalization) -> None:
    full = model.recommend(user_id="u0", n=5)
    skipped = model.recommend(user_id="u0", n=4, exclude=[full[0][0]])
    assert skipped == full[1:]


def test_exploration_mixes_in_new_items_only_when_asked(model: UserPersonalization) -> None:
    assert top(model.recommend(user_id="u1", n=10)).count("fresh") == 0
    explored = model.recommend(user_id="u1", n=10, exploration_weight=0.3, exploration_item_age_cut_off=30)
    assert "fresh" in top(explored)
    everything = model.recommend(user_id="u1", n=len(model.catalogue), exploration_weight=0.3)
    assert sum(score for _, score in everything) == pytest.approx(1.0, abs=1e-6)
    # the item is a day old: a cut-off below a day leaves nothing to explore
    assert "fresh" not in top(
        model.recommend(user_id="u1", n=10, exploration_weight=0.3, exploration_item_age_cut_off=0.5)
    )
    assert model.catalogue[model.exploration_candidates(30)].tolist() == ["fresh"]


def test_exploration_arguments_are_checked(model: UserPersonalization) -> None:
    with pytest.raises(RecipeInputError, match="exploration_weight must be in \\[0, 1\\], not 1.5"):
        model.recommend(user_id="u1", exploration_weight=1.5)


def test_update_adds_new_items_without_retraining(
    model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions, items, users = data
    new_items = pd.concat(
        [
            items,
            pd.DataFrame({"ITEM_ID": ["brand-new"], "GENRES": ["G2"], "CREATION_TIMESTAMP": [LATEST + DAY]}),
        ]
    )
    later = pd.DataFrame(
        {"USER_ID": ["u9", "late-user"], "ITEM_ID": ["g1i0", "g3i3"], "TIMESTAMP": [LATEST + 2 * DAY] * 2}
    )
    updated = model.update(pd.concat([interactions, later]), new_items, users)
    assert "brand-new" not in model.catalogue
    assert "brand-new" in updated.catalogue
    np.testing.assert_array_equal(updated._arrays["gru_recurrent"], model._arrays["gru_recurrent"])
    # the new item is recommendable: exploration brings it up for a user of its genre
    recent = events("g2i1", "g2i6")
    assert "brand-new" in top(updated.recommend(user_id="u2", recent_events=recent, n=10, exploration_weight=0.3))
    assert "brand-new" in top(updated.recommend(user_id="u2", n=len(updated.catalogue)))
    # the histories follow the new interactions: u9 just watched g1i0, as if it had sent that event
    assert top(updated.recommend(user_id="u9")) != top(model.recommend(user_id="u9"))
    as_event = top(model.recommend(user_id="u9", n=len(model.catalogue), recent_events=later[:1]))
    assert [
        name for name in top(updated.recommend(user_id="u9", n=len(updated.catalogue))) if name != "brand-new"
    ] == as_event
    assert top(updated.recommend(user_id="late-user"), 1) == ["g3i4"]


def test_save_and_load_give_identical_recommendations_without_tensorflow(
    model: UserPersonalization, tmp_path: Path
) -> None:
    model.save(tmp_path / "model")
    assert json.loads((tmp_path / "model" / "model.json").read_text())["recipe"] == "aws-user-personalization"
    loaded = UserPersonalization.load(tmp_path / "model")
    recent = events("g1i2")
    assert loaded.recommend(user_id="u4", recent_events=recent) == model.recommend(user_id="u4", recent_events=recent)
    script = (
        "import json, sys\n"
        "import pandas as pd\n"
        "from personalize_kit.recipes.user_personalization import UserPersonalization\n"
        f"m = UserPersonalization.load({str(tmp_path / 'model')!r})\n"
        "recent = pd.DataFrame({'USER_ID': ['x'], 'ITEM_ID': ['g1i2'], 'TIMESTAMP': [%d]})\n"
        "out = m.recommend(user_id='u4', recent_events=recent)\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules, 'out': out}))\n"
    ) % (LATEST + 1000)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    result = json.loads(done.stdout)
    assert result["tf"] is False and result["keras"] is False
    assert [tuple(pair) for pair in result["out"]] == model.recommend(user_id="u4", recent_events=recent)


def test_a_model_saved_in_an_older_format_asks_for_retraining(model: UserPersonalization, tmp_path: Path) -> None:
    directory = model.save(tmp_path / "old")
    settings = json.loads((directory / "model.json").read_text())
    (directory / "model.json").write_text(json.dumps({**settings, "format": 1}))
    with pytest.raises(RecipeInputError, match="model format 1 is not readable.*train the solution version again"):
        UserPersonalization.load(directory)


def test_importing_the_recipe_does_not_import_tensorflow() -> None:
    script = (
        "import sys, personalize_kit.recipes.user_personalization, personalize_kit.recipes.personalized_ranking\n"
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "False"


def test_numpy_gru_matches_keras(model: UserPersonalization) -> None:
    import keras

    rng = np.random.default_rng(1)
    layer = keras.layers.GRU(5, return_sequences=False)
    x = rng.normal(size=(3, 4, 6)).astype(np.float32)
    h0 = rng.normal(size=(3, 5)).astype(np.float32)
    expected = np.asarray(layer(x, initial_state=h0))
    kernel, recurrent, bias = (np.asarray(w) for w in layer.get_weights())
    bias = rng.normal(size=bias.shape).astype(np.float32)
    layer.set_weights([kernel, recurrent, bias])
    expected = np.asarray(layer(x, initial_state=h0))
    got = gru_run(x @ kernel + bias[0], h0, recurrent, bias[1])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_training_is_deterministic(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    interactions, items, users = data
    small = interactions[interactions["USER_ID"].isin([f"u{u}" for u in range(30)])]
    first = UserPersonalization(max_epochs=2).fit(small, items, users, HYPERPARAMETERS)
    second = UserPersonalization(max_epochs=2).fit(small, items, users, HYPERPARAMETERS)
    assert first.recommend(user_id="u1", n=len(first.catalogue)) == second.recommend(
        user_id="u1", n=len(second.catalogue)
    )


def test_windows_cut_histories_from_the_newest_end() -> None:
    # user 0 watches items 0..5, user 1 items 6, 7; windows of bptt=2 inputs, cut from the newest end
    users = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    items = np.arange(8, dtype=np.int32)
    hp = {
        "bptt": 2,
        "recency_mask": False,
        "min_user_history_length_percentile": 0.0,
        "max_user_history_length_percentile": 1.0,
    }
    w = windows(users, items, np.arange(8, dtype=np.int64), 2, hp)
    # inputs are item code + 1 (0 = padding), targets the next item's code
    assert w["inputs"].tolist() == [[1, 0], [2, 3], [4, 5], [7, 0]]
    assert w["targets"].tolist() == [[1, 0], [2, 3], [4, 5], [7, 0]]
    assert w["weights"].tolist() == [[1, 0], [1, 1], [1, 1], [1, 0]]
    assert w["users"].tolist() == [0, 0, 0, 1]
    assert w["newest"].tolist() == [False, False, True, True]
    # the events before each window (item code + 1), right-aligned: the profile reads them with the window
    assert [row[row > 0].tolist() for row in w["context"]] == [[], [1], [1, 2, 3], []]


def test_history_length_percentiles_leave_users_out() -> None:
    users = np.repeat([0, 1, 2], [2, 3, 10])
    items = np.arange(15, dtype=np.int32) % 7
    hp = {
        "bptt": 32,
        "recency_mask": True,
        "min_user_history_length_percentile": 0.0,
        "max_user_history_length_percentile": 0.5,
    }
    w = windows(users, items, np.arange(15, dtype=np.int64), 3, hp)
    assert w["users"].tolist() == [0, 1]  # the user with 10 events is above the median length
    weights = w["weights"][w["weights"] > 0]
    assert weights.min() >= 0.5 and weights.max() <= 1.0 and len(set(weights.tolist())) == weights.size


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"hidden_dimension": "512"}, "hidden_dimension must be an integer in [32, 256], not 512"),
        ({"hidden_dimension": "12.5"}, "hidden_dimension must be an integer in [32, 256], not 12.5"),
        ({"bptt": "1"}, "bptt must be an integer in [2, 32], not 1"),
        ({"recency_mask": "maybe"}, "recency_mask must be one of true, false, not maybe"),
        (
            {"max_user_history_length_percentile": "1.5"},
            "max_user_history_length_percentile must be a number in [0.0, 1.0], not 1.5",
        ),
        (
            {"min_user_history_length_percentile": "0.9", "max_user_history_length_percentile": "0.5"},
            "min_user_history_length_percentile (0.9) must be less than max_user_history_length_percentile (0.5)",
        ),
        (
            {"learning_rate": "0.1"},
            "learning_rate is not a hyperparameter of aws-user-personalization; it takes bptt, hidden_dimension, "
            "max_user_history_length_percentile, min_user_history_length_percentile, recency_mask",
        ),
    ],
)
def test_hyperparameters_out_of_range_are_refused(hyperparameters: dict[str, str], message: str) -> None:
    assert UserPersonalization.check_hyperparameters(hyperparameters) == [message]
    with pytest.raises(RecipeInputError) as err:
        UserPersonalization().fit(planted_data(n_users=4, length=3)[0], hyperparameters=hyperparameters)
    assert message in str(err.value)


def test_valid_hyperparameters_pass() -> None:
    assert (
        UserPersonalization.check_hyperparameters({"hidden_dimension": "256", "bptt": "2", "recency_mask": "FALSE"})
        == []
    )
    assert UserPersonalization.hyperparameter_ranges["bptt"] == ("integer", 2, 32)
    assert check_hyperparameters(UserPersonalization.hyperparameter_ranges, {}, None, recipe="r") == []
    assert UserPersonalization.default_hyperparameters["hidden_dimension"] == "149"


@pytest.mark.parametrize("by_rows", [False, True], ids=["dense-steps", "steps-by-item-rows"])
def test_large_catalogues_train_with_a_sampled_softmax(
    data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch, by_rows: bool
) -> None:
    from personalize_kit.recipes.sequence import sampled as softmax

    monkeypatch.setattr(softmax, "FULL_SOFTMAX_ITEMS", 30)
    monkeypatch.setattr(softmax, "NEGATIVES", 24)
    if by_rows:  # the step computes and updates only the item rows it reads (lazy Adam)
        monkeypatch.setattr(softmax, "ROW_STEP_ITEMS", 30)
    interactions, items, users = data
    sampled = UserPersonalization(max_epochs=40, learning_rate=1e-2, batch_size=16).fit(
        interactions, items, users, HYPERPARAMETERS
    )
    assert {entry["negatives"] for entry in sampled.training_log} == {24}
    assert top(sampled.recommend(user_id="new-user", recent_events=events("g0i0")), 1) == ["g0i1"]
    assert top(sampled.recommend(user_id="new-user", recent_events=events("g2i4", "g2i5")), 1) == ["g2i6"]


def test_the_default_training_budget_grows_with_the_data() -> None:
    from personalize_kit.recipes.sequence import training_budget

    assert training_budget(10_000) == 30.0
    assert training_budget(1_000_000) == 80.0
    assert training_budget(50_000_000) == 900.0


def test_the_model_learns_that_users_do_not_come_back_to_what_they_just_saw() -> None:
    # every user watches 8 of 12 items in random order, never twice
    rng = np.random.default_rng(5)
    rows = [
        (f"v{u}", f"m{k}", 1000 * u + step)
        for u in range(200)
        for step, k in enumerate(rng.choice(12, size=8, replace=False).tolist())
    ]
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    model = UserPersonalization(max_epochs=30, learning_rate=1e-2, batch_size=8).fit(
        interactions, None, None, HYPERPARAMETERS
    )
    assert model._repeat < 0.0
    watched = {"m1", "m4", "m7", "m9"}
    recent = pd.DataFrame({"ITEM_ID": sorted(watched), "TIMESTAMP": [1, 2, 3, 4]})
    assert set(top(model.recommend(user_id="someone", recent_events=recent, n=12))[-4:]) == watched


def test_taste_older_than_the_bptt_window_still_counts() -> None:
    # each user watches 20 items of a home genre, then 8 of other genres (as many as bptt), then goes
    # home again: only the events before the GRU's window say where home is
    rng = np.random.default_rng(11)
    per_genre, rows = 30, []
    for u in range(240):
        home = u % N_GENRES
        own = rng.permutation(per_genre)
        others = [g for g in range(N_GENRES) if g != home]
        trip = [item(int(rng.choice(others)), int(k)) for k in rng.choice(per_genre, size=8, replace=False)]
        history = [item(home, int(k)) for k in own[:20]] + trip + [item(home, int(k)) for k in own[20:24]]
        rows += [(f"w{u}", name, 1000 * u + step) for step, name in enumerate(history)]
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    model = UserPersonalization(max_epochs=30, learning_rate=1e-2, batch_size=16).fit(
        interactions, None, None, HYPERPARAMETERS
    )
    home = [item(1, k) for k in range(20)]
    trip = [item(0, 3), item(2, 5), item(3, 7), item(0, 9), item(2, 11), item(3, 13), item(0, 15), item(2, 17)]
    recent = pd.DataFrame({"ITEM_ID": home + trip, "TIMESTAMP": range(28)})
    assert all(name.startswith("g1") for name in top(model.recommend(user_id="newcomer", recent_events=recent), 3))
    assert model.recommend(user_id="newcomer", recent_events=recent.tail(8)) != model.recommend(
        user_id="newcomer", recent_events=recent
    )
