"""Recipe configs: overrides, YAML round trips, partial YAML, and clear ConfigErrors."""

import dataclasses

import pytest
import yaml

from tfllmrec.errors import ConfigError, TfllmrecError
from tfllmrec.recipes import (
    DataConfig, EvalConfig, ModelConfig, RecipeConfig, TrainConfig, from_dict, get_recipe,
    merge_yaml, recipe_names, to_dict, to_yaml, with_overrides,
)


@pytest.fixture(scope="module")
def video():
    return get_recipe("video")


def test_video_is_registered(video):
    assert "video" in recipe_names()
    assert isinstance(video, RecipeConfig) and video.name == "video"
    assert video.model.loss == "full_softmax" and video.data.dataset == "movielens-100k"
    assert get_recipe("video") is video


def test_overrides_set_values_and_keep_the_rest(video):
    config = with_overrides(video, ["data.split_seed=7", "train.epochs=3", "model.temperature=0.1"])
    assert config.data.split_seed == 7
    assert config.train.epochs == 3
    assert config.model.temperature == 0.1 and isinstance(config.model.temperature, float)
    # Everything else is video's, and video itself is unchanged (frozen, copied).
    expected = dataclasses.replace(
        video,
        data=dataclasses.replace(video.data, split_seed=7),
        train=dataclasses.replace(video.train, epochs=3),
        model=dataclasses.replace(video.model, temperature=0.1),
    )
    assert config == expected
    assert video.train.epochs == 60 and video.data.split_seed == 2020
    assert config.baseline_train.epochs == 60  # only `train`, not the baseline's schedule


def test_override_values_are_parsed_as_yaml(video):
    config = with_overrides(video, [
        "eval.ks=[1, 5]", "eval.monitor=ndcg@5", "model.use_text=false", "data.columns={user_id: customer, item_id: sku}",
        "data.text_fields=[title, body]", "model.temperature=1", "train.learning_rate=0.01",
        "description=two words",
    ])
    assert config.eval.ks == (1, 5)
    assert config.model.use_text is False
    assert config.data.columns == {"user_id": "customer", "item_id": "sku"}
    assert config.data.text_fields == ("title", "body")
    assert config.model.temperature == 1.0 and isinstance(config.model.temperature, float)
    assert config.train.learning_rate == 0.01
    assert config.description == "two words"


@pytest.mark.parametrize("text", ["1e-2", "1E-2", "1.0e-2"])
def test_exponent_floats_are_accepted(video, tmp_path, text):
    """`--set train.learning_rate=1e-2` is how people write learning rates; PyYAML
    (YAML 1.1) reads `1e-2` without a dot as a string."""
    config = with_overrides(video, [f"train.learning_rate={text}"])
    assert config.train.learning_rate == 0.01
    path = tmp_path / "lr.yaml"
    path.write_text(f"name: video\ntrain: {{learning_rate: {text}}}\n")
    assert get_recipe(str(path)).train.learning_rate == 0.01


def test_later_override_wins(video):
    config = with_overrides(video, ["train.epochs=3", "train.epochs=5"])
    assert config.train.epochs == 5


def test_unknown_key_lists_the_valid_keys(video):
    with pytest.raises(ConfigError) as info:
        with_overrides(video, ["model.temprature=1"])
    message = str(info.value)
    assert "model.temprature" in message
    for field in dataclasses.fields(ModelConfig):
        assert field.name in message, field.name
    assert isinstance(info.value, TfllmrecError)


def test_unknown_key_in_from_dict_lists_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        from_dict(RecipeConfig, {"train": {"epoch": 3}})
    message = str(info.value)
    assert "train.epoch" in message
    for field in dataclasses.fields(TrainConfig):
        assert field.name in message, field.name


@pytest.mark.parametrize(
    "override,key",
    [
        ("train.epochs=abc", "train.epochs"),
        ("train.epochs=2.5", "train.epochs"),
        ("train.epochs=true", "train.epochs"),
        ("model.use_text=3", "model.use_text"),
        ("model.temperature=cold", "model.temperature"),
        ("eval.ks=5", "eval.ks"),
        ("data.columns=[a, b]", "data.columns"),
        ("name=[a]", "name"),
    ],
)
def test_wrong_type_names_the_key(video, override, key):
    with pytest.raises(ConfigError, match=rf"(^|\W){key}\b"):
        with_overrides(video, [override])


def test_unknown_section_lists_the_sections(video):
    with pytest.raises(ConfigError) as info:
        with_overrides(video, ["modle.temperature=0.1"])
    message = str(info.value)
    assert "'modle'" in message and "not a config section" in message
    for section in ("data", "model", "train", "eval", "baseline_model", "baseline_train"):
        assert section in message, section


def test_scalar_is_not_a_section(video):
    with pytest.raises(ConfigError, match="'name' is not a config section"):
        with_overrides(video, ["name.first=x"])


@pytest.mark.parametrize("override", ["train.epochs", "train.epochs 3", ""])
def test_override_without_equals_is_rejected(video, override):
    with pytest.raises(ConfigError, match="key.path=value"):
        with_overrides(video, [override])


def test_override_with_unparseable_value(video):
    with pytest.raises(ConfigError, match="cannot parse"):
        with_overrides(video, ["eval.ks=[1, 2"])


# ----------------------------------------------------------------------------- YAML


