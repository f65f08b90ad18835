"""User profiles in the rating stage: a users file's text on the user side, so a new user is scored."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_recipe_overrides
from test_rating_stage import RATED, write_rated_dataset
from tfllmrec.data import load_tabular
from tfllmrec.errors import ConfigError, DataError
from tfllmrec.models import TextRanking
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe

GROUPS = ["running shoe", "chef knife", "jazz record", "garden hose"]
PROFILED = RATED + ["ranking.user_profile=true", "data.user_fields=[hobby, city]", "ranking.held_out_users=0.25"]


def write_profiles(folder, num_users=40):
    """Each user's profile names the group of items they rate high (u % 4), as the items' titles do."""
    rows = ["customer,hobby,city"] + [f"u{u},loves {GROUPS[u % 4]}s,{'' if u % 3 else 'Oslo'}"
                                      for u in range(num_users)]
    (folder / "users.csv").write_text("\n".join(rows) + "\n")
    return folder / "users.csv"


def profiled_overrides(folder):
    return tiny_recipe_overrides(folder) + PROFILED + [f"data.users={folder / 'users.csv'}"]


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory):
    folder = write_rated_dataset(tmp_path_factory.mktemp("profiled"))
    write_profiles(folder)
    run_dir = tmp_path_factory.mktemp("runs") / "profiled"
    metrics = train_recipe(with_overrides(get_recipe("video"), profiled_overrides(folder)), run_dir, verbose=0)
    return run_dir, metrics


def test_a_users_file_gives_each_user_a_profile_text(tmp_path):
    folder = write_rated_dataset(tmp_path)
    users = load_tabular(folder / "interactions.csv", folder / "items.csv", {"user_id": "customer", "item_id": "sku"},
                         ["title"], users_path=write_profiles(folder), user_fields=["hobby", "city"]).users
    assert users.texts(["u0", "u1", "stranger"]).tolist() == ["loves running shoes. Oslo", "loves chef knifes", ""]


def test_a_new_user_is_scored_better_from_their_profile_than_from_nothing(profiled_run):
    _, metrics = profiled_run
    new = metrics["ranking"]["test_new_users"]
    # 10 of the 40 users (ranking.held_out_users 0.25) left out of a second model's training; their
    # test ratings scored from the profile, which names the group they rate 4-5
    # (seen: 0.96 with it, 1.17 without, 0.95 for the known users).
    assert new["users"] == 10 and new["ratings"] > 0
    assert new["profile"]["rmse"] < new["no_profile"]["rmse"] - 0.12
    assert metrics["ranking"]["test"]["rmse"] < new["profile"]["rmse"]


def test_the_new_user_split_keeps_held_users_out_of_training():
    from tfllmrec.tasks.new_users import split_for_new_users

    class Index:
        pass

    index = Index()
    for part, users in (("train", [0, 1, 2, 1]), ("valid", [2, 0]), ("test", [0, 1, 2])):
        for field in ("users", "items", "times", "weights"):
            setattr(index, f"{part}_{field}", np.asarray(users) * (10 if field == "items" else 1))
    view = split_for_new_users(index, np.array([False, True, False]))
    # User 1 is held out: gone from training and validation, the only one left in test.
    assert view.train_users.tolist() == [0, 2] and view.train_items.tolist() == [0, 20]
    assert view.valid_users.tolist() == [2, 0] and view.test_users.tolist() == [1]
    assert index.train_users.tolist() == [0, 1, 2, 1]  # the original is untouched


def test_the_restored_ranker_and_the_export_read_the_stored_profiles(profiled_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(profiled_run[0])
    ranker = run.ranker
    assert ranker.user_text_dim == ranker.user_profiles.shape[1]
    stored = ranker.user_profiles.numpy()
    empty = [i for i, user in enumerate(run.user_ids) if user not in {f"u{u}" for u in range(40)}]
    assert not empty and np.abs(stored).sum(1).min() > 0  # every user has a profile
    items = [["i0", "i1", "i2"], ["i3", "i3", "i0"]]
    position = {item: i for i, item in enumerate(run.item_ids)}
    indices = tf.constant([[position[i] for i in row] for row in items])
    user = int(np.flatnonzero(run.user_ids == "u0")[0])
    expected = ranker.score_candidates(tf.constant([user, -1]), indices).numpy()
    # The stored profile is the one read: given explicitly, the scores are the same.
    given = ranker.score_candidates(tf.constant([user, -1]), indices,
                                    profiles=tf.constant(stored[[user, user]] * [[1.0], [0.0]])).numpy()
    np.testing.assert_allclose(given, expected, atol=1e-5)
    loaded = tf.saved_model.load(export_run(str(profiled_run[0]), str(tmp_path / "export"), retrieval_only=True))
    scores = loaded.signatures["rank"](user_id=tf.constant(["u0", "nobody"]), item_ids=tf.constant(items))["scores"]
    np.testing.assert_allclose(scores.numpy(), expected, atol=1e-5)


def test_the_rating_summary_shows_the_new_user_rows(profiled_run):
    from tfllmrec.tasks import RetrievalTask

    lines = RetrievalTask.summary_lines(profiled_run[1], (5, 10, 20))
    assert any(line.startswith("new user, profile") for line in lines)
    assert any(line.startswith("new user, none") for line in lines)


def test_a_profile_moves_an_unknown_users_score_and_the_config_round_trips():
    model = TextRanking(num_users=3, num_items=4, embedding_dim=4, text_dim=None, user_text_dim=5)
    clone = TextRanking.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.get_config()["user_text_dim"] == 5
    model.profile_units.build((None, 5))
    model.profile_units.kernel.assign(tf.ones((5, 4)))
    model.item_tower.set_known_items(np.ones(4, bool))
    candidates = tf.constant([[0, 1]])
    none = model.score_candidates(tf.constant([-1]), candidates).numpy()
    with_profile = model.score_candidates(tf.constant([-1]), candidates, profiles=tf.ones((1, 5))).numpy()
    assert not np.allclose(none, with_profile)


def test_profiles_asked_of_data_without_them_fail_before_anything_is_written(tmp_path):
    (tmp_path / "data").mkdir()
    folder = write_rated_dataset(tmp_path / "data")
    config = with_overrides(get_recipe("video"), tiny_recipe_overrides(folder) + RATED + ["ranking.user_profile=true"])
    with pytest.raises(DataError, match="has no users file.*ranking.user_profile=false"):
        train_recipe(config, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_users_file_matching_no_user_fails_before_anything_is_written(tmp_path):
    (tmp_path / "data").mkdir()
    folder = write_rated_dataset(tmp_path / "data")
    write_profiles(folder)
    (folder / "users.csv").write_text((folder / "users.csv").read_text().replace(",loves", "x,loves"))
    with pytest.raises(DataError, match=r"users.csv: none of its user ids is a user.*'u0x'"):
        train_recipe(with_overrides(get_recipe("video"), profiled_overrides(folder)), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_bad_profile_settings_name_their_key_and_file(tmp_path):
    with pytest.raises(ConfigError, match="data.users is set and data.user_fields is not"):
        with_overrides(get_recipe("video"), ["data.dataset=tabular", "data.users=users.csv"])
    with pytest.raises(ConfigError, match="data.users and data.user_fields name your own users file"):
        with_overrides(get_recipe("video"), ["data.users=users.csv", "data.user_fields=[age]"])
    folder = write_rated_dataset(tmp_path)
    write_profiles(folder)
    with pytest.raises(DataError, match=r"users.csv, line 1: there is no column 'town' \(user_fields\[1\]\)"):
        load_tabular(folder / "interactions.csv", folder / "items.csv", {"user_id": "customer", "item_id": "sku"},
                     ["title"], users_path=folder / "users.csv", user_fields=["hobby", "town"])


def test_a_new_user_gets_items_of_the_group_their_profile_names(profiled_run, capsys):
    from tfllmrec.cli import main
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(profiled_run[0])
    # Known users' profiles are as write_profiles wrote them; a new "loves jazz records" user
    # (group 2) is scored from that text alone.
    top = run.recommend_for_profile("loves jazz records", k=5)
    assert len(top) == 5 and [s for _, _, s in top] == sorted((s for _, _, s in top), reverse=True)
    assert sum(int(item[1:]) % 4 == 2 for item, _, _ in top) >= 4
    assert main(["recommend", str(profiled_run[0]), "--profile", "loves jazz records", "-k", "5"]) == 0
    printed = capsys.readouterr().out
    assert "for a new user, 'loves jazz records'" in printed and f"[{top[0][0]}]" in printed
    with pytest.raises(ConfigError, match="profile '  ' is empty"):
        run.recommend_for_profile("  ")
    run.add_items(["brand new"], ["a jazz record"])
    with pytest.raises(ConfigError, match="knows the training catalogue only"):
        run.recommend_for_profile("loves jazz records")


def test_a_run_without_profiles_says_how_to_get_them(tmp_path):
    from tfllmrec.recipes.trained_run import TrainedRun

    (tmp_path / "data").mkdir()
    folder = write_rated_dataset(tmp_path / "data")
    config = with_overrides(get_recipe("video"), tiny_recipe_overrides(folder) + RATED + ["ranking.train.epochs=1"])
    train_recipe(config, tmp_path / "run", verbose=0)
    with pytest.raises(ConfigError, match="reads no user profiles.*ranking.user_profile=true"):
        TrainedRun(tmp_path / "run").recommend_for_profile("loves jazz records")


def test_init_from_video_on_rated_files_trains_a_rating_stage_without_profiles(tmp_path):
    from tfllmrec.recipes.init_recipe import init_recipe

    folder = write_rated_dataset(tmp_path)
    config, _ = init_recipe(tmp_path / "mine", "video", folder / "interactions.csv", folder / "items.csv")
    assert get_recipe("video").ranking.user_profile  # the recipe reads MovieLens' users file
    # init is given no users file: the rating stage stays, without profiles (data.users adds them).
    assert config.ranking.enabled and not config.ranking.user_profile


@pytest.mark.parametrize("key,value,held", [("ranking.held_out_users", "0.01", 0),
                                            ("sequence.held_out_users", "0.99", 40)])
def test_a_held_out_share_with_no_user_or_every_user_fails_before_anything_is_written(tmp_path, key, value, held):
    (tmp_path / "data").mkdir()
    folder = write_rated_dataset(tmp_path / "data")
    write_profiles(folder)
    overrides = profiled_overrides(folder) + [f"{key}={value}"]
    if key.startswith("sequence"):
        overrides += ["data.split=leave_one_out", "eval.baselines=[sasrec_id]"]
    with pytest.raises(ConfigError, match=rf"{key}={value} of the 40 users holds out {held}.*Fix: e.g. "
                                          rf"`--set {key}=0.1`"):
        train_recipe(with_overrides(get_recipe("video"), overrides), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
