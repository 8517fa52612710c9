"""The co-occurrence term's weight is chosen on held-out targets: kept when it ranks them better, 0 when not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from planted import planted_data

from personalize_kit.recipes.sequence import cooccurrence
from personalize_kit.recipes.user_personalization import UserPersonalization

N_ITEMS = 50


def arrays_pointing_to(successor: dict[int, int]) -> dict[str, np.ndarray]:
    """Neighbour arrays in which each item's one neighbour is ``successor[item]``."""
    ptr = np.arange(N_ITEMS + 1, dtype=np.int64)
    idx = np.asarray([successor.get(i, N_ITEMS - 1) for i in range(N_ITEMS)], dtype=np.int32)
    return {"cooc_ptr": ptr, "cooc_idx": idx, "cooc_val": np.ones(N_ITEMS, dtype=np.float32)}


def held_out(n_users: int) -> cooccurrence.Validation:
    rng = np.random.default_rng(0)
    inputs = [rng.choice(N_ITEMS - 5, size=3, replace=False) for _ in range(n_users)]  # never the last item
    targets = np.asarray([codes[-1] + 1 for codes in inputs])  # the target follows the newest input item
    return cooccurrence.Validation(inputs, targets, np.ones(0, dtype=bool))


def flat(codes: np.ndarray) -> np.ndarray:  # a base model that knows nothing: every item scores alike
    return np.zeros(N_ITEMS, dtype=np.float32)


def test_a_term_that_names_the_targets_gets_a_weight() -> None:
    informative = arrays_pointing_to({i: i + 1 for i in range(N_ITEMS - 1)})
    assert cooccurrence.choose(flat, informative, held_out(40), N_ITEMS, 0.8) > 0


def test_a_term_that_misleads_gets_none() -> None:
    misleading = arrays_pointing_to({})  # every item points to the last item, which is never a target
    assert cooccurrence.choose(flat, misleading, held_out(40), N_ITEMS, 0.8) == 0.0


def test_too_few_held_out_users_choose_nothing() -> None:
    informative = arrays_pointing_to({i: i + 1 for i in range(N_ITEMS - 1)})
    assert cooccurrence.choose(flat, informative, held_out(5), N_ITEMS, 0.8) == 0.0


def test_the_held_out_targets_are_each_users_newest_event_and_not_in_the_neighbours() -> None:
    users = np.asarray([0, 0, 0, 1, 1, 2])  # sorted by user, then time
    items = np.asarray([5, 6, 7, 8, 9, 4])
    held = cooccurrence.validation(users, items, np.asarray([0, 1, 2]), length=100)
    assert held.targets.tolist() == [7, 9]  # user 2 has no input before its one event
    assert [codes.tolist() for codes in held.inputs] == [[5, 6], [8]]
    assert held.kept.tolist() == [True, True, False, True, False, True]


def test_a_fitted_model_keeps_its_chosen_weight_and_zero_leaves_the_term_out() -> None:
    interactions, items, users = planted_data()
    options = {"hidden_dimension": "32", "bptt": "8"}
    chosen = UserPersonalization(max_epochs=6, batch_size=16).fit(interactions, items, users, options)
    term = chosen._settings["cooccurrence"]
    assert term is None or term["weight"] in cooccurrence.WEIGHTS[1:]
    assert (term is None) == ("cooc_ptr" not in chosen._arrays)
    off = UserPersonalization(max_epochs=6, batch_size=16, cooccurrence_weight=0).fit(
        interactions, items, users, options
    )
    assert off._settings["cooccurrence"] is None and "cooc_ptr" not in off._arrays
    fixed = UserPersonalization(max_epochs=6, batch_size=16, cooccurrence_weight=3).fit(
        interactions, items, users, options
    )
    assert fixed._settings["cooccurrence"]["weight"] == 3.0 and "cooc_ptr" in fixed._arrays
    assert isinstance(interactions, pd.DataFrame)