def test_yaml_round_trip_through_get_recipe(video, tmp_path):
    config = with_overrides(video, [
        "train.epochs=3", "data.columns={user_id: u}", "data.text_fields=[title]", "eval.ks=[10]",
    ])
    path = tmp_path / "recipe.yaml"
    path.write_text(to_yaml(config))
    assert yaml.safe_load(path.read_text()) == to_dict(config)
    loaded = get_recipe(str(path))
    assert loaded == config
    assert loaded.eval.ks == (10,) and isinstance(loaded.eval.ks, tuple)
    # A folder holding config.yaml works too.
    (tmp_path / "config.yaml").write_text(to_yaml(config))
    assert get_recipe(str(tmp_path)) == config


def test_yaml_round_trip_of_an_unregistered_recipe(tmp_path):
    config = RecipeConfig(
        name="mine", description="custom",
        data=DataConfig(dataset="tabular", interactions="a.csv", items="b.csv",
                        text_fields=("title",), split="leave_one_out", cold_start_fraction=0.0),
        model=ModelConfig(encoder="tiny-random", use_text=True, history_pooling="shared"),
        train=TrainConfig(epochs=2, patience=0),
        eval=EvalConfig(ks=(5,), monitor="recall@5", baselines=("popularity",)),
    )
    path = tmp_path / "mine.yaml"
    path.write_text(to_yaml(config))
    assert get_recipe(str(path)) == config
    assert merge_yaml(RecipeConfig(), path) == config


def test_partial_yaml_starts_from_the_named_recipe(video, tmp_path):
    path = tmp_path / "short.yml"
    path.write_text("name: video\ntrain: {epochs: 2}\nmodel:\n  temperature: 0.5\n")
    loaded = get_recipe(str(path))
    expected = dataclasses.replace(
        video,
        train=dataclasses.replace(video.train, epochs=2),
        model=dataclasses.replace(video.model, temperature=0.5),
    )
    assert loaded == expected
    assert loaded.train.batch_size == video.train.batch_size
    assert loaded.model.loss == video.model.loss == "full_softmax"
    assert loaded.baseline_train.epochs == 60


def test_partial_yaml_without_a_known_name_starts_from_the_defaults(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("name: other\ntrain: {epochs: 2}\n")
    loaded = get_recipe(str(path))
    assert loaded == RecipeConfig(name="other", train=TrainConfig(epochs=2))


def test_yaml_with_an_unknown_key_is_a_config_error(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("name: video\nmodel: {temprature: 0.5}\n")
    with pytest.raises(ConfigError, match="model.temprature"):
        get_recipe(str(path))


@pytest.mark.parametrize(
    "text", ["name: video\ntrain: {epochs: 2\n", "- video\n- train\n"],
    ids=["malformed", "not-a-mapping"],
)
def test_unreadable_yaml_recipe_is_a_config_error(tmp_path, text):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="broken.yaml"):
        get_recipe(str(path))


def test_unknown_recipe_lists_the_registered_names(tmp_path):
    with pytest.raises(ConfigError) as info:
        get_recipe("vidoe")
    message = str(info.value)
    assert "'vidoe'" in message
    for name in recipe_names():
        assert name in message
    with pytest.raises(ConfigError, match="Registered recipes: .*video"):
        get_recipe(str(tmp_path / "missing.yaml"))


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "override,pattern",
    [
        ("data.split=bogus", "split='bogus'"),
        ("data.cold_start_fraction=1.0", "cold_start_fraction"),
        ("data.cold_start_fraction=-0.1", "cold_start_fraction"),
        ("model.id_dropout=1.5", "id_dropout"),
        ("model.id_dropout=-0.5", "id_dropout"),
        ("model.trainable=top:two", "trainable='top:two' is not a mode"),
        ("train.epochs=0", "epochs"),
        ("baseline_train.batch_size=0", "batch_size"),
        ("train.learning_rate=0", "learning_rate"),
        ("eval.baselines=[popularity, bpr]", "bpr"),
        ("model.period_days=-1", "period_days must be >= 0"),
    ],
)
def test_post_init_validation_is_a_config_error(video, override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        with_overrides(video, [override])


def test_time_periods_are_refused_for_the_news_runner(video):
    with pytest.raises(ConfigError, match="period_days.*impressions"):
        with_overrides(video, ["data.split=impressions", "model.period_days=30"])


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        (["model.loss=sampled"], "loss"),
        (["model.history_pooling=mean"], "history_pooling"),
        (["model.temperature=0"], "temperature"),
        (["model.history_pooling=text", "model.use_text=false"], "history_pooling"),
        (["eval.monitor=ndcg@50"], "monitor"),
    ],
    ids=["loss", "history_pooling", "temperature", "text-history-without-text", "monitor"],
)
def test_values_the_model_or_trainer_rejects_fail_at_config_time(video, overrides, pattern):
    """A value that `TwoTowerRetrieval` / `RankingValidation` would reject with a
    plain ValueError (a traceback from the CLI, after loading data and encoding
    text) must be a ConfigError when the config is built."""
    with pytest.raises(ConfigError, match=pattern):
        with_overrides(video, overrides)


def test_dataclasses_are_frozen(video):
    with pytest.raises(dataclasses.FrozenInstanceError):
        video.train.epochs = 1