def test_the_kept_terms_stay_within_their_memory_bound(monkeypatch) -> None:
    from personalize_kit.recipes.sequence import model as sequence_model

    interactions, items, users = planted_data()
    fixed = UserPersonalization(max_epochs=5, batch_size=16, cooccurrence_weight=3).fit(
        interactions, items, users, {"hidden_dimension": "32", "bptt": "8"}
    )
    monkeypatch.setattr(sequence_model, "COOCCURRENCE_TERM_BYTES", 1)  # the bound's floor: 16 terms
    fixed._prepare()
    names = sorted(set(interactions["ITEM_ID"]))
    for k in range(40):
        recent = pd.DataFrame({"ITEM_ID": [names[k], names[(k + 7) % len(names)]], "TIMESTAMP": [1, 2]})
        fixed.recommend(user_id=f"visitor-{k}", recent_events=recent)
    assert 0 < len(fixed._cooc_terms) <= 16


def test_with_several_per_user_the_untrained_newest_events_are_cut_into_sets_of_a_tenth() -> None:
    users = np.repeat([0, 1, 2], [20, 3, 1])  # sorted by user, then time
    items = np.arange(24)
    held = cooccurrence.validation(users, items, np.asarray([0, 1, 2]), length=5, per_user=8)
    # user 0: its newest 8 events in sets of 2 (10% of 20), newest first; user 1: its newest 2 (of 3) one by one
    assert [codes.tolist() for codes in held.targets] == [[18, 19], [16, 17], [14, 15], [12, 13], [22], [21]]
    assert [codes.tolist() for codes in held.inputs] == [
        [13, 14, 15, 16, 17], [11, 12, 13, 14, 15], [9, 10, 11, 12, 13], [7, 8, 9, 10, 11], [20, 21], [20]
    ]  # fmt: skip
    assert np.flatnonzero(~held.kept).tolist() == [*range(12, 20), 21, 22]  # not in the neighbours
    assert held.n_users == 2  # user 2 has no input before its one event


def test_the_samples_are_bounded_and_every_user_keeps_its_newest_set(monkeypatch) -> None:
    monkeypatch.setattr(cooccurrence, "MAX_SAMPLES", 4)
    users = np.repeat([0, 1], [20, 20])
    held = cooccurrence.validation(users, np.arange(40), np.asarray([0, 1]), length=5, per_user=8)
    assert [codes.tolist() for codes in held.targets] == [[18, 19], [16, 17], [38, 39], [36, 37]]


def test_the_fewest_users_count_users_not_samples() -> None:
    informative = arrays_pointing_to({i: i + 1 for i in range(N_ITEMS - 1)})
    few = held_out(40)
    assert cooccurrence.choose(flat, informative, few, N_ITEMS, 0.8) > 0
    from_five_users = cooccurrence.Validation(few.inputs, few.targets, few.kept, users=5)
    assert cooccurrence.choose(flat, informative, from_five_users, N_ITEMS, 0.8) == 0.0


def test_a_set_target_counts_its_best_placed_item() -> None:
    informative = arrays_pointing_to({i: i + 1 for i in range(N_ITEMS - 1)})
    single = held_out(40)
    decoy = N_ITEMS - 1  # every item's neighbour is its successor: the decoy, never a successor here, ranks low
    sets = cooccurrence.Validation(single.inputs, [np.asarray([decoy, t]) for t in single.targets], single.kept)
    assert cooccurrence.choose(flat, informative, sets, N_ITEMS, 0.8) > 0


def test_beyond_the_largest_chosen_catalogue_the_term_is_left_out_unless_given(monkeypatch) -> None:
    monkeypatch.setattr(cooccurrence, "MAX_CHOSEN_ITEMS", 10)
    chosen = []
    monkeypatch.setattr(cooccurrence, "choose", lambda *args: chosen.append(args) or 4.0)
    interactions, items, users = planted_data()
    options = {"hidden_dimension": "32", "bptt": "8"}
    left_out = UserPersonalization(max_epochs=1, batch_size=16).fit(interactions, items, users, options)
    assert left_out._settings["cooccurrence"] is None and "cooc_ptr" not in left_out._arrays and not chosen
    given = UserPersonalization(max_epochs=1, batch_size=16, cooccurrence_weight=2).fit(
        interactions, items, users, options
    )
    assert given._settings["cooccurrence"]["weight"] == 2.0 and "cooc_ptr" in given._arrays
